# DAWN: dawnd (the daemon) and dawnctl (its client).
#
#   make                  build dawnd and dawnctl into build/
#   make test             install missing Debian packages (as root), build, run every test
#   make demo             the same deps, then a local broker + dawnd, an alert, and it arriving
#   make SANITIZER=address,undefined test    the same under ASan+UBSan (build-san/)
#   make fuzz             build the libFuzzer harnesses (clang) and run each briefly
#   make install PREFIX=/usr DESTDIR=...
#   make deb              build the Debian package into build/ (packaging/debian)
#
# User CFLAGS/LDFLAGS are honoured; what DAWN needs is added in FINAL_*.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
SBINDIR = $(PREFIX)/sbin
SYSCONFDIR ?= /etc
# Where systemd and the other tools look; debian/rules sets SYSTEMDUNITDIR=/lib/systemd/system,
# where Debian 12's debhelper finds units.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
MANDIR ?= $(PREFIX)/share/man
BASHCOMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

CC ?= cc
CFLAGS ?= -O2 -g
PKGS = libsystemd libmosquitto libcjson libconfig sqlite3 libpq libcrypto libssl libcurl libmicrohttpd libxml-2.0

ifneq ($(SANITIZER),)
BUILD ?= build-san
SAN_FLAGS = -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SAN_FLAGS =
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
# The daemon's subsystems, each a folder (README, "A tour"); every folder is on the
# include path, as nginx's src/* are, so a file names a header by its name alone.
DAEMON_DIRS = daemon daemon/base daemon/store daemon/intake daemon/delivery daemon/ways
FINAL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) \
               -Iinclude $(addprefix -I,$(DAEMON_DIRS)) -MMD -MP
FINAL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)

# Everything but main.c goes into one static library that tests and fuzzers link.
CORE_SRC = $(filter-out daemon/main.c,$(wildcard $(addsuffix /*.c,$(DAEMON_DIRS))))
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
# dawnctl: main() in cli/dawnctl.c, the rest in a library its unit tests link.
CLI_SRC = $(wildcard cli/*.c)
CLI_LIB_OBJ = $(filter-out $(BUILD)/cli/dawnctl.o,$(CLI_SRC:%.c=$(BUILD)/%.o))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

QUIET_CC = @printf '  CC      %s\n' $@;
QUIET_LINK = @printf '  LINK    %s\n' $@;
ifeq ($(V),1)
QUIET_CC =
QUIET_LINK =
endif

.PHONY: all deps test check unit unit-postgresql integration integration-postgresql demo fuzz install deb clean bench bench-deps format dashboard
all: $(BUILD)/dawnd $(BUILD)/dawnctl

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(FINAL_CFLAGS) -c -o $@ $<

$(BUILD)/libdawn.a: $(CORE_OBJ)
	@rm -f $@
	$(QUIET_LINK)ar rcs $@ $^

$(BUILD)/dawnd: $(BUILD)/daemon/main.o $(BUILD)/libdawn.a
	$(QUIET_LINK)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/libdawnctl.a: $(CLI_LIB_OBJ)
	@rm -f $@
	$(QUIET_LINK)ar rcs $@ $^

$(BUILD)/dawnctl: $(BUILD)/cli/dawnctl.o $(BUILD)/libdawnctl.a $(BUILD)/libdawn.a
	$(QUIET_LINK)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libdawn.a
	@mkdir -p $(dir $@)
	$(QUIET_LINK)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lm

# dawnctl's tests compile cli/dawnctl.c in (without its main) and link the rest of the client.
$(BUILD)/tests/test_dawnctl_%: $(BUILD)/tests/unit/test_dawnctl_%.o $(BUILD)/libdawnctl.a $(BUILD)/libdawn.a
	@mkdir -p $(dir $@)
	$(QUIET_LINK)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS) -lm

# Installs what the build and the tests need (as root), or says what to install.
deps:
	@scripts/deps.sh

# The README's test command: dependencies, then the whole suite.
test: deps
	@$(MAKE) --no-print-directory check

# The store's matrix (issue 15): the unit tests run on both backends in every `make test`; the
# integration suite on the one STORE names, sqlite unless told (test_nodes.sh is always on
# PostgreSQL). CI runs it twice: plain on SQLite, and under ASan+UBSan with STORE=postgresql
# (.ci/run), which leaves the store's PostgreSQL unit tests to the plain pass.
STORE ?= sqlite
check: unit $(if $(SANITIZER),,unit-postgresql) integration

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

integration: all dashboard
	@$(if $(filter postgresql,$(STORE)),scripts/deps.sh postgresql)
	@BUILD=$(BUILD) DAWN_TEST_STORE=$(STORE) tests/integration/run.sh

# The store's unit tests (those on the store fixture, tests/unit/dawn_test_store.h) on PostgreSQL:
# part of make test, the other half of the store's matrix
unit-postgresql: $(UNIT_BIN)
	@scripts/deps.sh postgresql
	@BUILD=$(BUILD) tests/pg/unit.sh

# The same suite with every dawnd on PostgreSQL (issue 15): a throwaway cluster of Debian's
# server for the run, a database per script (tests/integration/lib.sh); `make test
# STORE=postgresql` runs it with the unit tests.
integration-postgresql: all dashboard
	@scripts/deps.sh postgresql
	@BUILD=$(BUILD) DAWN_TEST_STORE=postgresql tests/integration/run.sh

# The pharmacy dashboard: the static page dawnd serves from daemon.dashboard_dir, with the MQTT.js
# browser bundle from the npm registry (versions pinned in dashboard/package-lock.json, which also
# pins playwright-core for the test). npm ci runs only when node_modules is missing or older than
# the lockfile; npm ci writes node_modules/.package-lock.json, the stamp.
DASHBOARD_FILES = index.html app.js style.css
dashboard: $(BUILD)/dashboard/mqtt.min.js $(DASHBOARD_FILES:%=$(BUILD)/dashboard/%)

dashboard/node_modules/.package-lock.json: dashboard/package.json dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund
	@touch $@

$(BUILD)/dashboard/mqtt.min.js: dashboard/node_modules/.package-lock.json
	@mkdir -p $(dir $@)
	cp dashboard/node_modules/mqtt/dist/mqtt.min.js $@

$(BUILD)/dashboard/%: dashboard/%
	@mkdir -p $(dir $@)
	cp $< $@

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) scripts/demo.sh

FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
fuzz:
	@PKGS="$(PKGS)" BUILD=build-fuzz tests/fuzz/run.sh $(FUZZ_SRC)

bench: all
	@BUILD=$(BUILD) bench/run.sh

# What bench/peer.sh (DAWN beside Prometheus Alertmanager) needs; `make test` never installs it.
bench-deps:
	@scripts/deps.sh bench

# The binaries, the systemd units, the user and directories they need, man pages, completion,
# and the example config as /etc/dawn/dawn.conf unless one is there. After a plain install
# (not the .deb): systemd-sysusers; systemd-tmpfiles --create dawn.conf;
# chgrp dawn /etc/dawn/dawn.conf; systemctl enable --now dawnd.socket dawnd.service.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/dawn \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPLETIONDIR)
	install -m 0755 $(BUILD)/dawnd $(DESTDIR)$(SBINDIR)/dawnd
	install -m 0755 $(BUILD)/dawnctl $(DESTDIR)$(BINDIR)/dawnctl
	sed 's#^ExecStart=/usr/sbin/dawnd #ExecStart=$(SBINDIR)/dawnd #' packaging/systemd/dawnd.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/dawnd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/dawnd.service
	install -m 0644 packaging/systemd/dawnd.socket $(DESTDIR)$(SYSTEMDUNITDIR)/dawnd.socket
	install -m 0644 packaging/sysusers.d/dawn.conf $(DESTDIR)$(SYSUSERSDIR)/dawn.conf
	install -m 0644 packaging/tmpfiles.d/dawn.conf $(DESTDIR)$(TMPFILESDIR)/dawn.conf
	install -m 0644 packaging/man/dawnctl.1 $(DESTDIR)$(MANDIR)/man1/dawnctl.1
	install -m 0644 packaging/man/dawn.conf.5 $(DESTDIR)$(MANDIR)/man5/dawn.conf.5
	install -m 0644 packaging/man/dawnd.8 $(DESTDIR)$(MANDIR)/man8/dawnd.8
	install -m 0644 packaging/bash-completion/dawnctl $(DESTDIR)$(BASHCOMPLETIONDIR)/dawnctl
	@# the dashboard as make dashboard built it, or as make deb brought it into the package's tree
	@set -e; for d in $(BUILD)/dashboard dashboard-dist; do \
		if [ -f "$$d/index.html" ] && [ -f "$$d/mqtt.min.js" ]; then \
			install -d $(DESTDIR)$(PREFIX)/share/dawn/dashboard; \
			install -m 0644 $(addprefix "$$d"/,$(DASHBOARD_FILES) mqtt.min.js) $(DESTDIR)$(PREFIX)/share/dawn/dashboard/; \
			echo "installed the dashboard from $$d"; break; \
		fi; \
	done
	test -e $(DESTDIR)$(SYSCONFDIR)/dawn/dawn.conf || \
		install -m 0640 conf/dawn.conf.example $(DESTDIR)$(SYSCONFDIR)/dawn/dawn.conf

# Debian wants debian/ at the top of the source: the tree (less builds and .git) is copied to a
# temporary directory with packaging/debian as debian/, and built there (not under build/, whose
# *.d files this Makefile includes). The packaging tools come from `scripts/deps.sh deb`; the
# .deb lands in build/, and lintian's findings are shown (an error fails the target).
DEB_VERSION := $(shell head -n 1 packaging/debian/changelog | cut -d'(' -f2 | cut -d')' -f1)
deb: dashboard
	@scripts/deps.sh deb
	@set -e; tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/dawn-deb.XXXXXX"); trap 'rm -rf "$$tmp"' EXIT; \
	tree="$$tmp/dawn-$(DEB_VERSION)"; mkdir -p "$$tree" build; \
	tar -cf - --exclude=./build --exclude=./build-san --exclude=./build-fuzz --exclude=./.git \
		--exclude=./dashboard/node_modules . | tar -xf - -C "$$tree"; \
	cp -r $(BUILD)/dashboard "$$tree/dashboard-dist"; \
	rm -rf "$$tree/debian"; cp -r packaging/debian "$$tree/debian"; \
	(cd "$$tree" && dpkg-buildpackage -us -uc -b); \
	rm -f build/dawn_*.deb build/dawn-dbgsym_*.deb; cp "$$tmp"/*.deb build/; \
	echo "lintian:"; lintian --info "$$tmp"/*.changes; \
	ls -l build/*.deb

format:
	clang-format -i $(addsuffix /*.[ch],$(DAEMON_DIRS)) cli/*.[ch] include/dawn/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
