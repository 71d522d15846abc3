/* libFuzzer harness: the control protocol, as dawnctl (or anyone allowed on
 * the control socket) speaks it.
 *
 * A real, minimal daemon is built once: the default sd-event loop, a config
 * (from a string, and the same text in a file for "reload"), the SQLite
 * store in a temporary directory, group commit and the outbox, with no
 * channel attached and no control socket. The loop never runs: the harness
 * calls dawn_control_handle() itself and commits at the end of each input,
 * which is what the loop's idle handler would do.
 *
 * One input is a short session: up to MAX_LINES requests, one per line, as
 * the connection code splits them. So an input can issue an alert and then
 * update, cancel or show it (ids start again at A1 whenever the store is
 * reset, see below), which one request alone never reaches.
 *
 * "reload": dawn_daemon_reload() checks the config file in a forked child
 * (libconfig can exit() on a malformed @include) and then swaps in a fresh
 * config. Rather than skipping inputs that say "reload" (a filter on the
 * bytes would miss "\u0072eload" anyway), d->ways.config_path names a valid file
 * holding the very text the daemon runs with, so a reload forks once (about
 * a millisecond), finds nothing changed (no channel to restart) and swaps in
 * an equal config: harmless, and the swap itself is fuzzed too.
 *
 * The store lives in $DAWN_FUZZ_TMPDIR (run.sh: a directory in /dev/shm),
 * else in /dev/shm when it can (fsync is cheap there: commits use
 * synchronous=FULL) and is thrown away and recreated every RESET_EVERY
 * inputs, so it stays small and "list" stays fast. A crash that needs the
 * state left by earlier inputs may then not reproduce from its one file;
 * the sessions above make that rare.
 *
 * Build and run: BUILD=build-fuzz tests/fuzz/run.sh tests/fuzz/fuzz_control.c */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "utf8_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_LINES 8
#define RESET_EVERY 2000

static struct dawn_daemon daemon_state;
static struct dawn_daemon *d = &daemon_state;
static char dir[256];
static unsigned inputs_since_reset;

static const struct dawn_peer peer = {
        .uid = 1000,
        .actor = "uid 1000 (fuzz)",
        .source = "local:fuzz",
};

static void die(const char *what, int r)
{
        fprintf(stderr, "fuzz_control: %s: %s\n", what, strerror(r < 0 ? -r : r));
        abort();
}

/* The store failed in a way dawnd would stop for (an I/O error): on a
 * temporary directory that is a bug worth a report. */
static void on_fatal(int r, void *userdata)
{
        die("store: fatal error", r);
}

static void open_store(void)
{
        int r = dawn_store_open(d->ways.db_path, &d->ways.store);
        if (r < 0)
                die("dawn_store_open", r);
        r = dawn_commit_new(d->ways.loop, d->ways.store, on_fatal, d, &d->ways.commit);
        if (r < 0)
                die("dawn_commit_new", r);
        r = dawn_outbox_new(d->ways.loop, d->ways.store, d->ways.commit, &d->ways.config, &d->ways.outbox);
        if (r < 0)
                die("dawn_outbox_new", r);
}

static void close_store(void)
{
        d->ways.outbox = dawn_outbox_free(d->ways.outbox);
        d->ways.commit = dawn_commit_free(d->ways.commit);
        d->ways.store = dawn_store_close(d->ways.store);
        static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
        for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
                char path[300];
                snprintf(path, sizeof(path), "%s%s", d->ways.db_path, suffix[i]);
                unlink(path);
        }
}

static void cleanup(void)
{
        close_store();
        d->ways.config = dawn_config_free(d->ways.config);
        unlink(d->ways.config_path);
        rmdir(dir);
        free(d->ways.config_path);
        free(d->ways.db_path);
        sd_event_unref(d->ways.loop);
}

/* as daemon.c wires it: "reload" reaches dawn_daemon_reload() */
static int reload_hook(void *userdata, char *msg, size_t n)
{
        return dawn_daemon_reload(userdata, msg, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        log_init(1, getenv("DAWN_FUZZ_LOG") ? LOG_DEBUG : LOG_CRIT);
        /* run.sh names a directory it removes afterwards, even after a crash */
        const char *base = getenv("DAWN_FUZZ_TMPDIR");
        if (!base)
                base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(dir, sizeof(dir), "%s/dawn-fuzz-control-XXXXXX", base);
        if (!mkdtemp(dir))
                die("mkdtemp", errno);

        char *text = NULL;
        if (asprintf(&text,
                     "daemon = { state_dir = \"%s\"; control_socket = \"%s/control.sock\"; };\n"
                     "areas = { pan-hampshire = { southampton = {}; portsmouth = {};\n"
                     "          hampshire = { fareham = {}; gosport = {}; }; }; };\n"
                     "grading = { high_risk_adulterants = [ \"nitazene\", \"fentanyl\", \"xylazine\" ];\n"
                     "            cluster = { window = \"24h\"; threshold = 3; }; };\n"
                     "dedup = { window = \"72h\"; };\n"
                     "expiry = { batch = \"14d\"; cluster = \"7d\"; nfod = \"72h\"; };\n"
                     "channels = { mqtt = { host = \"127.0.0.1\"; port = 1883; qos = 1; }; };\n"
                     "sources = ( { id = \"ambulance\"; role = \"reporter\"; } );\n"
                     "subscribers = (\n"
                     "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\"; mqtt = true; },\n"
                     "  { id = \"fratton-pharmacy\"; kind = \"pharmacy\"; area = \"portsmouth\"; mqtt = true;\n"
                     "    min_grade = \"critical\"; },\n"
                     "  { id = \"ph-duty-officer\"; kind = \"public-health\"; area = \"pan-hampshire\";\n"
                     "    mqtt = true; types = [ \"batch\", \"cluster\", \"nfod\" ]; }\n"
                     ");\n",
                     dir, dir) < 0)
                die("asprintf", ENOMEM);

        struct dawn_errors errs = { 0 };
        if (dawn_config_load_string(text, "fuzz_control.conf", &d->ways.config, &errs) < 0) {
                for (size_t i = 0; i < errs.n; i++)
                        fprintf(stderr, "fuzz_control: config: %s\n", errs.msgs[i]);
                abort();
        }
        dawn_errors_clear(&errs);

        if (asprintf(&d->ways.config_path, "%s/dawn.conf", dir) < 0 || asprintf(&d->ways.db_path, "%s/dawn.db", dir) < 0)
                die("asprintf", ENOMEM);
        FILE *f = fopen(d->ways.config_path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0)
                die("writing the config file", errno);
        free(text);

        int r = sd_event_default(&d->ways.loop);
        if (r < 0)
                die("sd_event_default", r);
        d->ways.started_at = dawn_now_usec();
        d->ways.reload = reload_hook;
        d->ways.reload_userdata = d;
        open_store();
        atexit(cleanup);
        return 0;
}

static void handle_line(const char *line, size_t len)
{
        bool wrote = false;
        cJSON *ans = dawn_control_handle(&d->ways, &peer, line, len, &wrote);
        if (!ans)
                abort(); /* "never NULL unless out of memory" */
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(ans, "ok");
        if (!cJSON_IsBool(ok)) {
                fprintf(stderr, "fuzz_control: an answer without \"ok\"\n");
                abort();
        }
        if (cJSON_IsFalse(ok)) {
                /* promise 5: a refusal says why */
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans, "error");
                if (!cJSON_IsString(e) || !e->valuestring[0]) {
                        fprintf(stderr, "fuzz_control: a refusal without an error message\n");
                        abort();
                }
        }
        /* what the connection would write */
        char *text = cJSON_PrintUnformatted(ans);
        if (!text)
                abort();
        if (strchr(text, '\n')) {
                fprintf(stderr, "fuzz_control: an answer that is not one line: %s\n", text);
                abort();
        }
        /* JSON is UTF-8: a valid request gets an answer any JSON parser can
         * read (an error quoting part of the request must not cut a
         * character in two) */
        if (utf8_ok((const unsigned char *)line, len) && !memchr(line, '\\', len) &&
            !utf8_ok((const unsigned char *)text, strlen(text))) {
                fprintf(stderr, "fuzz_control: a valid UTF-8 request got an answer that is not UTF-8: %s\n", text);
                abort();
        }
        free(text);
        cJSON_Delete(ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (++inputs_since_reset > RESET_EVERY) {
                close_store();
                open_store();
                inputs_since_reset = 1;
        }
        const char *p = (const char *)data, *end = p + size;
        for (int n = 0; n < MAX_LINES && p <= end; n++) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if (!nl && len == 0 && n > 0)
                        break; /* the input ended with its last request's newline */
                /* a copy of exactly len bytes: ASan then catches any read past the line */
                char *line = malloc(len ? len : 1);
                if (!line)
                        return 0;
                memcpy(line, p, len);
                handle_line(line, len);
                free(line);
                if (!nl)
                        break;
                p = nl + 1;
        }
        /* what the loop's idle handler does: commit the batch, run the
         * after-commit callbacks (an outbox kick may have queued one) */
        if (dawn_commit_is_open(d->ways.commit)) {
                int r = dawn_commit_flush(d->ways.commit);
                if (r < 0)
                        die("commit", r);
        }
        return 0;
}
