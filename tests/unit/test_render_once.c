/* One revision's text is rendered once per channel, not once per recipient,
 * and a GOV.UK Notify token is signed once per second, not once per text
 * (issue 12). The work is counted (struct dawn_channel_work: renders and
 * signatures), never timed; bench/fanout.sh measures what it saves.
 *
 * The SMS channel talks to a small Notify peer on 127.0.0.1 run on the
 * test's own sd-event loop, so that what each recipient was sent can be
 * read back: the same text for all, their own number and reference each,
 * and after a reload (a new channel: dawnd stops and starts SMS and email on
 * every reload) a text fitted to the new max_segments and sender_prefix.
 * The email channel is given deliveries whose transfers are dropped when it
 * stops: only what it rendered is counted there (test_email_text.c shows
 * that a message assembled from the rendered parts is byte for byte the one
 * built whole). */
#include "dawn_test.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "channel.h"
#include "notify_jwt.h"
#include "public_text.h"
#include "sms_text.h"
#include "store.h"
#include "text_cache.h"

#define RECIPIENTS 20
#define SERVICE_ID "26785a09-ab16-4eb0-8407-a37497a57506"
#define KEY_SECRET "3d844edf-8d35-48ac-975b-e847b4f122b0"
#define TEMPLATE_ID "f33517ff-2a88-4f6e-b855-c550268ce08a"
#define DEADLINE_USEC (10 * DAWN_USEC_PER_SEC)
#define REQUEST_MAX 16384

/* ---- a Notify peer: answers every POST 201 and keeps what it was sent ---- */

struct request {
        char authorization[512];
        cJSON *body;
};

struct conn {
        int fd;
        sd_event_source *src;
        char buf[REQUEST_MAX + 1];
        size_t len;
};

static struct {
        sd_event *loop;
        int listen_fd;
        int port;
        sd_event_source *accept_src;
        struct request req[RECIPIENTS * 2];
        size_t n_req;
        size_t n_delivered, n_other;
        char dir[64];
        char key_file[96];
} P;

static void conn_close(struct conn *c)
{
        sd_event_source_disable_unref(c->src);
        close(c->fd);
        free(c);
}

/* The request is whole when its headers are and Content-Length bytes follow them. */
static bool request_whole(const struct conn *c, const char **body)
{
        const char *end = strstr(c->buf, "\r\n\r\n");
        if (!end)
                return false;
        const char *cl = strcasestr(c->buf, "\r\nContent-Length:");
        size_t want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        *body = end + 4;
        return c->len - (size_t)(*body - c->buf) >= want;
}

static void keep_request(const struct conn *c, const char *body)
{
        assert_true(P.n_req < sizeof(P.req) / sizeof(P.req[0]));
        struct request *r = &P.req[P.n_req++];
        const char *auth = strcasestr(c->buf, "\r\nAuthorization: Bearer ");
        assert_non_null(auth);
        auth += strlen("\r\nAuthorization: Bearer ");
        size_t n = strcspn(auth, "\r\n");
        assert_true(n < sizeof(r->authorization));
        memcpy(r->authorization, auth, n);
        r->authorization[n] = '\0';
        r->body = cJSON_Parse(body);
        assert_non_null(r->body);
}

static int on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct conn *c = userdata;
        ssize_t k = read(fd, c->buf + c->len, REQUEST_MAX - c->len);
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (k <= 0) {
                conn_close(c);
                return 0;
        }
        c->len += (size_t)k;
        c->buf[c->len] = '\0';
        const char *body = NULL;
        if (!request_whole(c, &body)) {
                assert_true(c->len < REQUEST_MAX);
                return 0;
        }
        keep_request(c, body);
        static const char answer[] = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
        assert_int_equal(write(fd, answer, sizeof(answer) - 1), (ssize_t)(sizeof(answer) - 1));
        conn_close(c);
        return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        struct conn *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->fd = cfd;
        assert_true(sd_event_add_io(P.loop, &c->src, cfd, EPOLLIN, on_conn, c) >= 0);
        return 0;
}

static void peer_start(void)
{
        P.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(P.listen_fd >= 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        assert_int_equal(bind(P.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(listen(P.listen_fd, 128), 0);
        assert_int_equal(getsockname(P.listen_fd, (struct sockaddr *)&a, &len), 0);
        P.port = ntohs(a.sin_port);
        assert_true(sd_event_add_io(P.loop, &P.accept_src, P.listen_fd, EPOLLIN, on_accept, NULL) >= 0);
}

static void requests_clear(void)
{
        for (size_t i = 0; i < P.n_req; i++)
                cJSON_Delete(P.req[i].body);
        P.n_req = 0;
        P.n_delivered = P.n_other = 0;
}

static const char *req_str(size_t i, const char *name)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(P.req[i].body, name);
        assert_true(cJSON_IsString(v));
        return v->valuestring;
}

static const char *req_message(size_t i)
{
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(P.req[i].body, "personalisation");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "message");
        assert_true(cJSON_IsString(m));
        return m->valuestring;
}

/* ---- the channels ---- */

static void on_complete(struct dawn_channel *ch, int64_t id, enum dawn_send_result result, const char *error,
                        uint64_t retry_after_usec, void *userdata)
{
        if (result == DAWN_SEND_DELIVERED)
                P.n_delivered++;
        else
                P.n_other++;
}

static uint64_t mono_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * DAWN_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void run_until_answered(size_t n)
{
        uint64_t deadline = mono_usec() + DEADLINE_USEC;
        while (P.n_delivered + P.n_other < n && mono_usec() < deadline)
                assert_true(sd_event_run(P.loop, 50 * 1000) >= 0);
        assert_int_equal(P.n_other, 0);
        assert_int_equal(P.n_delivered, n);
        assert_int_equal(P.n_req, n);
}

static struct dawn_channel *sms_channel(int max_segments, const char *sender_prefix)
{
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", P.port);
        struct dawn_config cfg = { 0 };
        cfg.sms = (struct dawn_sms_config){
                .enabled = true, .provider = DAWN_SMS_NOTIFY, .base_url = url, .api_key_file = P.key_file,
                .template_id = TEMPLATE_ID, .max_segments = max_segments, .sender_prefix = (char *)sender_prefix,
        };
        struct dawn_channel *ch = NULL;
        assert_int_equal(dawn_channel_new(&dawn_channel_sms, P.loop, &cfg, on_complete, NULL, NULL, &ch), 0);
        return ch;
}

/* A long alert: its text must be cut to fit, so max_segments and the prefix show in it. */
static char *alert_json(int revision, const char *advice_tail)
{
        struct dawn_alert a;
        dawn_alert_init(&a);
        a.type = DAWN_TYPE_BATCH;
        a.area = strdup("southampton");
        assert_int_equal(dawn_strv_add(&a.sold_as, "heroin"), 0);
        assert_int_equal(dawn_strv_add(&a.adulterants, "nitazene"), 0);
        a.evidence = DAWN_EVIDENCE_TOXICOLOGY;
        a.casualties = 4;
        a.fatalities = 1;
        a.appearance = strdup("light brown powder, wraps in blue cling film");
        char advice[600];
        snprintf(advice, sizeof(advice),
                 "Carry naloxone and use it; more than one dose may be needed. Do not use alone. Use a small "
                 "test amount first, stay with a friend and call 999 at once if someone will not wake. %s",
                 advice_tail);
        a.advice = strdup(advice);
        a.summary = strdup("Heroin in Southampton city centre contains a nitazene.");
        snprintf(a.id, sizeof(a.id), "A17");
        a.revision = revision;
        a.grade = DAWN_GRADE_CRITICAL;
        cJSON *o = dawn_alert_to_json(&a);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        dawn_alert_clear(&a);
        assert_non_null(s);
        return s;
}

/* The text as the renderer makes it for that alert JSON and settings. */
static char *expected_text(const char *json_text, bool public_text, int max_segments, const char *prefix)
{
        cJSON *o = cJSON_Parse(json_text);
        struct dawn_alert a;
        dawn_alert_init(&a);
        assert_int_equal(dawn_alert_from_json(o, &a), 0);
        cJSON_Delete(o);
        const char *saved = dawn_sms_budget_prefix(prefix);
        char *t = public_text ? dawn_public_text(&a, DAWN_ACTION_PUBLISH, max_segments)
                              : dawn_sms_text(&a, DAWN_ACTION_PUBLISH, max_segments);
        dawn_sms_budget_prefix(saved);
        dawn_alert_clear(&a);
        assert_non_null(t);
        return t;
}

/* Hands the channel one delivery of the revision to each of n recipients. */
static void send_revision(struct dawn_channel *ch, const char *json_text, int revision, const char *subscriber,
                          size_t n, int64_t first_id, const char *number_fmt)
{
        for (size_t i = 0; i < n; i++) {
                int64_t id = first_id + (int64_t)i;
                char recipient[64], reference[96];
                snprintf(recipient, sizeof(recipient), number_fmt, (int)i);
                snprintf(reference, sizeof(reference), "A17-r%d-%lld", revision, (long long)id);
                struct dawn_delivery d = {
                        .id = id, .alert_id = "A17", .revision = revision, .subscriber = subscriber,
                        .recipient = recipient, .action = DAWN_ACTION_PUBLISH, .alert_json = json_text,
                        .reference = reference,
                };
                assert_int_equal(ch->driver->send(ch, &d), 0);
        }
}

static int setup(void **state)
{
        memset(&P, 0, sizeof(P));
        snprintf(P.dir, sizeof(P.dir), "/tmp/dawn-render-XXXXXX");
        assert_non_null(mkdtemp(P.dir));
        snprintf(P.key_file, sizeof(P.key_file), "%s/notify.key", P.dir);
        FILE *f = fopen(P.key_file, "w");
        assert_non_null(f);
        fprintf(f, "dawn_test-%s-%s\n", SERVICE_ID, KEY_SECRET);
        fclose(f);
        assert_true(sd_event_new(&P.loop) >= 0);
        peer_start();
        return 0;
}

static int teardown(void **state)
{
        requests_clear();
        sd_event_source_disable_unref(P.accept_src);
        close(P.listen_fd);
        /* connections the channel left open go with the loop's sources */
        P.loop = sd_event_unref(P.loop);
        unlink(P.key_file);
        rmdir(P.dir);
        return 0;
}

/* ---- SMS ---- */

static void test_sms_one_render_per_revision(void **state)
{
        struct dawn_channel *ch = sms_channel(2, NULL);
        char *r1 = alert_json(1, "");
        send_revision(ch, r1, 1, "booth-house", RECIPIENTS, 100, "+4477009%05d");
        assert_int_equal(ch->work.texts_rendered, 1);
        /* every text went with a token of its second: one signature, or two if a second ended meanwhile */
        assert_in_range(ch->work.tokens_signed, 1, 2);
        run_until_answered(RECIPIENTS);

        char *want = expected_text(r1, false, 2, NULL);
        for (size_t i = 0; i < P.n_req; i++) {
                assert_string_equal(req_message(i), want);
                assert_string_equal(req_str(i, "template_id"), TEMPLATE_ID);
                /* what is each recipient's own stays its own */
                char number[32];
                snprintf(number, sizeof(number), "+4477009%05d", (int)(i));
                bool seen_number = false, seen_ref = false;
                for (size_t j = 0; j < P.n_req; j++) {
                        seen_number |= strcmp(req_str(j, "phone_number"), number) == 0;
                        char ref[32];
                        snprintf(ref, sizeof(ref), "A17-r1-%d", 100 + (int)i);
                        seen_ref |= strcmp(req_str(j, "reference"), ref) == 0;
                }
                assert_true(seen_number);
                assert_true(seen_ref);
        }
        free(want);

        /* a second revision is a new text: rendered once more, for all its recipients */
        requests_clear();
        char *r2 = alert_json(2, "A second batch has been seen.");
        send_revision(ch, r2, 2, "booth-house", RECIPIENTS, 200, "+4477009%05d");
        assert_int_equal(ch->work.texts_rendered, 2);
        run_until_answered(RECIPIENTS);
        want = expected_text(r2, false, 2, NULL);
        for (size_t i = 0; i < P.n_req; i++)
                assert_string_equal(req_message(i), want);
        free(want);

        /* the public get their own text of the same revision: one render for them all */
        requests_clear();
        send_revision(ch, r2, 2, DAWN_PUBLIC_SUBSCRIBER, RECIPIENTS, 300, "+4477008%05d");
        assert_int_equal(ch->work.texts_rendered, 3);
        run_until_answered(RECIPIENTS);
        want = expected_text(r2, true, 2, NULL);
        for (size_t i = 0; i < P.n_req; i++)
                assert_string_equal(req_message(i), want);
        free(want);

        /* the same revision whose JSON changed (a review notice follows its proposal) renders again */
        requests_clear();
        char *r2b = alert_json(2, "A second batch has been seen in Portswood.");
        send_revision(ch, r2b, 2, "booth-house", 2, 400, "+4477009%05d");
        assert_int_equal(ch->work.texts_rendered, 4);
        run_until_answered(2);
        want = expected_text(r2b, false, 2, NULL);
        assert_string_equal(req_message(0), want);
        free(want);

        dawn_channel_free(ch);
        free(r1);
        free(r2);
        free(r2b);
}

/* A reload stops the channel and starts one with the new settings: the text
 * is rendered again, to them. */
static void test_sms_reload_renders_again(void **state)
{
        char *r1 = alert_json(1, "");
        struct dawn_channel *ch = sms_channel(3, NULL);
        send_revision(ch, r1, 1, "booth-house", RECIPIENTS, 100, "+4477009%05d");
        assert_int_equal(ch->work.texts_rendered, 1);
        run_until_answered(RECIPIENTS);
        char *before = expected_text(r1, false, 3, NULL);
        assert_string_equal(req_message(0), before);
        dawn_channel_free(ch);

        requests_clear();
        ch = sms_channel(1, "DAWN: ");
        send_revision(ch, r1, 1, "booth-house", RECIPIENTS, 100, "+4477009%05d");
        assert_int_equal(ch->work.texts_rendered, 1);
        run_until_answered(RECIPIENTS);
        char *after = expected_text(r1, false, 1, "DAWN: ");
        assert_string_not_equal(after, before);
        /* one part with Notify's service name in front of it */
        char with_prefix[512];
        snprintf(with_prefix, sizeof(with_prefix), "DAWN: %s", after);
        assert_int_equal(dawn_sms_measure(with_prefix).segments, 1);
        for (size_t i = 0; i < P.n_req; i++)
                assert_string_equal(req_message(i), after);
        dawn_channel_free(ch);
        free(before);
        free(after);
        free(r1);
}

/* Texts of one second share a token; the next second gets its own. */
static void test_sms_token_per_second(void **state)
{
        char *r1 = alert_json(1, "");
        struct dawn_channel *ch = sms_channel(2, NULL);
        /* start at the beginning of a second, so that the first batch stays in it */
        time_t t0 = time(NULL);
        while (time(NULL) == t0)
                usleep(1000);
        send_revision(ch, r1, 1, "booth-house", RECIPIENTS, 100, "+4477009%05d");
        uint64_t first = ch->work.tokens_signed;
        assert_int_equal(first, 1);
        run_until_answered(RECIPIENTS);
        for (size_t i = 1; i < P.n_req; i++)
                assert_string_equal(P.req[i].authorization, P.req[0].authorization);
        char token[512];
        snprintf(token, sizeof(token), "%s", P.req[0].authorization);

        /* a second later: a fresh token */
        requests_clear();
        t0 = time(NULL);
        while (time(NULL) == t0)
                usleep(1000);
        send_revision(ch, r1, 1, "booth-house", 3, 500, "+4477009%05d");
        assert_int_equal(ch->work.tokens_signed, 2);
        run_until_answered(3);
        assert_string_not_equal(P.req[0].authorization, token);
        assert_string_equal(P.req[1].authorization, P.req[0].authorization);
        dawn_channel_free(ch);
        free(r1);
}

static void test_notify_token_cache(void **state)
{
        struct dawn_notify_token t = { 0 };
        bool made = false;
        const char *a = dawn_notify_token_get(&t, SERVICE_ID, KEY_SECRET, 1900000000, &made);
        assert_non_null(a);
        assert_true(made);
        char *signed_once = dawn_notify_jwt(SERVICE_ID, KEY_SECRET, 1900000000);
        assert_string_equal(a, signed_once);
        free(signed_once);
        for (int i = 0; i < 100; i++) {
                assert_ptr_equal(dawn_notify_token_get(&t, SERVICE_ID, KEY_SECRET, 1900000000, &made), a);
                assert_false(made);
        }
        const char *b = dawn_notify_token_get(&t, SERVICE_ID, KEY_SECRET, 1900000001, &made);
        assert_true(made);
        char *next = dawn_notify_jwt(SERVICE_ID, KEY_SECRET, 1900000001);
        assert_string_equal(b, next);
        free(next);
        /* another service's token is never handed out for this one */
        dawn_notify_token_get(&t, "11111111-2222-3333-4444-555555555555", KEY_SECRET, 1900000001, &made);
        assert_true(made);
        dawn_notify_token_clear(&t);
        assert_null(t.token);
        dawn_notify_token_get(&t, SERVICE_ID, KEY_SECRET, 1900000001, &made);
        assert_true(made);
        dawn_notify_token_clear(&t);
}

/* ---- email ---- */

static void test_email_one_render_per_revision(void **state)
{
        /* a port nobody listens on: the transfers are dropped when the channel stops */
        struct dawn_config cfg = { 0 };
        cfg.email = (struct dawn_email_config){ .enabled = true, .url = "smtp://127.0.0.1:9",
                                                .from = "DAWN <alerts@dawn.test>" };
        struct dawn_channel *ch = NULL;
        assert_int_equal(dawn_channel_new(&dawn_channel_email, P.loop, &cfg, on_complete, NULL, NULL, &ch), 0);
        char *r1 = alert_json(1, ""), *r2 = alert_json(2, "A second batch has been seen.");
        send_revision(ch, r1, 1, "booth-house", RECIPIENTS, 100, "worker%d@hostel.test");
        assert_int_equal(ch->work.texts_rendered, 1);
        send_revision(ch, r2, 2, "booth-house", RECIPIENTS, 200, "worker%d@hostel.test");
        assert_int_equal(ch->work.texts_rendered, 2);
        /* deliveries of the two revisions interleaved: each keeps its text */
        send_revision(ch, r1, 1, "booth-house", 1, 300, "late%d@hostel.test");
        send_revision(ch, r2, 2, "booth-house", 1, 301, "late%d@hostel.test");
        assert_int_equal(ch->work.texts_rendered, 2);
        dawn_channel_free(ch);
        free(r1);
        free(r2);
}

/* ---- the cache itself ---- */

static int freed;
static void count_free(void *v)
{
        freed++;
        free(v);
}

static void test_text_cache(void **state)
{
        struct dawn_text_cache c = { .free_value = count_free };
        freed = 0;
        struct dawn_text_key k[DAWN_TEXT_CACHE_SLOTS + 1];
        char json[DAWN_TEXT_CACHE_SLOTS + 1][32];
        for (int i = 0; i <= DAWN_TEXT_CACHE_SLOTS; i++) {
                snprintf(json[i], sizeof(json[i]), "{\"revision\":%d}", i + 1);
                k[i] = (struct dawn_text_key){ .alert_id = "A17", .revision = i + 1, .alert_json = json[i] };
        }
        for (int i = 0; i < DAWN_TEXT_CACHE_SLOTS; i++) {
                assert_null(dawn_text_cache_find(&c, &k[i]));
                assert_non_null(dawn_text_cache_keep(&c, &k[i], strdup("text")));
        }
        /* the least recently found goes first */
        assert_non_null(dawn_text_cache_find(&c, &k[0]));
        assert_non_null(dawn_text_cache_keep(&c, &k[DAWN_TEXT_CACHE_SLOTS], strdup("text")));
        assert_int_equal(freed, 1);
        assert_non_null(dawn_text_cache_find(&c, &k[0]));
        assert_null(dawn_text_cache_find(&c, &k[1]));
        /* the kind of text and the action are part of the key; so is the JSON */
        struct dawn_text_key other = k[0];
        other.kind = 1;
        assert_null(dawn_text_cache_find(&c, &other));
        other = k[0];
        other.action = DAWN_ACTION_WITHDRAW;
        assert_null(dawn_text_cache_find(&c, &other));
        other = k[0];
        other.alert_json = "{\"revision\":1,\"changed\":true}";
        assert_null(dawn_text_cache_find(&c, &other));
        dawn_text_cache_clear(&c);
        assert_int_equal(freed, DAWN_TEXT_CACHE_SLOTS + 1);
        assert_null(dawn_text_cache_find(&c, &k[0]));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_text_cache),
                cmocka_unit_test(test_notify_token_cache),
                cmocka_unit_test_setup_teardown(test_sms_one_render_per_revision, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sms_reload_renders_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sms_token_per_second, setup, teardown),
                cmocka_unit_test_setup_teardown(test_email_one_render_per_revision, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
