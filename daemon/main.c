/* dawnd: the Drug Alert Warning Network daemon. Thin: arguments, the
 * config, and the daemon's loop. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>

#include "config.h"
#include "daemon.h"
#include "dawn/protocol.h"
#include "log.h"
#include "store.h"
#include "wal_gather.h"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: dawnd [-c FILE] [-n] [-f] [-v]\n"
                "The Drug Alert Warning Network daemon.\n\n"
                "  -c, --config FILE   configuration file (default %s)\n"
                "  -n, --check         check the configuration, print 'configuration OK' or every\n"
                "                      error as FILE:LINE: message, and exit 0 or 1\n"
                "  -f, --foreground    log to standard error instead of the journal\n"
                "  -d, --debug         log debug messages too\n"
                "  -v, --version       print the version and exit\n"
                "  -h, --help          this help\n",
                DAWN_DEFAULT_CONFIG);
}

static int check_only(const char *path)
{
        struct dawn_config *c = NULL;
        struct dawn_errors errs = { 0 };
        int r = dawn_config_load(path, &c, &errs);
        for (size_t i = 0; i < errs.n; i++)
                fprintf(stderr, "%s\n", errs.msgs[i]);
        if (r < 0 && errs.n == 0)
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
        dawn_errors_clear(&errs);
        dawn_config_free(c);
        if (r < 0)
                return EXIT_FAILURE;
        printf("configuration OK\n");
        return EXIT_SUCCESS;
}

/* systemd starts services with a soft limit of 1,024 open files and a far
 * higher hard one, so that programs still using select() keep working.
 * dawnd uses none; its own per-way connection caps bound its descriptors,
 * and a soft limit it could have raised would only make accept() fail
 * (EMFILE) and SQLite refuse to open its journal long before the caps. */
static void raise_fd_limit(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rlim_t soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warning_errno(-errno, "cannot raise the open files limit from %llu to %llu: %m, ignoring",
                                  (unsigned long long)soft, (unsigned long long)rl.rlim_max);
}

/* glibc gives the top of the heap back to the kernel (brk) whenever more than
 * 128 KiB is free there, and takes it again on the next request: profiled
 * under wrk, that shrink-and-regrow (with its TLB flushes and page faults)
 * was a fifth of dawnd's CPU time. Keeping up to 2 MiB of free heap costs at
 * most that in RSS. Blocks from 256 KiB up still come from mmap, so a large
 * transient buffer is still returned at once. */
#define HEAP_MMAP_THRESHOLD (256 * 1024)
_Static_assert(DAWN_STORE_STMT_JOURNAL_MEMORY < HEAP_MMAP_THRESHOLD,
               "each commit's statement journal must come from the heap, not a fresh mmap");
_Static_assert(DAWN_WAL_GATHER_BYTES < HEAP_MMAP_THRESHOLD, "the log's gathering buffer must come from the heap");

static void keep_heap_warm(void)
{
        mallopt(M_TRIM_THRESHOLD, 2 * 1024 * 1024);
        mallopt(M_TOP_PAD, 512 * 1024);
        mallopt(M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD);
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 'n' },
                { "foreground", no_argument, NULL, 'f' },   { "debug", no_argument, NULL, 'd' },
                { "version", no_argument, NULL, 'v' },      { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *path = DAWN_DEFAULT_CONFIG;
        bool check = false, foreground = false, debug = false;
        int opt;
        while ((opt = getopt_long(argc, argv, "c:nfdvh", options, NULL)) != -1) {
                switch (opt) {
                case 'c': path = optarg; break;
                case 'n': check = true; break;
                case 'f': foreground = true; break;
                case 'd': debug = true; break;
                case 'v': printf("dawnd %s\n", DAWN_VERSION); return EXIT_SUCCESS;
                case 'h': usage(stdout); return EXIT_SUCCESS;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "dawnd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }
        if (check)
                return check_only(path);

        log_init(foreground, debug ? LOG_DEBUG : LOG_INFO);
        raise_fd_limit();
        keep_heap_warm();
        struct dawn_config *config = NULL;
        struct dawn_errors errs = { 0 };
        int r = dawn_config_load(path, &config, &errs);
        for (size_t i = 0; i < errs.n; i++)
                log_error("%s", errs.msgs[i]);
        dawn_errors_clear(&errs);
        if (r < 0) {
                log_error_errno(r, "%s: configuration not usable: %m", path);
                return EXIT_FAILURE;
        }
        struct dawn_daemon *d = NULL;
        if (dawn_daemon_new(path, config, &d) < 0)
                return EXIT_FAILURE;
        int status = dawn_daemon_run(d);
        dawn_daemon_free(d);
        return status;
}
