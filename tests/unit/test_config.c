/* Tests for daemon/base/config.c: the config is the operator's only way to say
 * who is warned about what, so each rule, each message and each line
 * number is checked. Run from the repository root (the example configs are
 * loaded from conf/). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"

/* cmocka hands every test a state pointer these tests do not use. */
#define UNUSED __attribute__((unused))

#define HOUR (3600 * DAWN_USEC_PER_SEC)
#define DAY (24 * HOUR)

/* Enough to make a config valid; tests append the part they are about. */
#define AREAS "areas = { south = { town = {}; }; };\n"
#define MQTT "channels = { mqtt = {}; };\n"

static struct dawn_config *load_ok(const char *text)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        int r = dawn_config_load_string(text, "test.conf", &c, &e);

        for (size_t i = 0; i < e.n; i++)
                print_error("unexpected: %s\n", e.msgs[i]);
        assert_int_equal(r, 0);
        assert_int_equal(e.n, 0);
        assert_non_null(c);
        dawn_errors_clear(&e);
        return c;
}

/* Loads text, which must be refused, and returns every message on its own line. */
static char *load_bad(const char *text)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = (struct dawn_config *)1;
        size_t len = 1;
        char *all;
        int r = dawn_config_load_string(text, "test.conf", &c, &e);

        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_true(e.n > 0);
        for (size_t i = 0; i < e.n; i++)
                len += strlen(e.msgs[i]) + 1;
        all = calloc(1, len);
        assert_non_null(all);
        for (size_t i = 0; i < e.n; i++) {
                assert_true(strncmp(e.msgs[i], "test.conf:", 10) == 0);
                strcat(all, e.msgs[i]);
                strcat(all, "\n");
        }
        dawn_errors_clear(&e);
        return all;
}

static void assert_has(const char *msgs, const char *needle)
{
        if (!strstr(msgs, needle)) {
                print_error("expected \"%s\" among:\n%s", needle, msgs);
                fail();
        }
}

static void assert_lacks(const char *msgs, const char *needle)
{
        if (strstr(msgs, needle)) {
                print_error("did not expect \"%s\" among:\n%s", needle, msgs);
                fail();
        }
}

/* One bad config, and the "LINE:" and key its error must name. */
static void assert_refused(const char *text, const char *line, const char *message)
{
        char *msgs = load_bad(text);
        char *at = strstr(msgs, message);

        if (!at) {
                print_error("expected \"%s\" among:\n%s", message, msgs);
                fail();
        }
        /* The line number must belong to that very message. */
        while (at > msgs && at[-1] != '\n')
                at--;
        if (strncmp(at, line, strlen(line)) != 0) {
                print_error("expected \"%s\" to start with \"%s\"\n", at, line);
                fail();
        }
        free(msgs);
}

/* A readable file for the secret-file keys ("@SECRET@" in a config text),
 * made by setup() and removed by teardown(). */
static char secret[] = "/tmp/dawn-test-secret-XXXXXX";

static int setup(void **state UNUSED)
{
        int fd = mkstemp(secret);

        if (fd < 0 || write(fd, "not-a-real-key\n", 15) != 15)
                return -1;
        close(fd);
        return 0;
}

static int teardown(void **state UNUSED)
{
        unlink(secret);
        return 0;
}

/* Replaces every from (there may be none). */
static char *replace_all(char *text, const char *from, const char *to)
{
        char *at;

        while ((at = strstr(text, from))) {
                char *out;

                assert_true(asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) > 0);
                free(text);
                text = out;
        }
        return text;
}

static char *with_secret(const char *text)
{
        char *copy = strdup(text);

        assert_non_null(copy);
        return replace_all(copy, "@SECRET@", secret);
}

/* load_ok and assert_refused for texts naming @SECRET@. */
static struct dawn_config *load_ok_s(const char *text)
{
        char *t = with_secret(text);
        struct dawn_config *c = load_ok(t);

        free(t);
        return c;
}

static void refused_s(const char *text, const char *line, const char *message)
{
        char *t = with_secret(text);

        assert_refused(t, line, message);
        free(t);
}

static const char full_config[] =
        "daemon = {\n"                                                           /* 1 */
        "        state_dir = \"/tmp/dawn-state\";\n"                             /* 2 */
        "        control_socket = \"/tmp/dawn.sock\";\n"                         /* 3 */
        "        control_group = \"root\";\n"                                    /* 4 */
        "        control_socket_mode = \"0640\";\n"                              /* 5 */
        "        http_listen = \"127.0.0.1:9000\";\n"                            /* 6 */
        "};\n"                                                                   /* 7 */
        "areas = {\n"                                                            /* 8 */
        "  pan-hampshire = {\n"                                                  /* 9 */
        "    southampton = {};\n"                                                /* 10 */
        "    portsmouth = {};\n"                                                 /* 11 */
        "    hampshire = { winchester = {}; fareham = {}; };\n"                  /* 12 */
        "  };\n"                                                                 /* 13 */
        "  isle-of-wight = {};\n"                                                /* 14 */
        "};\n"                                                                   /* 15 */
        "grading = { high_risk_adulterants = [ \"Nitazene\", \"CARFENTANIL\" ];\n" /* 16 */
        "            cluster = { window = \"12h\"; threshold = 4; }; };\n"       /* 17 */
        "dedup = { window = \"48h\"; };\n"                                       /* 18 */
        "expiry = { batch = \"10d\"; nfod = \"90m\"; notify = true; };\n"        /* 19 */
        "channels = { mqtt = { host = \"broker.example\"; port = 8883;\n"        /* 20 */
        "  topic_prefix = \"hants/dawn\"; qos = 2; keepalive = 60;\n"            /* 21 */
        "  client_id = \"dawnd-1\"; username = \"dawn\"; password_file = \"/etc/dawn/pw\"; }; };\n" /* 22 */
        "sources = ( { id = \"portsmouth-ph\"; role = \"issuer\"; token_file = \"/dev/null\"; },\n" /* 23 */
        "            { id = \"ambulance\"; role = \"reporter\"; } );\n"          /* 24 */
        "subscribers = (\n"                                                      /* 25 */
        "  { id = \"booth-house\"; kind = \"hostel\"; area = \"southampton\";\n" /* 26 */
        "    mqtt = true; types = [ \"batch\", \"nfod\" ]; min_grade = \"critical\";\n" /* 27 */
        "    quiet_hours = \"23:00-07:30\"; },\n"                                /* 28 */
        "  { id = \"ph\"; kind = \"public-health\"; area = \"pan-hampshire\"; mqtt = true; }\n" /* 29 */
        ");\n";                                                                  /* 30 */

static void test_full_config(void **state UNUSED)
{
        struct dawn_config *c = load_ok(full_config);
        const struct dawn_subscriber *s;

        assert_string_equal(c->path, "test.conf");
        assert_string_equal(c->state_dir, "/tmp/dawn-state");
        assert_string_equal(c->control_socket, "/tmp/dawn.sock");
        assert_string_equal(c->control_group, "root");
        assert_true(c->has_control_gid);
        assert_int_equal(c->control_gid, 0);
        assert_int_equal(c->control_socket_mode, 0640);
        assert_string_equal(c->http_listen, "127.0.0.1:9000");

        assert_int_equal(c->n_high_risk_adulterants, 2);
        assert_string_equal(c->high_risk_adulterants[0], "nitazene");
        assert_string_equal(c->high_risk_adulterants[1], "carfentanil");
        assert_true(c->cluster_window_usec == 12 * HOUR);
        assert_int_equal(c->cluster_threshold, 4);
        assert_true(c->dedup_window_usec == 48 * HOUR);
        assert_true(c->expiry_usec[DAWN_TYPE_BATCH] == 10 * DAY);
        assert_true(c->expiry_usec[DAWN_TYPE_CLUSTER] == 7 * DAY);
        assert_true(c->expiry_usec[DAWN_TYPE_NFOD] == 90 * 60 * DAWN_USEC_PER_SEC);
        assert_true(c->expiry_notify);

        assert_true(c->mqtt.enabled);
        assert_string_equal(c->mqtt.host, "broker.example");
        assert_int_equal(c->mqtt.port, 8883);
        assert_string_equal(c->mqtt.topic_prefix, "hants/dawn");
        assert_int_equal(c->mqtt.qos, 2);
        assert_int_equal(c->mqtt.keepalive, 60);
        assert_string_equal(c->mqtt.client_id, "dawnd-1");
        assert_string_equal(c->mqtt.username, "dawn");
        assert_string_equal(c->mqtt.password_file, "/etc/dawn/pw");

        assert_int_equal(c->n_sources, 2);
        assert_string_equal(c->sources[0].id, "portsmouth-ph");
        assert_int_equal(c->sources[0].role, DAWN_ROLE_ISSUER);
        assert_string_equal(c->sources[0].token_file, "/dev/null");
        assert_int_equal(c->sources[0].line, 23);
        assert_int_equal(c->sources[1].role, DAWN_ROLE_REPORTER);
        assert_null(c->sources[1].token_file);
        assert_ptr_equal(dawn_config_source(c, "ambulance"), &c->sources[1]);
        assert_null(dawn_config_source(c, "nobody"));

        assert_int_equal(c->n_subscribers, 2);
        s = dawn_config_subscriber(c, "booth-house");
        assert_ptr_equal(s, &c->subscribers[0]);
        assert_string_equal(s->kind, "hostel");
        assert_int_equal(s->area, dawn_config_area_index(c, "southampton"));
        assert_true(s->mqtt);
        assert_int_equal(s->n_sms, 0);
        assert_int_equal(s->n_email, 0);
        assert_int_equal(s->types, DAWN_TYPE_BIT(DAWN_TYPE_BATCH) | DAWN_TYPE_BIT(DAWN_TYPE_NFOD));
        assert_int_equal(s->min_grade, DAWN_GRADE_CRITICAL);
        assert_true(s->has_quiet_hours);
        assert_int_equal(s->quiet_start_min, 23 * 60);
        assert_int_equal(s->quiet_end_min, 7 * 60 + 30);
        assert_int_equal(s->line, 26);
        s = dawn_config_subscriber(c, "ph");
        assert_int_equal(s->area, 0);
        assert_int_equal(s->types, DAWN_TYPE_BIT(DAWN_TYPE_BATCH) | DAWN_TYPE_BIT(DAWN_TYPE_CLUSTER));
        assert_int_equal(s->min_grade, DAWN_GRADE_INFO);
        assert_false(s->has_quiet_hours);
        assert_null(dawn_config_subscriber(c, "nobody"));
        dawn_config_free(c);
}

static void assert_area(const struct dawn_config *c, int i, const char *id, int parent, int depth,
                        const char *path, int line)
{
        assert_string_equal(c->areas[i].id, id);
        assert_int_equal(c->areas[i].parent, parent);
        assert_int_equal(c->areas[i].depth, depth);
        assert_string_equal(c->areas[i].path, path);
        assert_int_equal(c->areas[i].line, line);
        assert_int_equal(dawn_config_area_index(c, id), i);
}

static void test_area_tree(void **state UNUSED)
{
        struct dawn_config *c = load_ok(full_config);

        /* Depth first, parents before their children, in file order. */
        assert_int_equal(c->n_areas, 7);
        assert_area(c, 0, "pan-hampshire", -1, 0, "pan-hampshire", 9);
        assert_area(c, 1, "southampton", 0, 1, "pan-hampshire/southampton", 10);
        assert_area(c, 2, "portsmouth", 0, 1, "pan-hampshire/portsmouth", 11);
        assert_area(c, 3, "hampshire", 0, 1, "pan-hampshire/hampshire", 12);
        assert_area(c, 4, "winchester", 3, 2, "pan-hampshire/hampshire/winchester", 12);
        assert_area(c, 5, "fareham", 3, 2, "pan-hampshire/hampshire/fareham", 12);
        assert_area(c, 6, "isle-of-wight", -1, 0, "isle-of-wight", 14);
        assert_int_equal(dawn_config_area_index(c, "gosport"), -1);
        assert_int_equal(dawn_config_area_index(c, NULL), -1);
        dawn_config_free(c);
}

static void test_areas_related(void **state UNUSED)
{
        struct dawn_config *c = load_ok(full_config);
        int pan = dawn_config_area_index(c, "pan-hampshire");
        int soton = dawn_config_area_index(c, "southampton");
        int pompey = dawn_config_area_index(c, "portsmouth");
        int hants = dawn_config_area_index(c, "hampshire");
        int winch = dawn_config_area_index(c, "winchester");
        int iow = dawn_config_area_index(c, "isle-of-wight");

        assert_true(dawn_config_areas_related(c, soton, soton));
        assert_true(dawn_config_areas_related(c, pan, soton));   /* ancestor */
        assert_true(dawn_config_areas_related(c, soton, pan));   /* descendant */
        assert_true(dawn_config_areas_related(c, pan, winch));   /* two levels */
        assert_true(dawn_config_areas_related(c, winch, pan));
        assert_true(dawn_config_areas_related(c, hants, winch));
        assert_false(dawn_config_areas_related(c, soton, pompey)); /* siblings */
        assert_false(dawn_config_areas_related(c, soton, winch));  /* cousins */
        assert_false(dawn_config_areas_related(c, iow, pan));      /* other root */
        assert_false(dawn_config_areas_related(c, -1, pan));
        assert_false(dawn_config_areas_related(c, pan, (int)c->n_areas));
        dawn_config_free(c);
}

static void test_defaults(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS);

        assert_string_equal(c->state_dir, "/var/lib/dawn");
        assert_string_equal(c->control_socket, "/run/dawn/control.sock");
        assert_string_equal(c->control_group, "dawn");
        assert_int_equal(c->control_socket_mode, 0660);
        assert_string_equal(c->http_listen, "127.0.0.1:8470");
        assert_int_equal(c->n_high_risk_adulterants, 4);
        assert_string_equal(c->high_risk_adulterants[0], "nitazene");
        assert_string_equal(c->high_risk_adulterants[1], "fentanyl");
        assert_string_equal(c->high_risk_adulterants[2], "xylazine");
        assert_string_equal(c->high_risk_adulterants[3], "medetomidine");
        assert_true(c->cluster_window_usec == 24 * HOUR);
        assert_int_equal(c->cluster_threshold, 3);
        assert_true(c->dedup_window_usec == 72 * HOUR);
        assert_true(c->expiry_usec[DAWN_TYPE_BATCH] == 14 * DAY);
        assert_true(c->expiry_usec[DAWN_TYPE_CLUSTER] == 7 * DAY);
        assert_true(c->expiry_usec[DAWN_TYPE_NFOD] == 72 * HOUR);
        assert_false(c->expiry_notify);
        assert_false(c->mqtt.enabled);
        assert_false(c->sms.enabled);
        assert_false(c->email.enabled);
        assert_string_equal(c->timezone, "Europe/London");
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                const struct dawn_channel_limits *lim = dawn_config_channel_limits(c, (enum dawn_channel_kind)k);

                /* A channel that is not configured has no limits to speak of. */
                assert_int_equal(lim->rate_per_minute, 0);
                assert_int_equal(lim->max_in_flight, 0);
                assert_true(lim->lifetime_usec == 0);
                assert_true(lim->retry_initial_usec == 0);
        }
        assert_null(c->sms.base_url);
        assert_null(c->email.url);
        assert_int_equal(c->n_sources, 0);
        assert_int_equal(c->n_subscribers, 0);
        dawn_config_free(c);

        c = load_ok(AREAS MQTT);
        assert_true(c->mqtt.enabled);
        assert_string_equal(c->mqtt.host, "127.0.0.1");
        assert_int_equal(c->mqtt.port, 1883);
        assert_string_equal(c->mqtt.topic_prefix, "dawn/v1");
        assert_int_equal(c->mqtt.qos, 1);
        assert_int_equal(c->mqtt.keepalive, 30);
        assert_string_equal(c->mqtt.client_id, "dawnd");
        assert_null(c->mqtt.username);
        assert_null(c->mqtt.password_file);
        assert_int_equal(c->mqtt.limits.rate_per_minute, 0);
        assert_int_equal(c->mqtt.limits.max_in_flight, 1024);
        assert_true(c->mqtt.limits.lifetime_usec == 24 * HOUR);
        assert_true(c->mqtt.limits.retry_initial_usec == 5 * DAWN_USEC_PER_SEC);
        assert_ptr_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_MQTT), &c->mqtt.limits);
        assert_ptr_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_SMS), &c->sms.limits);
        assert_ptr_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_EMAIL), &c->email.limits);
        dawn_config_free(c);
}

static void test_min_grade_default_per_kind(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS MQTT
                "subscribers = (\n"
                "  { id = \"a\"; kind = \"public-health\"; area = \"south\"; mqtt = true; },\n"
                "  { id = \"b\"; kind = \"hostel\"; area = \"south\"; mqtt = true; },\n"
                "  { id = \"c\"; kind = \"street-team\"; area = \"town\"; mqtt = true; },\n"
                "  { id = \"d\"; kind = \"public-health\"; area = \"town\"; mqtt = true;\n"
                "    min_grade = \"critical\"; }\n"
                ");\n");

        assert_int_equal(dawn_config_subscriber(c, "a")->min_grade, DAWN_GRADE_INFO);
        assert_int_equal(dawn_config_subscriber(c, "b")->min_grade, DAWN_GRADE_WARNING);
        assert_int_equal(dawn_config_subscriber(c, "c")->min_grade, DAWN_GRADE_WARNING);
        assert_int_equal(dawn_config_subscriber(c, "d")->min_grade, DAWN_GRADE_CRITICAL);
        dawn_config_free(c);
}

static void test_unknown_keys(void **state UNUSED)
{
        assert_refused(AREAS "colour = \"red\";\n", "test.conf:2:", "unknown key 'colour'");
        assert_refused("daemon = {\n"
                       "        state_dir = \"/var/lib/dawn\";\n"
                       "        sttae_dir = \"/tmp\";\n"
                       "};\n" AREAS,
                       "test.conf:3:", "unknown key 'daemon.sttae_dir'");
        assert_refused(AREAS "grading = { cluster = {\n windw = \"1h\"; }; };\n", "test.conf:3:",
                       "unknown key 'grading.cluster.windw'");
        assert_refused(AREAS "dedup = { widnow = \"1h\"; };\n", "test.conf:2:", "unknown key 'dedup.widnow'");
        assert_refused(AREAS "expiry = { batch = \"1d\"; overdose = \"1d\"; };\n", "test.conf:2:",
                       "unknown key 'expiry.overdose'");
        assert_refused(AREAS "channels = { mqtt = {\n hots = \"x\"; }; };\n", "test.conf:3:",
                       "unknown key 'channels.mqtt.hots'");
        assert_refused(AREAS "sources = ( { id = \"a\"; role = \"issuer\"; },\n"
                       "  { id = \"b\"; role = \"issuer\"; tokenfile = \"/x\"; } );\n",
                       "test.conf:3:", "unknown key 'sources[1].tokenfile'");
        assert_refused(AREAS MQTT
                       "subscribers = (\n"
                       "  { id = \"a\"; kind = \"hostel\"; area = \"town\"; mqtt = true; },\n"
                       "  { id = \"b\"; kind = \"hostel\"; area = \"town\"; mqtt = true; },\n"
                       "  { id = \"c\"; kind = \"hostel\"; area = \"town\"; mqtt = true;\n"
                       "    colour = \"blue\"; }\n"
                       ");\n",
                       "test.conf:7:", "unknown key 'subscribers[2].colour'");
}

static void test_wrong_types(void **state UNUSED)
{
        assert_refused("daemon = {\n state_dir = 5;\n};\n" AREAS, "test.conf:2:",
                       "daemon.state_dir must be a string");
        assert_refused("daemon = \"/var/lib/dawn\";\n" AREAS, "test.conf:1:", "daemon must be a group");
        assert_refused(AREAS "channels = { mqtt = {\n port = \"1883\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.port must be an integer");
        assert_refused(AREAS "grading = { cluster = { threshold = 2.5; }; };\n", "test.conf:2:",
                       "grading.cluster.threshold must be an integer");
        assert_refused(AREAS "grading = { high_risk_adulterants = \"nitazene\"; };\n", "test.conf:2:",
                       "grading.high_risk_adulterants must be a list of strings");
        assert_refused(AREAS "grading = { high_risk_adulterants = [ 1, 2 ]; };\n", "test.conf:2:",
                       "grading.high_risk_adulterants must be a list of strings");
        assert_refused(AREAS "dedup = { window = 72; };\n", "test.conf:2:", "dedup.window must be a string");
        assert_refused(AREAS MQTT "subscribers = ( { id = \"a\"; kind = \"hostel\"; area = \"town\";\n"
                       "  mqtt = \"yes\"; } );\n",
                       "test.conf:4:", "subscribers[0].mqtt must be true or false");
        assert_refused(AREAS "subscribers = { a = 1; };\n", "test.conf:2:", "subscribers must be a list");
        assert_refused(AREAS "sources = ( \"a\" );\n", "test.conf:2:", "sources[0] must be a group");
        assert_refused("areas = {\n town = 1;\n};\n", "test.conf:2:", "areas.town must be a group");
}

static void test_required_keys(void **state UNUSED)
{
        assert_refused("daemon = {};\n", "test.conf:1:", "areas is required");
        assert_refused("areas = {};\n", "test.conf:1:", "at least one area is required");
        assert_refused(AREAS MQTT
                       "subscribers = (\n"
                       "  { id = \"a\";\n"
                       "    kind = \"hostel\"; mqtt = true; }\n"
                       ");\n",
                       "test.conf:4:", "subscribers[0].area is required");
        assert_refused(AREAS MQTT "subscribers = (\n { kind = \"hostel\"; area = \"town\"; mqtt = true; } );\n",
                       "test.conf:4:", "subscribers[0].id is required");
        assert_refused(AREAS MQTT "subscribers = (\n { id = \"a\"; area = \"town\"; mqtt = true; } );\n",
                       "test.conf:4:", "subscribers[0].kind is required");
        assert_refused(AREAS "sources = (\n { id = \"a\"; } );\n", "test.conf:3:", "sources[0].role is required");
}

static void test_area_errors(void **state UNUSED)
{
        assert_refused("areas = {\n"
                       "  pan-hampshire = {\n"
                       "    southampton = {};\n"
                       "    hampshire = { fareham = {}; };\n"
                       "  };\n"
                       "  solent = {\n"
                       "    southampton = {};\n"
                       "  };\n"
                       "};\n",
                       "test.conf:7:", "duplicate area id 'southampton' (first at line 3)");
        assert_refused("areas = {\n Southampton = {};\n};\n", "test.conf:2:", "invalid area id 'Southampton'");
        assert_refused("areas = {\n a_b = {};\n};\n", "test.conf:2:", "invalid area id 'a_b'");
        assert_refused("areas = {\n abcdefghijabcdefghijabcdefghijabcdefghijk = {};\n};\n", "test.conf:2:",
                       "invalid area id 'abcdefghijabcdefghijabcdefghijabcdefghijk'");
        assert_refused("areas = { a = { b = { c = { d = { e = { f = { g = { h = {\n"
                       " i = {}; }; }; }; }; }; }; }; }; };\n",
                       "test.conf:2:", "areas.a.b.c.d.e.f.g.h.i: areas are nested more than 8 deep");
}

static void test_duration_errors(void **state UNUSED)
{
        assert_refused(AREAS "grading = { cluster = {\n window = \"24 h\"; }; };\n", "test.conf:3:",
                       "grading.cluster.window: invalid duration '24 h' (use e.g. 90s, 30m, 24h, 14d)");
        assert_refused(AREAS "dedup = { window = \"0h\"; };\n", "test.conf:2:", "dedup.window: invalid duration '0h'");
        assert_refused(AREAS "expiry = {\n batch = \"2w\"; };\n", "test.conf:3:",
                       "expiry.batch: invalid duration '2w'");
        assert_refused(AREAS "grading = { cluster = { threshold = 1; }; };\n", "test.conf:2:",
                       "grading.cluster.threshold must be between 2 and");
}

/* retention.deliveries: 90 days unless set; seconds allowed (tests); no zero, no "never" */
static void test_retention(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS);

        assert_int_equal(c->retention_deliveries_usec, 90 * DAY);
        dawn_config_free(c);
        c = load_ok(AREAS "retention = { deliveries = \"2s\"; };\n");
        assert_int_equal(c->retention_deliveries_usec, 2 * DAWN_USEC_PER_SEC);
        dawn_config_free(c);
        assert_refused(AREAS "retention = { deliveries = \"0d\"; };\n", "test.conf:2:",
                       "retention.deliveries: invalid duration '0d'");
        assert_refused(AREAS "retention = { deliveries = \"never\"; };\n", "test.conf:2:",
                       "retention.deliveries: invalid duration 'never'");
        assert_refused(AREAS "retention = { outbox = \"9d\"; };\n", "test.conf:2:", "outbox");
}

/* store: SQLite unless told; PostgreSQL needs a conninfo libpq can parse, without a
 * password in it (that comes from password_file, which must be readable) */
static void test_store_backend(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS);
        assert_int_equal(c->store_backend, DAWN_STORE_SQLITE);
        assert_null(c->store_conninfo);
        dawn_config_free(c);
        c = load_ok(AREAS "store = { backend = \"sqlite\"; };\n");
        assert_int_equal(c->store_backend, DAWN_STORE_SQLITE);
        dawn_config_free(c);
        c = load_ok_s(AREAS "store = { backend = \"postgresql\";\n"
                            "  conninfo = \"host=db1,db2 dbname=dawn user=dawn target_session_attrs=read-write\";\n"
                            "  password_file = \"@SECRET@\"; };\n");
        assert_int_equal(c->store_backend, DAWN_STORE_POSTGRESQL);
        assert_string_equal(c->store_conninfo, "host=db1,db2 dbname=dawn user=dawn target_session_attrs=read-write");
        assert_non_null(c->store_password_file);
        dawn_config_free(c);
        assert_refused(AREAS "store = { backend = \"mysql\"; };\n", "test.conf:2:",
                       "store.backend: 'mysql' is not a store backend");
        assert_refused(AREAS "store = { backend = \"postgresql\"; };\n", "test.conf:2:", "store.conninfo is required");
        assert_refused(AREAS "store = { conninfo = \"dbname=dawn\"; };\n", "test.conf:2:",
                       "store.conninfo is only for backend = \"postgresql\"");
        assert_refused(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn colour=blue\"; };\n",
                       "test.conf:2:", "store.conninfo: invalid connection option \"colour\"");
        assert_refused(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn password=hunter2\"; };\n",
                       "test.conf:2:", "a password does not belong in the conninfo");
        assert_refused(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn\";"
                             " password_file = \"/nonexistent/pg.secret\"; };\n",
                       "test.conf:2:", "store.password_file");
        assert_refused(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn\"; port = 5432; };\n",
                       "test.conf:2:", "port");
        /* how long the loop may wait for the database: 5 s unless told, 1 s to 1 min */
        c = load_ok(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn\"; };\n");
        assert_int_equal(c->store_timeout_usec, 5 * DAWN_USEC_PER_SEC);
        dawn_config_free(c);
        c = load_ok(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn\"; timeout = \"2s\"; };\n");
        assert_int_equal(c->store_timeout_usec, 2 * DAWN_USEC_PER_SEC);
        dawn_config_free(c);
        assert_refused(AREAS "store = { backend = \"postgresql\"; conninfo = \"dbname=dawn\"; timeout = \"2m\"; };\n",
                       "test.conf:2:", "store.timeout must be from 1s to 1m");
        assert_refused(AREAS "store = { timeout = \"2s\"; };\n", "test.conf:2:",
                       "store.timeout is only for backend = \"postgresql\"");
}

static void test_parse_duration(void **state UNUSED)
{
        static const struct {
                const char *text;
                int r;
                uint64_t usec;
        } table[] = {
                { "90s", 0, 90 * DAWN_USEC_PER_SEC },
                { "1s", 0, DAWN_USEC_PER_SEC },
                { "30m", 0, 30 * 60 * DAWN_USEC_PER_SEC },
                { "24h", 0, 24 * HOUR },
                { "14d", 0, 14 * DAY },
                { "072h", 0, 72 * HOUR },
                { "3650d", 0, 3650 * DAY },
                { "3651d", -EINVAL, 0 },
                { "0s", -EINVAL, 0 },
                { "", -EINVAL, 0 },
                { "h", -EINVAL, 0 },
                { "24", -EINVAL, 0 },
                { "24H", -EINVAL, 0 },
                { "24 h", -EINVAL, 0 },
                { " 24h", -EINVAL, 0 },
                { "24h ", -EINVAL, 0 },
                { "+24h", -EINVAL, 0 },
                { "-24h", -EINVAL, 0 },
                { "1.5h", -EINVAL, 0 },
                { "2w", -EINVAL, 0 },
                { "24hh", -EINVAL, 0 },
                { "1h30m", -EINVAL, 0 },
                { "99999999999999999999999d", -EINVAL, 0 },
        };

        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                uint64_t usec = 12345;
                int r = dawn_parse_duration(table[i].text, &usec);

                if (r != table[i].r || (r == 0 && usec != table[i].usec)) {
                        print_error("dawn_parse_duration(\"%s\") = %d, %llu\n", table[i].text, r,
                                    (unsigned long long)usec);
                        fail();
                }
                if (r < 0)
                        assert_true(usec == 12345);
        }
        assert_int_equal(dawn_parse_duration(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_channel_errors(void **state UNUSED)
{
        char *msgs;

        assert_refused(AREAS "channels = {\n pager = {};\n};\n", "test.conf:3:", "unknown channel 'pager'");
        assert_refused(AREAS "channels = {\n sms = \"notify\";\n};\n", "test.conf:3:",
                       "channels.sms must be a group");
        assert_refused(AREAS "channels = {\n email = [ \"smtp://127.0.0.1\" ];\n};\n", "test.conf:3:",
                       "channels.email must be a group");

        /* Both channels are built in: no "not built in yet" any more, and
         * their keys are checked one by one. */
        msgs = load_bad(AREAS "channels = { sms = { provider = \"notify\"; bogus = 1; };\n"
                        " email = { url = \"smtp://127.0.0.1\"; from = \"a@b\"; tsl = \"none\"; }; };\n");
        assert_lacks(msgs, "not built in");
        assert_has(msgs, "test.conf:2: unknown key 'channels.sms.bogus'");
        assert_has(msgs, "test.conf:3: unknown key 'channels.email.tsl'");
        free(msgs);
}

static void test_mqtt_limits(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS "channels = { mqtt = { rate_per_minute = 600;\n"
                                        " max_in_flight = 16384; lifetime = \"90m\";"
                                        " retry_initial = \"2m\"; }; };\n");

        assert_int_equal(c->mqtt.limits.rate_per_minute, 600);
        assert_int_equal(c->mqtt.limits.max_in_flight, 16384);
        assert_true(c->mqtt.limits.lifetime_usec == 90 * 60 * DAWN_USEC_PER_SEC);
        assert_true(c->mqtt.limits.retry_initial_usec == 120 * DAWN_USEC_PER_SEC);
        assert_ptr_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_MQTT), &c->mqtt.limits);
        dawn_config_free(c);
        c = load_ok(AREAS "channels = { mqtt = { max_in_flight = 1; }; };\n");
        assert_int_equal(c->mqtt.limits.max_in_flight, 1);
        dawn_config_free(c);

        assert_refused(AREAS "channels = { mqtt = {\n rate_per_minute = -1; }; };\n", "test.conf:3:",
                       "channels.mqtt.rate_per_minute must be between 0 and");
        assert_refused(AREAS "channels = { mqtt = {\n max_in_flight = 0; }; };\n", "test.conf:3:",
                       "channels.mqtt.max_in_flight must be between 1 and 16384");
        assert_refused(AREAS "channels = { mqtt = {\n max_in_flight = 16385; }; };\n", "test.conf:3:",
                       "channels.mqtt.max_in_flight must be between 1 and 16384");
        assert_refused(AREAS "channels = { mqtt = {\n lifetime = \"1 day\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.lifetime: invalid duration '1 day'");
        assert_refused(AREAS "channels = { mqtt = {\n lifetime = 24; }; };\n", "test.conf:3:",
                       "channels.mqtt.lifetime must be a string");
        assert_refused(AREAS "channels = { mqtt = {\n retry_initial = \"0s\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.retry_initial: invalid duration '0s'");
}

#define TEMPLATE "f33517ff-2a88-4f6e-b855-c550268ce08a"
#define ACCOUNT "AC0123456789abcdef0123456789ABCDEF"
#define NOTIFY_KEYS "api_key_file = \"@SECRET@\"; template_id = \"" TEMPLATE "\";"
#define TWILIO_KEYS "provider = \"twilio\"; account_sid = \"" ACCOUNT "\"; auth_token_file = \"@SECRET@\";" \
                    " from = \"+447700900000\";"
/* channels.sms on line 2, then the keys under test on line 3. */
#define SMS_WITH(keys, extra) AREAS "channels = { sms = { " keys "\n " extra " }; };\n"

static void test_sms_defaults(void **state UNUSED)
{
        struct dawn_config *c = load_ok_s(SMS_WITH(NOTIFY_KEYS, ""));

        assert_true(c->sms.enabled);
        assert_false(c->mqtt.enabled);
        assert_false(c->email.enabled);
        assert_int_equal(c->sms.provider, DAWN_SMS_NOTIFY);
        assert_string_equal(c->sms.base_url, "https://api.notifications.service.gov.uk");
        assert_string_equal(c->sms.api_key_file, secret);
        assert_string_equal(c->sms.template_id, TEMPLATE);
        assert_null(c->sms.account_sid);
        assert_null(c->sms.auth_token_file);
        assert_null(c->sms.from);
        assert_int_equal(c->sms.max_segments, 2);
        assert_true(c->sms.timeout_usec == 30 * DAWN_USEC_PER_SEC);
        assert_int_equal(c->sms.limits.rate_per_minute, 3000);
        assert_int_equal(c->sms.limits.max_in_flight, 32);
        assert_true(c->sms.limits.lifetime_usec == 24 * HOUR);
        assert_true(c->sms.limits.retry_initial_usec == 5 * DAWN_USEC_PER_SEC);
        assert_ptr_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_SMS), &c->sms.limits);
        assert_int_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_EMAIL)->max_in_flight, 0);
        dawn_config_free(c);

        c = load_ok_s(SMS_WITH(TWILIO_KEYS, ""));
        assert_int_equal(c->sms.provider, DAWN_SMS_TWILIO);
        assert_string_equal(c->sms.base_url, "https://api.twilio.com");
        assert_string_equal(c->sms.account_sid, ACCOUNT);
        assert_string_equal(c->sms.auth_token_file, secret);
        assert_string_equal(c->sms.from, "+447700900000");
        assert_null(c->sms.api_key_file);
        assert_null(c->sms.template_id);
        assert_int_equal(c->sms.limits.rate_per_minute, 3000);
        dawn_config_free(c);
}

static void test_sms_values(void **state UNUSED)
{
        struct dawn_config *c = load_ok_s(SMS_WITH("provider = \"notify\"; " NOTIFY_KEYS,
                                                   "base_url = \"https://notify.example.org/api/\";"
                                                   " max_segments = 6; timeout = \"10m\";"
                                                   " rate_per_minute = 0; max_in_flight = 1024;"
                                                   " lifetime = \"6h\"; retry_initial = \"1s\";"));

        /* API paths are appended to it: no trailing '/'. */
        assert_string_equal(c->sms.base_url, "https://notify.example.org/api");
        assert_int_equal(c->sms.max_segments, 6);
        assert_true(c->sms.timeout_usec == 600 * DAWN_USEC_PER_SEC);
        assert_int_equal(c->sms.limits.rate_per_minute, 0);
        assert_int_equal(c->sms.limits.max_in_flight, 1024);
        assert_true(c->sms.limits.lifetime_usec == 6 * HOUR);
        assert_true(c->sms.limits.retry_initial_usec == DAWN_USEC_PER_SEC);
        dawn_config_free(c);

        /* A messaging service instead of a number. */
        c = load_ok_s(SMS_WITH("provider = \"twilio\"; account_sid = \"" ACCOUNT "\";"
                               " auth_token_file = \"@SECRET@\";",
                               "from = \"MG0123456789abcdef0123456789abcdef\"; max_segments = 1;"));
        assert_string_equal(c->sms.from, "MG0123456789abcdef0123456789abcdef");
        assert_int_equal(c->sms.max_segments, 1);
        dawn_config_free(c);
}

static void test_sms_base_url(void **state UNUSED)
{
        static const char *const good[] = {
                "http://127.0.0.1:8080",       "http://127.9.8.7/notify", "http://localhost:9000/",
                "http://[::1]:9000/notify/",   "https://api.example.org", "https://10.0.0.5:8443/x",
                "https://[2001:db8::1]/notify",
        };
        static const char *const stripped[] = {
                "http://127.0.0.1:8080",       "http://127.9.8.7/notify", "http://localhost:9000",
                "http://[::1]:9000/notify",    "https://api.example.org", "https://10.0.0.5:8443/x",
                "https://[2001:db8::1]/notify",
        };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                char *text;
                struct dawn_config *c;

                assert_true(asprintf(&text, SMS_WITH(NOTIFY_KEYS, "base_url = \"%s\";"), good[i]) > 0);
                c = load_ok_s(text);
                assert_string_equal(c->sms.base_url, stripped[i]);
                dawn_config_free(c);
                free(text);
        }

        /* The API key must never cross a network in clear. */
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"http://api.notifications.service.gov.uk\";"),
                  "test.conf:3:",
                  "channels.sms.base_url: 'http://api.notifications.service.gov.uk': http:// is only allowed "
                  "for a loopback address (127.0.0.1, ::1, localhost); the API key would cross the network "
                  "in clear");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"http://10.1.2.3:8080\";"), "test.conf:3:",
                  "channels.sms.base_url: 'http://10.1.2.3:8080': http:// is only allowed for a loopback");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"http://127.0.0.1.attacker.example/\";"), "test.conf:3:",
                  "http:// is only allowed for a loopback");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"http://[2001:db8::1]/\";"), "test.conf:3:",
                  "http:// is only allowed for a loopback");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"ftp://127.0.0.1\";"), "test.conf:3:",
                  "channels.sms.base_url: 'ftp://127.0.0.1' must start with https://");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"api.twilio.com\";"), "test.conf:3:",
                  "channels.sms.base_url: 'api.twilio.com' must start with https://");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"https://\";"), "test.conf:3:",
                  "channels.sms.base_url: 'https://' has no host");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"https://user:pw@api.example.org\";"), "test.conf:3:",
                  "must not contain a user name or password");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"https://api.example.org/?x=1\";"), "test.conf:3:",
                  "must not have a query or fragment");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"https://api.example.org:99999\";"), "test.conf:3:",
                  "has an invalid port");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"https://api example.org\";"), "test.conf:3:",
                  "must not contain spaces or control characters");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"https://[::1/\";"), "test.conf:3:",
                  "has an invalid IPv6 address");
        refused_s(SMS_WITH(NOTIFY_KEYS, "base_url = \"\";"), "test.conf:3:",
                  "channels.sms.base_url must not be empty");
}

static void test_sms_errors(void **state UNUSED)
{
        char *msgs;

        refused_s(SMS_WITH(NOTIFY_KEYS, "provider = \"vonage\";"), "test.conf:3:",
                  "channels.sms.provider: unknown provider 'vonage' (use \"notify\" or \"twilio\")");
        assert_refused(AREAS "channels = {\n sms = { template_id = \"" TEMPLATE "\"; }; };\n", "test.conf:3:",
                       "channels.sms.api_key_file is required");
        refused_s(AREAS "channels = {\n sms = { api_key_file = \"@SECRET@\"; }; };\n", "test.conf:3:",
                  "channels.sms.template_id is required");
        refused_s(SMS_WITH("api_key_file = \"@SECRET@\";", "template_id = \"welcome\";"), "test.conf:3:",
                  "channels.sms.template_id: 'welcome' is not a template id");
        refused_s(SMS_WITH("api_key_file = \"@SECRET@\";",
                           "template_id = \"f33517ff-2a88-4f6e-b855-c550268ce08\";"),
                  "test.conf:3:", "channels.sms.template_id: 'f33517ff-2a88-4f6e-b855-c550268ce08' is not");
        refused_s(SMS_WITH("api_key_file = \"@SECRET@\";",
                           "template_id = \"f33517ff2a884f6eb855c550268ce08a\";"),
                  "test.conf:3:", "is not a template id");
        refused_s(SMS_WITH(NOTIFY_KEYS, "max_segments = 0;"), "test.conf:3:",
                  "channels.sms.max_segments must be between 1 and 10");
        refused_s(SMS_WITH(NOTIFY_KEYS, "max_segments = 11;"), "test.conf:3:",
                  "channels.sms.max_segments must be between 1 and 10");
        refused_s(SMS_WITH(NOTIFY_KEYS, "timeout = \"11m\";"), "test.conf:3:",
                  "channels.sms.timeout must be at most 10m");
        refused_s(SMS_WITH(NOTIFY_KEYS, "timeout = \"30\";"), "test.conf:3:",
                  "channels.sms.timeout: invalid duration '30'");
        refused_s(SMS_WITH(NOTIFY_KEYS, "rate_per_minute = -1;"), "test.conf:3:",
                  "channels.sms.rate_per_minute must be between 0 and");
        refused_s(SMS_WITH(NOTIFY_KEYS, "max_in_flight = 0;"), "test.conf:3:",
                  "channels.sms.max_in_flight must be between 1 and 1024");
        refused_s(SMS_WITH(NOTIFY_KEYS, "max_in_flight = 1025;"), "test.conf:3:",
                  "channels.sms.max_in_flight must be between 1 and 1024");
        refused_s(SMS_WITH(NOTIFY_KEYS, "lifetime = \"forever\";"), "test.conf:3:",
                  "channels.sms.lifetime: invalid duration 'forever'");
        refused_s(SMS_WITH(NOTIFY_KEYS, "retry_initial = \"1.5s\";"), "test.conf:3:",
                  "channels.sms.retry_initial: invalid duration '1.5s'");
        refused_s(SMS_WITH(NOTIFY_KEYS, "api_key = \"secret\";"), "test.conf:3:",
                  "unknown key 'channels.sms.api_key'");

        /* An unknown provider is one error, not one per provider key. */
        msgs = load_bad(AREAS "channels = { sms = { provider = \"sns\"; }; };\n");
        assert_has(msgs, "unknown provider 'sns'");
        assert_lacks(msgs, "required");
        free(msgs);
}

static void test_sms_secret_files(void **state UNUSED)
{
        /* Checked now, so that `dawnd -n` finds a missing secret before an alert does. */
        assert_refused(SMS_WITH("template_id = \"" TEMPLATE "\";",
                                "api_key_file = \"/nonexistent/dawn/notify-key\";"),
                       "test.conf:3:",
                       "channels.sms.api_key_file: cannot read /nonexistent/dawn/notify-key: "
                       "No such file or directory");
        assert_refused(SMS_WITH("template_id = \"" TEMPLATE "\";", "api_key_file = \"/tmp\";"), "test.conf:3:",
                       "channels.sms.api_key_file: cannot read /tmp: Is a directory");
        assert_refused(SMS_WITH("provider = \"twilio\"; account_sid = \"" ACCOUNT "\"; from = \"+447700900000\";",
                                "auth_token_file = \"/nonexistent/twilio-token\";"),
                       "test.conf:3:",
                       "channels.sms.auth_token_file: cannot read /nonexistent/twilio-token: "
                       "No such file or directory");
        if (geteuid() != 0) {
                /* root can read anything, so this only means something for others. */
                char path[] = "/tmp/dawn-test-unreadable-XXXXXX";
                int fd = mkstemp(path);
                char *text, *want;

                assert_true(fd >= 0);
                assert_int_equal(fchmod(fd, 0), 0);
                close(fd);
                assert_true(asprintf(&text, SMS_WITH("template_id = \"" TEMPLATE "\";", "api_key_file = \"%s\";"),
                                     path) > 0);
                assert_true(asprintf(&want, "channels.sms.api_key_file: cannot read %s: Permission denied",
                                     path) > 0);
                assert_refused(text, "test.conf:3:", want);
                free(want);
                free(text);
                unlink(path);
        }
}

static void test_sms_provider_keys(void **state UNUSED)
{
        char *msgs;

        /* A key of the other provider: a half-done switch between the two. */
        refused_s(SMS_WITH(TWILIO_KEYS, "template_id = \"" TEMPLATE "\";"), "test.conf:3:",
                  "channels.sms.template_id is a notify key; provider is twilio");
        refused_s(SMS_WITH(TWILIO_KEYS, "api_key_file = \"@SECRET@\";"), "test.conf:3:",
                  "channels.sms.api_key_file is a notify key; provider is twilio");
        refused_s(SMS_WITH(NOTIFY_KEYS, "account_sid = \"" ACCOUNT "\";"), "test.conf:3:",
                  "channels.sms.account_sid is a twilio key; provider is notify");
        refused_s(SMS_WITH(NOTIFY_KEYS, "auth_token_file = \"@SECRET@\";"), "test.conf:3:",
                  "channels.sms.auth_token_file is a twilio key; provider is notify");
        refused_s(SMS_WITH(NOTIFY_KEYS, "from = \"+447700900000\";"), "test.conf:3:",
                  "channels.sms.from is a twilio key; provider is notify");
        /* notify is the default provider. */
        refused_s(SMS_WITH("account_sid = \"" ACCOUNT "\";", ""), "test.conf:2:",
                  "channels.sms.account_sid is a twilio key; provider is notify");

        /* Twilio's own keys. */
        msgs = load_bad(AREAS "channels = { sms = {\n provider = \"twilio\"; }; };\n");
        assert_has(msgs, "test.conf:2: channels.sms.account_sid is required");
        assert_has(msgs, "test.conf:2: channels.sms.auth_token_file is required");
        assert_has(msgs, "test.conf:2: channels.sms.from is required");
        assert_lacks(msgs, "api_key_file");
        assert_lacks(msgs, "template_id");
        free(msgs);
        refused_s(SMS_WITH("provider = \"twilio\"; auth_token_file = \"@SECRET@\"; from = \"+447700900000\";",
                           "account_sid = \"AC0123\";"),
                  "test.conf:3:", "channels.sms.account_sid: 'AC0123' is not an account SID");
        refused_s(SMS_WITH("provider = \"twilio\"; auth_token_file = \"@SECRET@\"; from = \"+447700900000\";",
                           "account_sid = \"MG0123456789abcdef0123456789abcdef\";"),
                  "test.conf:3:", "is not an account SID");
        refused_s(SMS_WITH("provider = \"twilio\"; account_sid = \"" ACCOUNT "\"; auth_token_file = \"@SECRET@\";",
                           "from = \"07700900000\";"),
                  "test.conf:3:",
                  "channels.sms.from: '07700900000' is neither an E.164 number nor a messaging service SID");
        refused_s(SMS_WITH("provider = \"twilio\"; account_sid = \"" ACCOUNT "\"; auth_token_file = \"@SECRET@\";",
                           "from = \"MG0123\";"),
                  "test.conf:3:", "channels.sms.from: 'MG0123' is neither");
}

#define EMAIL_WITH(url, extra) AREAS "channels = { email = { url = \"" url "\"; from = \"alerts@example.org\";\n " \
                               extra " }; };\n"

static void test_email_defaults(void **state UNUSED)
{
        struct dawn_config *c = load_ok(EMAIL_WITH("smtp://mail.example.org:587", ""));

        assert_true(c->email.enabled);
        assert_false(c->sms.enabled);
        assert_string_equal(c->email.url, "smtp://mail.example.org:587");
        assert_string_equal(c->email.from, "alerts@example.org");
        assert_null(c->email.username);
        assert_null(c->email.password_file);
        assert_true(c->email.require_tls);
        assert_true(c->email.timeout_usec == 60 * DAWN_USEC_PER_SEC);
        assert_int_equal(c->email.limits.rate_per_minute, 0);
        assert_int_equal(c->email.limits.max_in_flight, 8);
        assert_true(c->email.limits.lifetime_usec == 24 * HOUR);
        assert_true(c->email.limits.retry_initial_usec == 5 * DAWN_USEC_PER_SEC);
        assert_ptr_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_EMAIL), &c->email.limits);
        assert_int_equal(dawn_config_channel_limits(c, DAWN_CHANNEL_SMS)->rate_per_minute, 0);
        dawn_config_free(c);

        c = load_ok_s(EMAIL_WITH("smtps://mail.example.org", "username = \"dawn\"; password_file = \"@SECRET@\";"
                                 " tls = \"required\"; timeout = \"2m\"; rate_per_minute = 60;"
                                 " max_in_flight = 256; lifetime = \"3d\"; retry_initial = \"30s\";"));
        assert_string_equal(c->email.url, "smtps://mail.example.org");
        assert_string_equal(c->email.username, "dawn");
        assert_string_equal(c->email.password_file, secret);
        assert_true(c->email.require_tls);
        assert_true(c->email.timeout_usec == 120 * DAWN_USEC_PER_SEC);
        assert_int_equal(c->email.limits.rate_per_minute, 60);
        assert_int_equal(c->email.limits.max_in_flight, 256);
        assert_true(c->email.limits.lifetime_usec == 3 * DAY);
        assert_true(c->email.limits.retry_initial_usec == 30 * DAWN_USEC_PER_SEC);
        dawn_config_free(c);
}

static void test_email_tls(void **state UNUSED)
{
        static const char *const loopback[] = {
                "smtp://127.0.0.1:25", "smtp://127.0.0.53", "smtp://localhost", "smtp://[::1]:2525",
                "smtp://127.0.0.1/",
        };
        struct dawn_config *c;

        /* In clear to a relay on this machine. */
        for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
                char *text;

                assert_true(asprintf(&text, AREAS "channels = { email = { url = \"%s\"; from = \"a@b.example\";"
                                     " tls = \"none\"; }; };\n", loopback[i]) > 0);
                c = load_ok(text);
                assert_false(c->email.require_tls);
                dawn_config_free(c);
                free(text);
        }
        c = load_ok(EMAIL_WITH("smtp://127.0.0.1:25", ""));
        assert_true(c->email.require_tls);   /* STARTTLS is still required unless "none" is said */
        dawn_config_free(c);

        /* Across a network only with the operator's explicit override. */
        assert_refused(EMAIL_WITH("smtp://mail.example.org:25", "tls = \"none\";"), "test.conf:3:",
                       "channels.email.tls: \"none\" is only allowed for a loopback smtp:// server; mail would "
                       "cross the network in clear");
        assert_refused(EMAIL_WITH("smtp://10.0.0.25", "tls = \"none\"; tls_override = false;"), "test.conf:3:",
                       "channels.email.tls: \"none\" is only allowed for a loopback smtp:// server");
        c = load_ok(EMAIL_WITH("smtp://mail.example.org:25", "tls = \"none\"; tls_override = true;"));
        assert_false(c->email.require_tls);
        dawn_config_free(c);
        c = load_ok(EMAIL_WITH("smtp://mail.example.org:25", "tls_override = true;"));
        assert_true(c->email.require_tls);   /* an override alone changes nothing */
        dawn_config_free(c);

        assert_refused(EMAIL_WITH("smtps://127.0.0.1", "tls = \"none\";"), "test.conf:3:",
                       "channels.email.tls: \"none\" contradicts smtps://, where TLS is implicit");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "tls = \"optional\";"), "test.conf:3:",
                       "channels.email.tls must be \"required\" or \"none\"");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "tls = true;"), "test.conf:3:",
                       "channels.email.tls must be a string");
        assert_refused(EMAIL_WITH("smtp://mail.example.org", "tls = \"none\"; tls_override = \"yes\";"),
                       "test.conf:3:", "channels.email.tls_override must be true or false");
}

/* channels.email with the url or the from under test on line 3. */
#define EMAIL_URL(url) AREAS "channels = { email = { from = \"a@b.example\";\n url = \"" url "\"; }; };\n"
#define EMAIL_FROM(from) AREAS "channels = { email = { url = \"smtp://127.0.0.1\";\n from = \"" from "\"; }; };\n"

static void test_email_errors(void **state UNUSED)
{
        assert_refused(AREAS "channels = {\n email = { from = \"a@b.example\"; }; };\n", "test.conf:3:",
                       "channels.email.url is required");
        assert_refused(AREAS "channels = {\n email = { url = \"smtp://127.0.0.1\"; }; };\n", "test.conf:3:",
                       "channels.email.from is required");
        assert_refused(EMAIL_URL("http://mail.example.org"), "test.conf:3:",
                       "channels.email.url: 'http://mail.example.org' must start with smtp:// or smtps://");
        assert_refused(EMAIL_URL("smtp://"), "test.conf:3:", "channels.email.url: 'smtp://' has no host");
        assert_refused(EMAIL_URL("smtp://mail.example.org:0"), "test.conf:3:",
                       "channels.email.url: 'smtp://mail.example.org:0' has an invalid port");
        assert_refused(EMAIL_URL("smtp://mail.example.org/x"), "test.conf:3:",
                       "channels.email.url: 'smtp://mail.example.org/x' must be only a host and port");
        assert_refused(EMAIL_URL("smtp://me:pw@mail.example.org"), "test.conf:3:",
                       "must not contain a user name or password");
        assert_refused(EMAIL_FROM("DAWN <alerts@example.org>"), "test.conf:3:",
                       "channels.email.from: 'DAWN <alerts@example.org>' is not an email address");
        assert_refused(EMAIL_FROM("a@b.example\\r\\nBcc: x@y"), "test.conf:3:",
                       "channels.email.from: 'a@b.example\r\nBcc: x@y' is not an email address");
        assert_refused(EMAIL_FROM("alerts"), "test.conf:3:", "channels.email.from: 'alerts' is not an email address");

        /* The login: both or neither; the password file must be there. */
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "username = \"dawn\";"), "test.conf:3:",
                       "channels.email.username: give password_file too, or neither");
        refused_s(EMAIL_WITH("smtp://127.0.0.1", "password_file = \"@SECRET@\";"), "test.conf:3:",
                  "channels.email.password_file: give username too, or neither");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1",
                                  "username = \"dawn\"; password_file = \"/nonexistent/smtp-pw\";"),
                       "test.conf:3:",
                       "channels.email.password_file: cannot read /nonexistent/smtp-pw: No such file or directory");

        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "timeout = \"1h\";"), "test.conf:3:",
                       "channels.email.timeout must be at most 10m");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "max_in_flight = 257;"), "test.conf:3:",
                       "channels.email.max_in_flight must be between 1 and 256");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "rate_per_minute = -5;"), "test.conf:3:",
                       "channels.email.rate_per_minute must be between 0 and");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "lifetime = \"0s\";"), "test.conf:3:",
                       "channels.email.lifetime: invalid duration '0s'");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "retry_initial = 5;"), "test.conf:3:",
                       "channels.email.retry_initial must be a string");
        assert_refused(EMAIL_WITH("smtp://127.0.0.1", "port = 25;"), "test.conf:3:",
                       "unknown key 'channels.email.port'");
}

static void test_timezone(void **state UNUSED)
{
        static const char *const good[] = { "Europe/London", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5" };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                char *text;
                struct dawn_config *c;

                assert_true(asprintf(&text, "daemon = { timezone = \"%s\"; };\n" AREAS, good[i]) > 0);
                c = load_ok(text);
                assert_string_equal(c->timezone, good[i]);
                dawn_config_free(c);
                free(text);
        }
        assert_refused("daemon = {\n timezone = \"Mars/Olympus_Mons\"; };\n" AREAS, "test.conf:2:",
                       "daemon.timezone: unknown time zone 'Mars/Olympus_Mons' "
                       "(no file /usr/share/zoneinfo/Mars/Olympus_Mons;");
        assert_refused("daemon = {\n timezone = \"Europe\"; };\n" AREAS, "test.conf:2:",
                       "daemon.timezone: unknown time zone 'Europe'");
        assert_refused("daemon = {\n timezone = \"BST\"; };\n" AREAS, "test.conf:2:",
                       "daemon.timezone: unknown time zone 'BST'");
        assert_refused("daemon = {\n timezone = \"../../../etc/passwd\"; };\n" AREAS, "test.conf:2:",
                       "daemon.timezone: '../../../etc/passwd' is not a time zone name");
        assert_refused("daemon = {\n timezone = \"Europe/../../../etc/passwd\"; };\n" AREAS, "test.conf:2:",
                       "is not a time zone name");
        assert_refused("daemon = {\n timezone = \"/usr/share/zoneinfo/Europe/London\"; };\n" AREAS,
                       "test.conf:2:",
                       "daemon.timezone: '/usr/share/zoneinfo/Europe/London' is not a time zone name");
        assert_refused("daemon = {\n timezone = \":Europe/London\"; };\n" AREAS, "test.conf:2:",
                       "is not a time zone name");
        assert_refused("daemon = {\n timezone = \"\"; };\n" AREAS, "test.conf:2:",
                       "daemon.timezone must not be empty");
        assert_refused("daemon = {\n timezone = 0; };\n" AREAS, "test.conf:2:", "daemon.timezone must be a string");
}

static void test_qos_zero_refused(void **state UNUSED)
{
        assert_refused(AREAS "channels = { mqtt = {\n qos = 0; }; };\n", "test.conf:3:",
                       "channels.mqtt.qos must be 1 or 2: deliveries are confirmed by PUBACK");
        assert_refused(AREAS "channels = { mqtt = {\n qos = 3; }; };\n", "test.conf:3:",
                       "channels.mqtt.qos must be 1 or 2");
}

static void test_mqtt_errors(void **state UNUSED)
{
        assert_refused(AREAS "channels = { mqtt = {\n port = 0; }; };\n", "test.conf:3:",
                       "channels.mqtt.port must be between 1 and 65535");
        assert_refused(AREAS "channels = { mqtt = {\n port = 65536; }; };\n", "test.conf:3:",
                       "channels.mqtt.port must be between 1 and 65535");
        assert_refused(AREAS "channels = { mqtt = {\n keepalive = 4; }; };\n", "test.conf:3:",
                       "channels.mqtt.keepalive must be between 5 and 3600");
        assert_refused(AREAS "channels = { mqtt = {\n topic_prefix = \"dawn/#\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.topic_prefix must not contain '+' or '#'");
        assert_refused(AREAS "channels = { mqtt = {\n topic_prefix = \"dawn/+/x\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.topic_prefix must not contain");
        assert_refused(AREAS "channels = { mqtt = {\n topic_prefix = \"/dawn\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.topic_prefix must not contain");
        assert_refused(AREAS "channels = { mqtt = {\n topic_prefix = \"dawn/\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.topic_prefix must not contain");
        assert_refused(AREAS "channels = { mqtt = {\n topic_prefix = \"\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.topic_prefix must not be empty");
        assert_refused(AREAS "channels = { mqtt = {\n host = \"\"; }; };\n", "test.conf:3:",
                       "channels.mqtt.host must not be empty");
}

#define SUB(extra) AREAS MQTT "subscribers = (\n { id = \"a\"; kind = \"hostel\"; area = \"town\"; " extra " } );\n"

static void test_subscriber_errors(void **state UNUSED)
{
        assert_refused(SUB("mqtt = true; }, { id = \"b\"; kind = \"x\";\n area = \"nowhere\"; mqtt = true;"),
                       "test.conf:5:", "subscribers[1].area: unknown area 'nowhere'");
        assert_refused(SUB("mqtt = true; },\n { id = \"a\"; kind = \"pharmacy\"; area = \"south\"; mqtt = true;"),
                       "test.conf:5:", "subscribers[1].id: duplicate subscriber id 'a' (first at line 4)");
        assert_refused(AREAS MQTT "subscribers = (\n { id = \"Booth House\"; kind = \"hostel\"; area = \"town\";"
                       " mqtt = true; } );\n",
                       "test.conf:4:", "subscribers[0].id: invalid subscriber id 'Booth House'");
        assert_refused(AREAS MQTT "subscribers = (\n { id = \"a\"; kind = \"night shelter\"; area = \"town\";"
                       " mqtt = true; } );\n",
                       "test.conf:4:", "subscribers[0].kind: invalid kind 'night shelter'");
        assert_refused(AREAS MQTT "subscribers = (\n { id = \"a\"; kind = \"\"; area = \"town\"; mqtt = true; } );\n",
                       "test.conf:4:", "subscribers[0].kind must not be empty");
        assert_refused(SUB("mqtt = true; types = [ \"batch\", \"rumour\" ];"), "test.conf:4:",
                       "subscribers[0].types[1]: unknown alert type 'rumour'");
        assert_refused(SUB("mqtt = true; types = [];"), "test.conf:4:",
                       "subscribers[0].types must name at least one alert type");
        assert_refused(SUB("mqtt = true; min_grade = \"urgent\";"), "test.conf:4:",
                       "subscribers[0].min_grade: 'urgent' is not a grade");
        assert_refused(SUB("mqtt = true; min_grade = \"logged\";"), "test.conf:4:",
                       "subscribers[0].min_grade: 'logged' is not a grade");
        assert_refused(SUB("mqtt = true; quiet_hours = \"25:00-07:00\";"), "test.conf:4:",
                       "subscribers[0].quiet_hours: invalid quiet hours '25:00-07:00'");
        assert_refused(SUB("mqtt = true; quiet_hours = \"07:00-07:00\";"), "test.conf:4:",
                       "subscribers[0].quiet_hours: invalid quiet hours");
        assert_refused(SUB("mqtt = true; quiet_hours = \"7:00-9:00\";"), "test.conf:4:",
                       "subscribers[0].quiet_hours: invalid quiet hours");
        assert_refused(SUB("mqtt = true; quiet_hours = \"23:00-07:60\";"), "test.conf:4:",
                       "subscribers[0].quiet_hours: invalid quiet hours");
        assert_refused(SUB(""), "test.conf:4:", "subscribers[0]: no channel: give sms, email or mqtt = true");
        assert_refused(SUB("mqtt = false;"), "test.conf:4:", "subscribers[0]: no channel");
        assert_refused(AREAS "subscribers = (\n { id = \"a\"; kind = \"hostel\"; area = \"town\";\n mqtt = true; } );\n",
                       "test.conf:4:", "subscribers[0].mqtt: channel mqtt is not configured");
}

/* Every channel configured, then subscribers (the first on line 5). */
#define ALL_CHANNELS AREAS "channels = { mqtt = {}; sms = { " NOTIFY_KEYS " };\n" \
                     " email = { url = \"smtp://127.0.0.1\"; from = \"alerts@example.org\"; tls = \"none\"; }; };\n"
#define SUB_ALL(extra) ALL_CHANNELS "subscribers = (\n { id = \"a\"; kind = \"hostel\"; area = \"town\"; " \
                       extra " } );\n"

static void test_subscriber_sms_email(void **state UNUSED)
{
        struct dawn_config *c;
        char *msgs, *text;

        /* With the channels configured, numbers and addresses are taken. */
        c = load_ok_s(SUB_ALL("sms = [ \"+447700900123\", \"+447700900124\" ];"
                              " email = [ \"nights@booth-house.example\" ];"));
        assert_int_equal(c->subscribers[0].n_sms, 2);
        assert_string_equal(c->subscribers[0].sms[0], "+447700900123");
        assert_string_equal(c->subscribers[0].sms[1], "+447700900124");
        assert_int_equal(c->subscribers[0].n_email, 1);
        assert_string_equal(c->subscribers[0].email[0], "nights@booth-house.example");
        assert_false(c->subscribers[0].mqtt);
        dawn_config_free(c);

        /* Without them, alerts would be queued for a channel that never sends. */
        assert_refused(SUB("mqtt = true; },\n { id = \"b\"; kind = \"hostel\"; area = \"town\";\n"
                           " sms = [ \"+447700900123\" ];"),
                       "test.conf:6:", "subscribers[1].sms: channel sms is not configured (channels.sms)");
        assert_refused(SUB("mqtt = true;\n email = [ \"nights@booth-house.example\" ];"), "test.conf:5:",
                       "subscribers[0].email: channel email is not configured (channels.email)");
        text = with_secret(AREAS "channels = { sms = { " NOTIFY_KEYS " }; };\n"
                           "subscribers = (\n { id = \"a\"; kind = \"hostel\"; area = \"town\";"
                           " sms = [ \"+447700900123\" ];\n email = [ \"a@b.example\" ]; } );\n");
        msgs = load_bad(text);
        assert_has(msgs, "test.conf:5: subscribers[0].email: channel email is not configured (channels.email)");
        assert_lacks(msgs, "channel sms");
        assert_lacks(msgs, "not built in");
        free(msgs);
        free(text);

        /* The addresses are checked, the channels being there. */
        text = with_secret(SUB_ALL("sms = [ \"+447700900123\", \"07700900123\", \"+4477\", \"+44 7700 900123\" ];"
                            " email = [ \"nights@booth-house.example\", \"no-at-sign\", \"a@b@c\", \"@b\","
                            " \"a@\", \"a b@c\", \"a@b\\r\\nBcc: x@y\", \"<a@b>\", \"a@b,c@d\" ];"));
        msgs = load_bad(text);
        free(text);
        assert_lacks(msgs, "not configured");
        assert_lacks(msgs, "'+447700900123' is not");
        assert_has(msgs, "subscribers[0].sms[1]: '07700900123' is not an E.164 number");
        assert_has(msgs, "subscribers[0].sms[2]: '+4477' is not an E.164 number");
        assert_has(msgs, "subscribers[0].sms[3]: '+44 7700 900123' is not an E.164 number");
        assert_lacks(msgs, "'nights@booth-house.example' is not");
        assert_has(msgs, "subscribers[0].email[1]: 'no-at-sign' is not an email address");
        assert_has(msgs, "subscribers[0].email[2]: 'a@b@c' is not");
        assert_has(msgs, "subscribers[0].email[3]: '@b' is not");
        assert_has(msgs, "subscribers[0].email[4]: 'a@' is not");
        assert_has(msgs, "subscribers[0].email[5]: 'a b@c' is not");
        assert_has(msgs, "subscribers[0].email[6]: 'a@b\r\nBcc: x@y' is not");
        assert_has(msgs, "subscribers[0].email[7]: '<a@b>' is not");
        assert_has(msgs, "subscribers[0].email[8]: 'a@b,c@d' is not");
        /* A subscriber with only numbers and addresses has a channel, if no working one. */
        assert_lacks(msgs, "no channel");
        free(msgs);
}

static void test_source_errors(void **state UNUSED)
{
        assert_refused(AREAS "sources = ( { id = \"a\"; role = \"issuer\"; },\n"
                       " { id = \"a\"; role = \"reporter\"; } );\n",
                       "test.conf:3:", "sources[1].id: duplicate source id 'a' (first at line 2)");
        assert_refused(AREAS "sources = (\n { id = \"a\"; role = \"admin\"; } );\n", "test.conf:3:",
                       "sources[0].role must be \"issuer\" or \"reporter\"");
        assert_refused(AREAS "sources = (\n { id = \"A&E\"; role = \"reporter\"; } );\n", "test.conf:3:",
                       "sources[0].id: invalid source id 'A&E'");
        assert_refused(AREAS "channels = { mqtt = {}; };\nsources = ( { id = \"uhs-ed\"; role = \"reporter\"; } );\n"
                       "subscribers = (\n { id = \"uhs-ed\"; kind = \"treatment\"; area = \"town\"; mqtt = true; } );\n",
                       "test.conf:5:", "subscribers[0].id: 'uhs-ed' is also a source's id (line 3)");
}

static void test_socket_mode(void **state UNUSED)
{
        struct dawn_config *c;

        c = load_ok("daemon = { control_socket_mode = 432; };\n" AREAS);
        assert_int_equal(c->control_socket_mode, 0660);
        dawn_config_free(c);
        c = load_ok("daemon = { control_socket_mode = \"0600\"; };\n" AREAS);
        assert_int_equal(c->control_socket_mode, 0600);
        dawn_config_free(c);
        assert_refused("daemon = {\n control_socket_mode = 0660; };\n" AREAS, "test.conf:2:",
                       "daemon.control_socket_mode: 660 is not a file mode");
        assert_refused("daemon = {\n control_socket_mode = \"0999\"; };\n" AREAS, "test.conf:2:",
                       "daemon.control_socket_mode must be an octal mode");
        assert_refused("daemon = {\n control_socket_mode = \"01777\"; };\n" AREAS, "test.conf:2:",
                       "daemon.control_socket_mode must be an octal mode");
        assert_refused("daemon = {\n control_socket = \"/tmp/"
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "\"; };\n" AREAS,
                       "test.conf:2:", "daemon.control_socket is longer than a Unix socket path can be");
}

static void test_unknown_group_is_not_an_error(void **state UNUSED)
{
        struct dawn_config *c = load_ok("daemon = { control_group = \"no-such-group-dawn-test\"; };\n" AREAS);

        assert_false(c->has_control_gid);
        dawn_config_free(c);
}

static void test_all_errors_reported(void **state UNUSED)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        char *msgs = load_bad("daemon = {\n"                            /* 1 */
                              "  state_dir = 1;\n"                      /* 2 */
                              "  verbose = true;\n"                     /* 3 */
                              "};\n"                                    /* 4 */
                              "areas = { south = {}; };\n"              /* 5 */
                              "dedup = { window = \"forever\"; };\n"    /* 6 */
                              "channels = { mqtt = { qos = 0; }; };\n"  /* 7 */
                              "subscribers = (\n"                       /* 8 */
                              "  { id = \"a\"; kind = \"hostel\"; area = \"north\"; mqtt = true; }\n" /* 9 */
                              ");\n");

        assert_has(msgs, "test.conf:2: daemon.state_dir must be a string");
        assert_has(msgs, "test.conf:3: unknown key 'daemon.verbose'");
        assert_has(msgs, "test.conf:6: dedup.window: invalid duration 'forever'");
        assert_has(msgs, "test.conf:7: channels.mqtt.qos must be 1 or 2");
        assert_has(msgs, "test.conf:9: subscribers[0].area: unknown area 'north'");
        free(msgs);

        /* Errors are appended to what the caller already holds. */
        dawn_errors_add(&e, "earlier: %d", 1);
        assert_int_equal(dawn_config_load_string("areas = 1;\nx = 2;\n", "t", &c, &e), -EINVAL);
        assert_int_equal(e.n, 3);
        assert_string_equal(e.msgs[0], "earlier: 1");
        dawn_errors_clear(&e);
        assert_int_equal(e.n, 0);
        assert_null(e.msgs);
}

static void test_parse_error(void **state UNUSED)
{
        assert_refused("areas = { south = {}; };\n"
                       "daemon = {\n"
                       "  state_dir = ;\n"
                       "};\n",
                       "test.conf:3:", "syntax error");
        assert_refused("areas = { a = {}; };\nareas = { b = {}; };\n", "test.conf:2:", "duplicate setting name");
}

static void test_include_refused(void **state UNUSED)
{
        assert_refused(AREAS "  @include \"/etc/passwd\"\n", "test.conf:2:", "@include is not allowed here");
}

static void test_load_file(void **state UNUSED)
{
        char path[] = "/tmp/dawn-test-config-XXXXXX";
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        int fd = mkstemp(path);
        const char text[] = AREAS "daemon = {\n  bogus = 1;\n};\n";
        char want[64];

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
        close(fd);
        assert_int_equal(dawn_config_load(path, &c, &e), -EINVAL);
        assert_null(c);
        assert_int_equal(e.n, 1);
        snprintf(want, sizeof(want), "%s:3: unknown key 'daemon.bogus'", path);
        assert_string_equal(e.msgs[0], want);
        dawn_errors_clear(&e);
        unlink(path);

        assert_int_equal(dawn_config_load(path, &c, &e), -ENOENT);
        assert_null(c);
        assert_int_equal(e.n, 1);
        assert_non_null(strstr(e.msgs[0], path));
        dawn_errors_clear(&e);
        assert_int_equal(dawn_config_load("/tmp", &c, &e), -EISDIR);
        dawn_errors_clear(&e);
}

static void test_example_config(void **state UNUSED)
{
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        int r = dawn_config_load("conf/dawn.conf.example", &c, &e);

        for (size_t i = 0; i < e.n; i++)
                print_error("%s\n", e.msgs[i]);
        assert_int_equal(r, 0);
        assert_int_equal(c->n_areas, 13);
        assert_string_equal(c->areas[dawn_config_area_index(c, "new-forest")].path,
                            "pan-hampshire/hampshire/new-forest");
        assert_true(c->mqtt.enabled);
        assert_int_equal(c->mqtt.port, 1883);
        assert_int_equal(c->control_socket_mode, 0660);
        assert_int_equal(c->mqtt.limits.max_in_flight, 1024);
        assert_string_equal(c->timezone, "Europe/London");
        /* SMS and email need secret files, so they are commented out. */
        assert_false(c->sms.enabled);
        assert_false(c->email.enabled);
        assert_true(c->n_subscribers >= 2);
        for (size_t i = 0; i < c->n_subscribers; i++) {
                assert_true(c->subscribers[i].mqtt);
                assert_int_equal(c->subscribers[i].n_sms, 0);
                assert_int_equal(c->subscribers[i].n_email, 0);
        }
        dawn_config_free(c);
        dawn_errors_clear(&e);
}

static char *read_all(const char *path);

/* Removes the first '#' of a line (keeping its indentation). */
static void uncomment(char *line)
{
        char *hash = line + strspn(line, " \t");

        assert_true(*hash == '#');
        memmove(hash, hash + 1, strlen(hash));
}

/* The commented-out SMS and email blocks of the example, enabled as its
 * comment says (remove the '#' of each line from "#sms = {" to "#};", and
 * of the subscribers' "#sms = [" and "#email = ["), must be valid too. */
static void test_example_config_sms_email(void **state UNUSED)
{
        char *text = read_all("conf/dawn.conf.example");
        bool in_block = false;
        int blocks = 0, lists = 0;
        const struct dawn_subscriber *s;
        struct dawn_config *c;

        for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                const char *t = line + strspn(line, " \t");

                if (strncmp(t, "#sms = {", 8) == 0 || strncmp(t, "#email = {", 10) == 0) {
                        in_block = true;
                        blocks++;
                }
                if (in_block) {
                        bool last = strncmp(t, "#};", 3) == 0;

                        uncomment(line);
                        in_block = !last;
                } else if (strncmp(t, "#sms = [", 8) == 0 || strncmp(t, "#email = [", 10) == 0) {
                        uncomment(line);
                        lists++;
                }
        }
        assert_false(in_block);
        assert_int_equal(blocks, 2);
        assert_int_equal(lists, 2);
        assert_non_null(strstr(text, "/etc/dawn/notify-api-key"));
        assert_non_null(strstr(text, "/etc/dawn/smtp-password"));
        text = replace_all(text, "/etc/dawn/notify-api-key", secret);
        text = replace_all(text, "/etc/dawn/smtp-password", secret);
        text = replace_all(text, "/etc/dawn/notify-callback-token", secret);
        text = replace_all(text, "/etc/dawn/tokens/portsmouth-ph", secret);
        text = replace_all(text, "/etc/dawn/tokens/ambulance", secret);
        c = load_ok(text);
        assert_non_null(c->sms.callback_token_file);
        assert_true(c->sms.enabled);
        assert_int_equal(c->sms.provider, DAWN_SMS_NOTIFY);
        assert_string_equal(c->sms.base_url, "https://api.notifications.service.gov.uk");
        assert_int_equal(c->sms.max_segments, 2);
        assert_int_equal(c->sms.limits.rate_per_minute, 3000);
        assert_int_equal(c->sms.limits.max_in_flight, 32);
        assert_true(c->email.enabled);
        assert_true(c->email.require_tls);
        assert_string_equal(c->email.username, "dawn-alerts");
        assert_int_equal(c->email.limits.max_in_flight, 8);
        s = dawn_config_subscriber(c, "booth-house");
        assert_non_null(s);
        assert_int_equal(s->n_sms, 1);
        assert_int_equal(s->n_email, 1);
        dawn_config_free(c);
        free(text);
}

static char *read_all(const char *path)
{
        FILE *f = fopen(path, "re");
        char *text = calloc(1, 65536);
        size_t n;

        assert_non_null(f);
        assert_non_null(text);
        n = fread(text, 1, 65535, f);
        assert_true(n > 0 && n < 65535);
        fclose(f);
        return text;
}

/* Replaces every from, as the demo script's sed does. */
static char *substitute(char *text, const char *from, const char *to)
{
        char *at;

        assert_non_null(strstr(text, from));
        while ((at = strstr(text, from))) {
                char *out;

                assert_true(asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) > 0);
                free(text);
                text = out;
        }
        return text;
}

static void test_demo_config(void **state UNUSED)
{
        char *text = read_all("conf/demo.conf");
        const struct dawn_subscriber *s;
        struct dawn_config *c;

        text = substitute(text, "@STATE_DIR@", "/tmp/dawn-demo/state");
        text = substitute(text, "@CONTROL_SOCKET@", "/tmp/dawn-demo/control.sock");
        text = substitute(text, "@MQTT_PORT@", "18830");
        c = load_ok(text);
        assert_string_equal(c->state_dir, "/tmp/dawn-demo/state");
        assert_string_equal(c->control_socket, "/tmp/dawn-demo/control.sock");
        assert_int_equal(c->mqtt.port, 18830);
        assert_int_equal(c->n_subscribers, 8);
        s = dawn_config_subscriber(c, "fratton-pharmacy");
        assert_non_null(s);
        assert_int_equal(s->min_grade, DAWN_GRADE_CRITICAL);
        s = dawn_config_subscriber(c, "ph-duty-officer");
        assert_non_null(s);
        assert_int_equal(s->min_grade, DAWN_GRADE_INFO);
        assert_int_equal(s->types, DAWN_TYPE_BIT(DAWN_TYPE_BATCH) | DAWN_TYPE_BIT(DAWN_TYPE_CLUSTER) |
                                           DAWN_TYPE_BIT(DAWN_TYPE_NFOD));
        assert_int_equal(s->area, dawn_config_area_index(c, "pan-hampshire"));
        s = dawn_config_subscriber(c, "newport-pharmacy");
        assert_non_null(s);
        assert_int_equal(s->area, dawn_config_area_index(c, "isle-of-wight"));
        dawn_config_free(c);
        free(text);
}

static void test_free_null(void **state UNUSED)
{
        assert_null(dawn_config_free(NULL));
        dawn_errors_clear(NULL);
}

/* libconfig 1.5 drops "\x00" from a string without a word: an id would be
 * read as another one. Refused with the line; look-alikes are not it. */
static void test_nul_escape_in_a_string_refused(void **state UNUSED)
{
        char *msgs = load_bad(AREAS MQTT "sources = ( { id = \"ambu\\x00lance\"; role = \"reporter\"; } );\n");

        assert_has(msgs, "test.conf:3: \\x00 in a string");
        free(msgs);
        /* a second one on a later line is named too */
        msgs = load_bad(AREAS MQTT "# \"a comment\n"
                        "sources = ( { id = \"a\\x00\"; role = \"issuer\"; },\n"
                        "  { id = \"b\"; role = \"issuer\"; /* \\x00 \" */ token_file = \"\\x00\"; } );\n");
        assert_has(msgs, "test.conf:4: \\x00 in a string");
        assert_has(msgs, "test.conf:5: \\x00 in a string");
        free(msgs);
        /* an escaped backslash then "x00", other \x escapes, and \x00 in comments are fine */
        struct dawn_config *c = load_ok(AREAS "# \\x00 here\n// and \\x00\n/* \\x00 */\n"
                                        "channels = { mqtt = { client_id = \"d\\\\x00-\\x41\"; }; };\n");
        assert_string_equal(c->mqtt.client_id, "d\\x00-A");
        dawn_config_free(c);
}

/* A NUL byte in the file would end a string there (libconfig's scanner
 * copies with strlen): "portsmouth<NUL>evil" would be read as "portsmouth". */
static void test_nul_byte_in_a_file_refused(void **state UNUSED)
{
        char path[] = "/tmp/dawn-test-config-XXXXXX";
        struct dawn_errors e = { 0 };
        struct dawn_config *c = NULL;
        int fd = mkstemp(path);
        const char text[] = AREAS MQTT "sources = ( { id = \"ambulance\0evil\"; role = \"reporter\"; } );\n";
        char want[128];

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
        close(fd);
        assert_int_equal(dawn_config_load(path, &c, &e), -EINVAL);
        assert_null(c);
        assert_int_equal(e.n, 1);
        snprintf(want, sizeof(want), "%s:3: a NUL byte", path);
        assert_true(strncmp(e.msgs[0], want, strlen(want)) == 0);
        dawn_errors_clear(&e);
        unlink(path);
}

/* daemon.http_header_timeout: 10 s unless set, and within 1 s .. 120 s. */
static void test_http_header_timeout(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS);
        assert_int_equal(c->http_header_timeout_usec, 10 * 1000000);
        dawn_config_free(c);
        c = load_ok("daemon = { http_header_timeout = \"3s\"; };\n" AREAS);
        assert_int_equal(c->http_header_timeout_usec, 3 * 1000000);
        dawn_config_free(c);
        assert_refused("daemon = { http_header_timeout = \"0s\"; };\n" AREAS, "test.conf:1:",
                       "daemon.http_header_timeout: invalid duration '0s'");
        assert_refused("daemon = { http_header_timeout = \"1h\"; };\n" AREAS, "test.conf:1:",
                       "daemon.http_header_timeout must be from 1s to 120s");
}

/* ---- issue 14, deployment: daemon.allowed_origins, daemon.trusted_proxies, ca_file ---- */

static void test_proxy_keys(void **state UNUSED)
{
        struct dawn_config *c = load_ok("daemon = { allowed_origins = [ \"HTTPS://Dash.Example.org:443\", "
                                        "\"http://127.0.0.1:8080\" ];\n"
                                        "  trusted_proxies = [ \"127.0.0.1\", \"::1\", \"10.0.0.0/8\" ]; };\n" AREAS MQTT);
        assert_int_equal(c->n_allowed_origins, 2);
        /* kept as browsers write them, so that a comparison is a strcmp */
        assert_string_equal(c->allowed_origins[0], "https://dash.example.org");
        assert_string_equal(c->allowed_origins[1], "http://127.0.0.1:8080");
        assert_int_equal(c->n_trusted_proxies, 3);
        assert_int_equal(c->trusted_proxies[2].prefix, 8);
        dawn_config_free(c);
        c = load_ok("daemon = { allowed_origins = []; trusted_proxies = []; };\n" AREAS MQTT);
        assert_int_equal(c->n_allowed_origins + c->n_trusted_proxies, 0);
        dawn_config_free(c);

        assert_refused("daemon = { allowed_origins = [ \"https://dash.example.org/\" ]; };\n" AREAS MQTT,
                       "test.conf:1:", "daemon.allowed_origins: 'https://dash.example.org/' is not an origin");
        assert_refused("daemon = { allowed_origins = [ \"*\" ]; };\n" AREAS MQTT, "test.conf:1:",
                       "daemon.allowed_origins: '*' is not an origin");
        assert_refused("daemon = { trusted_proxies = [ \"10.0.0.1/8\" ]; };\n" AREAS MQTT, "test.conf:1:",
                       "daemon.trusted_proxies: '10.0.0.1/8' is not an address or a network");
        assert_refused("daemon = { trusted_proxies = [ \"nginx.local\" ]; };\n" AREAS MQTT, "test.conf:1:",
                       "daemon.trusted_proxies: 'nginx.local' is not an address or a network");
        assert_refused("daemon = { trusted_proxies = \"127.0.0.1\"; };\n" AREAS MQTT, "test.conf:1:",
                       "daemon.trusted_proxies must be a list of strings");
}

static void test_ca_file(void **state UNUSED)
{
        assert_refused(AREAS "channels = { email = { url = \"smtp://127.0.0.1:25\"; from = \"a@b.example\";\n"
                             "  ca_file = \"/nonexistent/ca.pem\"; }; };\n",
                       "test.conf:3:", "channels.email.ca_file: /nonexistent/ca.pem: cannot read it: No such file");
        assert_refused(AREAS "channels = { email = { url = \"smtp://127.0.0.1:25\"; from = \"a@b.example\";\n"
                             "  ca_file = \"/dev/null\"; }; };\n",
                       "test.conf:3:", "channels.email.ca_file: /dev/null: not a regular file");
        char path[] = "/tmp/dawn-test-ca-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_true(write(fd, "hello\n", 6) == 6);
        close(fd);
        char *text, *want;
        assert_true(asprintf(&text, AREAS "channels = { email = { url = \"smtp://127.0.0.1:25\"; from = \"a@b.example\";\n"
                                          "  ca_file = \"%s\"; }; };\n", path) > 0);
        assert_true(asprintf(&want, "channels.email.ca_file: %s: no certificate in it", path) > 0);
        assert_refused(text, "test.conf:3:", want);
        free(want);
        free(text);
        unlink(path);
}

/* ---- channels.mqtt: TLS to the broker ---- */

#define MQTT_WITH(extra) AREAS "channels = { mqtt = {\n " extra " }; };\n"

/* A throwaway key and self-signed certificate (OpenSSL's API, no openssl
 * CLI), written as PEM to dir/<name>.key and dir/<name>.crt; with
 * passphrase, the key is encrypted with it. */
static void make_pair(const char *dir, const char *name, const char *passphrase)
{
        char path[256];
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *x = X509_new();
        X509_NAME *n;
        FILE *f;

        assert_non_null(key);
        assert_non_null(x);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
        X509_set_issuer_name(x, n);
        X509_set_pubkey(x, key);
        assert_true(X509_sign(x, key, EVP_sha256()) > 0);
        snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
        assert_non_null(f = fopen(path, "w"));
        assert_int_equal(PEM_write_X509(f, x), 1);
        fclose(f);
        snprintf(path, sizeof(path), "%s/%s.key", dir, name);
        assert_non_null(f = fopen(path, "w"));
        if (passphrase)
                assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), (unsigned char *)passphrase,
                                                      (int)strlen(passphrase), NULL, NULL), 1);
        else
                assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
        fclose(f);
        X509_free(x);
        EVP_PKEY_free(key);
}

/* text with every @D@ replaced by dir */
static char *in_dir(const char *text, const char *dir)
{
        char *copy = strdup(text);

        assert_non_null(copy);
        return replace_all(copy, "@D@", dir);
}

static void mqtt_refused_in(const char *dir, const char *text, const char *message)
{
        char *t = in_dir(text, dir), *m = in_dir(message, dir);

        assert_refused(t, "test.conf:3:", m);
        free(m);
        free(t);
}

static void test_mqtt_tls_defaults(void **state UNUSED)
{
        struct dawn_config *c = load_ok(AREAS MQTT);

        /* a broker on this machine: in clear, on MQTT's port */
        assert_false(c->mqtt.tls.enabled);
        assert_int_equal(c->mqtt.port, 1883);
        dawn_config_free(c);
        c = load_ok(MQTT_WITH("host = \"::1\";"));
        assert_false(c->mqtt.tls.enabled);
        dawn_config_free(c);
        /* another host: TLS, on MQTT over TLS's port, unless a port is given */
        c = load_ok(MQTT_WITH("host = \"mqtt.example.org\";"));
        assert_true(c->mqtt.tls.enabled);
        assert_int_equal(c->mqtt.port, 8883);
        assert_null(c->mqtt.tls.ca_file);
        assert_null(c->mqtt.tls.cert_file);
        dawn_config_free(c);
        c = load_ok(MQTT_WITH("host = \"10.0.0.5\"; port = 18883;"));
        assert_true(c->mqtt.tls.enabled);
        assert_int_equal(c->mqtt.port, 18883);
        dawn_config_free(c);
        /* asked for on loopback */
        c = load_ok(MQTT_WITH("tls = \"required\";"));
        assert_true(c->mqtt.tls.enabled);
        assert_int_equal(c->mqtt.port, 8883);
        dawn_config_free(c);
        /* in clear to another host only with the override, as for email */
        c = load_ok(MQTT_WITH("host = \"mqtt.example.org\"; tls = \"none\"; tls_override = true;"));
        assert_false(c->mqtt.tls.enabled);
        assert_int_equal(c->mqtt.port, 1883);
        dawn_config_free(c);
        c = load_ok(MQTT_WITH("host = \"mqtt.example.org\"; tls_override = true;"));
        assert_true(c->mqtt.tls.enabled); /* an override alone changes nothing */
        dawn_config_free(c);
}

static void test_mqtt_tls_errors(void **state UNUSED)
{
        assert_refused(MQTT_WITH("tls = \"optional\";"), "test.conf:3:",
                       "channels.mqtt.tls must be \"required\" or \"none\"");
        assert_refused(MQTT_WITH("tls = true;"), "test.conf:3:", "channels.mqtt.tls must be a string");
        assert_refused(MQTT_WITH("host = \"mqtt.example.org\"; tls = \"none\";"), "test.conf:3:",
                       "channels.mqtt.tls: \"none\" is only allowed for a loopback broker (127.0.0.1, ::1, "
                       "localhost); the password and every alert would cross the network in clear (set "
                       "tls_override = true to accept that)");
        assert_refused(MQTT_WITH("host = \"10.1.2.3\"; tls = \"none\"; tls_override = \"yes\";"), "test.conf:3:",
                       "channels.mqtt.tls_override must be true or false");
        assert_refused(MQTT_WITH("tls = \"required\"; tls_version = \"tlsv1.3\";"), "test.conf:3:",
                       "unknown key 'channels.mqtt.tls_version'");
        assert_refused(MQTT_WITH("tls = \"required\"; ca_file = \"/nonexistent/ca.pem\";"), "test.conf:3:",
                       "channels.mqtt.ca_file: /nonexistent/ca.pem: cannot read it: No such file");
        assert_refused(MQTT_WITH("tls = \"required\"; ca_file = \"/dev/null\";"), "test.conf:3:",
                       "channels.mqtt.ca_file: /dev/null: not a regular file");
        /* TLS settings with TLS off are a mistake, not something to ignore */
        assert_refused(MQTT_WITH("ca_file = \"/etc/ssl/certs/ca-certificates.crt\";"), "test.conf:3:",
                       "channels.mqtt.ca_file: TLS is off (tls = \"none\", the default for a loopback broker): "
                       "set tls = \"required\" to use it");
        assert_refused(MQTT_WITH("tls = \"none\"; cert_file = \"/x.crt\"; key_file = \"/x.key\";"), "test.conf:3:",
                       "channels.mqtt.cert_file: TLS is off (tls = \"none\"): set tls = \"required\" to use it");
}

static void test_mqtt_tls_files(void **state UNUSED)
{
        char dir[] = "/tmp/dawn-test-mqtt-tls-XXXXXX";
        char *text;

        assert_non_null(mkdtemp(dir));
        make_pair(dir, "ca", NULL);
        make_pair(dir, "client", NULL);
        make_pair(dir, "other", NULL);
        make_pair(dir, "locked", "s3cret");

        text = in_dir(MQTT_WITH("tls = \"required\"; ca_file = \"@D@/ca.crt\";\n"
                                " cert_file = \"@D@/client.crt\"; key_file = \"@D@/client.key\";"), dir);
        struct dawn_config *c = load_ok(text);
        free(text);
        assert_true(c->mqtt.tls.enabled);
        assert_non_null(strstr(c->mqtt.tls.ca_file, "/ca.crt"));
        assert_non_null(strstr(c->mqtt.tls.cert_file, "/client.crt"));
        assert_non_null(strstr(c->mqtt.tls.key_file, "/client.key"));

        /* a reload that changes any of them restarts the channel; the same ones do not */
        text = in_dir(MQTT_WITH("tls = \"required\"; ca_file = \"@D@/other.crt\";\n"
                                " cert_file = \"@D@/client.crt\"; key_file = \"@D@/client.key\";"), dir);
        struct dawn_config *c2 = load_ok(text);
        free(text);
        assert_true(dawn_config_channel_changed(c, c2, DAWN_CHANNEL_MQTT));
        dawn_config_free(c2);
        text = in_dir(MQTT_WITH("tls = \"required\"; ca_file = \"@D@/ca.crt\";\n"
                                " cert_file = \"@D@/client.crt\"; key_file = \"@D@/client.key\";"), dir);
        c2 = load_ok(text);
        free(text);
        assert_false(dawn_config_channel_changed(c, c2, DAWN_CHANNEL_MQTT));
        dawn_config_free(c2);
        c2 = load_ok(MQTT_WITH("tls = \"required\";"));
        assert_true(dawn_config_channel_changed(c, c2, DAWN_CHANNEL_MQTT));
        dawn_config_free(c2);
        dawn_config_free(c);

        /* both or neither */
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\";"),
                        "channels.mqtt.cert_file: give key_file too, or neither");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; key_file = \"@D@/client.key\";"),
                        "channels.mqtt.key_file: give cert_file too, or neither");
        /* each file by its key, and what is wrong with it */
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; ca_file = \"@D@/client.key\";"),
                        "channels.mqtt.ca_file: @D@/client.key: no certificate in it");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/missing.crt\"; "
                                       "key_file = \"@D@/client.key\";"),
                        "channels.mqtt.cert_file: @D@/missing.crt: cannot read it: No such file or directory");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.key\"; "
                                       "key_file = \"@D@/client.key\";"),
                        "channels.mqtt.cert_file: @D@/client.key: no certificate in it");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\"; "
                                       "key_file = \"@D@/missing.key\";"),
                        "channels.mqtt.key_file: @D@/missing.key: cannot read it: No such file or directory");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\"; "
                                       "key_file = \"@D@\";"),
                        "channels.mqtt.key_file: @D@: not a regular file");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\"; "
                                       "key_file = \"@D@/client.crt\";"),
                        "channels.mqtt.key_file: @D@/client.crt: no private key without a passphrase in it");
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\"; "
                                       "key_file = \"@D@/other.key\";"),
                        "channels.mqtt.key_file: @D@/other.key: not the key of the certificate in cert_file");
        /* an encrypted key: dawnd has nobody to ask for its passphrase */
        mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/locked.crt\"; "
                                       "key_file = \"@D@/locked.key\";"),
                        "channels.mqtt.key_file: @D@/locked.key: no private key without a passphrase in it "
                        "(OpenSSL: ");
        if (geteuid() != 0) {
                /* root can read anything, so this only means something for others */
                char path[300];

                snprintf(path, sizeof(path), "%s/client.key", dir);
                assert_int_equal(chmod(path, 0), 0);
                mqtt_refused_in(dir, MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\"; "
                                               "key_file = \"@D@/client.key\";"),
                                "channels.mqtt.key_file: @D@/client.key: cannot read it: Permission denied");
        }
        /* the key's content never appears in a message */
        char *msgs = NULL;
        text = in_dir(MQTT_WITH("tls = \"required\"; cert_file = \"@D@/client.crt\"; key_file = \"@D@/other.key\";"),
                      dir);
        msgs = load_bad(text);
        assert_lacks(msgs, "PRIVATE KEY");
        free(msgs);
        free(text);

        const char *names[] = { "ca", "client", "other", "locked" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char path[300];
                snprintf(path, sizeof(path), "%s/%s.crt", dir, names[i]);
                unlink(path);
                snprintf(path, sizeof(path), "%s/%s.key", dir, names[i]);
                unlink(path);
        }
        rmdir(dir);
}

/* Notify refuses texts over 918 characters (6 parts); its service name, if
 * Notify adds one, is channels.sms.sender_prefix (issue 14). */
static void test_sms_notify_limits(void **state UNUSED)
{
        refused_s(SMS_WITH(NOTIFY_KEYS, "max_segments = 7;"), "test.conf:3:",
                  "channels.sms.max_segments: at most 6 with provider \"notify\" (Notify refuses texts over 918 "
                  "characters)");
        struct dawn_config *c = load_ok_s(SMS_WITH(NOTIFY_KEYS, "max_segments = 6; sender_prefix = \"DAWN: \";"));
        assert_int_equal(c->sms.max_segments, 6);
        assert_string_equal(c->sms.sender_prefix, "DAWN: ");
        dawn_config_free(c);
        /* Twilio joins up to 10 parts */
        c = load_ok_s(SMS_WITH(TWILIO_KEYS, "max_segments = 10;"));
        assert_int_equal(c->sms.max_segments, 10);
        assert_null(c->sms.sender_prefix);
        dawn_config_free(c);
        refused_s(SMS_WITH(NOTIFY_KEYS, "sender_prefix = \"A very long service name, longer than forty: \";"),
                  "test.conf:3:", "channels.sms.sender_prefix: at most 40 bytes of printable text");
        refused_s(SMS_WITH(NOTIFY_KEYS, "sender_prefix = \"DAWN:\\n\";"), "test.conf:3:",
                  "channels.sms.sender_prefix: at most 40 bytes of printable text");
        refused_s(SMS_WITH(NOTIFY_KEYS, "sender_prefix = 1;"), "test.conf:3:",
                  "channels.sms.sender_prefix must be a string");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_config),
                cmocka_unit_test(test_http_header_timeout),
                cmocka_unit_test(test_area_tree),
                cmocka_unit_test(test_areas_related),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_min_grade_default_per_kind),
                cmocka_unit_test(test_unknown_keys),
                cmocka_unit_test(test_wrong_types),
                cmocka_unit_test(test_required_keys),
                cmocka_unit_test(test_area_errors),
                cmocka_unit_test(test_duration_errors),
                cmocka_unit_test(test_retention),
                cmocka_unit_test(test_store_backend),
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_channel_errors),
                cmocka_unit_test(test_mqtt_limits),
                cmocka_unit_test(test_sms_defaults),
                cmocka_unit_test(test_sms_values),
                cmocka_unit_test(test_sms_base_url),
                cmocka_unit_test(test_sms_errors),
                cmocka_unit_test(test_sms_secret_files),
                cmocka_unit_test(test_sms_provider_keys),
                cmocka_unit_test(test_email_defaults),
                cmocka_unit_test(test_email_tls),
                cmocka_unit_test(test_email_errors),
                cmocka_unit_test(test_timezone),
                cmocka_unit_test(test_qos_zero_refused),
                cmocka_unit_test(test_mqtt_errors),
                cmocka_unit_test(test_subscriber_errors),
                cmocka_unit_test(test_subscriber_sms_email),
                cmocka_unit_test(test_source_errors),
                cmocka_unit_test(test_socket_mode),
                cmocka_unit_test(test_unknown_group_is_not_an_error),
                cmocka_unit_test(test_all_errors_reported),
                cmocka_unit_test(test_parse_error),
                cmocka_unit_test(test_include_refused),
                cmocka_unit_test(test_load_file),
                cmocka_unit_test(test_example_config),
                cmocka_unit_test(test_example_config_sms_email),
                cmocka_unit_test(test_demo_config),
                cmocka_unit_test(test_free_null),
                cmocka_unit_test(test_nul_escape_in_a_string_refused),
                cmocka_unit_test(test_nul_byte_in_a_file_refused),
                cmocka_unit_test(test_proxy_keys),
                cmocka_unit_test(test_ca_file),
                cmocka_unit_test(test_mqtt_tls_defaults),
                cmocka_unit_test(test_mqtt_tls_errors),
                cmocka_unit_test(test_mqtt_tls_files),
                cmocka_unit_test(test_sms_notify_limits),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
