/* dawnctl: the officer's client for dawnd.
 *
 * This file is the command line's way through: the global options, then
 * the command (grammar.c: one table for parsing and help), then dawnd's
 * answer over the control socket (transport.c), shown to the officer
 * (render.c), and the exit status (include/dawn/protocol.h: 0 done,
 * 1 refused, 2 usage error, 3 dawnd could not be reached).
 *
 * The unit tests (tests/unit/test_dawnctl_*.c) compile this file in with
 * DAWNCTL_NO_MAIN defined and link the rest of the client (libdawnctl.a).
 */

#include <cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dawn/protocol.h"
#include "grammar.h"
#include "render.h"
#include "transport.h"

/* The whole of dawnctl, for main() and for the tests. */
int dawnctl_main(int argc, char **argv);

struct globals {
        const char *socket;
        bool json, help, version;
};

/* Options before the command. "+" stops at the command's name, so the
 * command's own options are left for it. */
static int parse_globals(struct globals *g, int argc, char **argv)
{
        const struct option *longopts = global_longopts;
        char error[256];
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
                switch (c) {
                case 's': g->socket = optarg; break;
                case 'j': g->json = true; break;
                case 'h': g->help = true; break;
                case 'V': g->version = true; break;
                default:
                        describe_bad_option(c, argv, longopts, error, sizeof error);
                        fprintf(stderr, "dawnctl: %s (see dawnctl --help)\n", error);
                        return DAWN_EXIT_USAGE;
                }
        }
        if (g->socket && !*g->socket) {
                fputs("dawnctl: --socket needs a path (see dawnctl --help)\n", stderr);
                return DAWN_EXIT_USAGE;
        }
        return DAWN_EXIT_OK;
}

static const char *socket_path(const struct globals *g)
{
        const char *env = getenv(DAWN_SOCKET_ENV);

        if (g->socket)
                return g->socket;
        return env && *env ? env : DAWN_DEFAULT_SOCKET;
}

static void print_usage_error(const struct invocation *inv)
{
        const char *name = inv->command ? inv->command->name : NULL;

        fprintf(stderr, "dawnctl%s%s: ", name ? " " : "", name ? name : "");
        put_text(stderr, inv->error, SIZE_MAX, -1);
        fprintf(stderr, " (see dawnctl%s%s --help)\n", name ? " " : "", name ? name : "");
}

int dawnctl_main(int argc, char **argv)
{
        struct globals g = { 0 };
        struct invocation inv;
        cJSON *answer = NULL;
        int r, first;

        /* For the bash completion, and only whole: a hidden getopt option
         * would make "--c" mean it, where it is an unknown option today. */
        if (argc == 2 && strcmp(argv[1], "--complete") == 0) {
                print_completion(stdout);
                return DAWN_EXIT_OK;
        }
        r = parse_globals(&g, argc, argv);
        if (r != DAWN_EXIT_OK)
                return r;
        if (g.help || g.version) {
                if (g.help)
                        print_usage(stdout);
                else
                        printf("dawnctl %s\n", DAWN_VERSION);
                return DAWN_EXIT_OK;
        }
        first = optind; /* dawnctl_parse runs getopt again */
        r = dawnctl_parse(&inv, argc - first, argv + first);
        if (r == DAWN_EXIT_REFUSED) {
                fprintf(stderr, "dawnctl: ");
                put_text(stderr, inv.error, SIZE_MAX, -1);
                fputc('\n', stderr);
        } else if (r != DAWN_EXIT_OK) {
                print_usage_error(&inv);
        } else if (inv.help) {
                if (inv.help_for)
                        print_command_help(stdout, inv.help_for);
                else
                        print_usage(stdout);
        } else {
                r = call_dawnd(socket_path(&g), inv.request, &answer);
                if (r == DAWN_EXIT_OK)
                        r = report(&inv, answer, g.json || inv.json);
        }
        cJSON_Delete(answer);
        dawnctl_invocation_done(&inv);
        return r;
}

#ifndef DAWNCTL_NO_MAIN
int main(int argc, char **argv)
{
        return dawnctl_main(argc, argv);
}
#endif
