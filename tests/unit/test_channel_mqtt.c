/* The MQTT channel against a real mosquitto broker (an integration test,
 * kept with the unit tests so that "make check" runs it).
 *
 * The test starts its own broker on a free 127.0.0.1 port from a config in
 * a temporary directory, drives the channel on a fresh sd-event loop, and
 * looks at the broker with a second libmosquitto client (the "probe"). It
 * kills and restarts the broker to check reconnection. Skipped when the
 * mosquitto binary is not installed.
 *
 * Absence of a retained message is checked without a timeout: the probe
 * subscribes to the topic and then to a sentinel topic that always holds a
 * retained message. The broker answers subscriptions in order, so once the
 * sentinel arrives, any retained message on the topic would already have.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"

#define PREFIX "dawntest/v1"
#define STATUS_TOPIC PREFIX "/status"
#define SENTINEL_TOPIC PREFIX "/test/sentinel"
#define ALERT_TOPIC PREFIX "/alerts/pan-hampshire/southampton/A17"
#define INGEST_TOPIC PREFIX "/ingest/ambulance"
#define ACK_TOPIC PREFIX "/subscribers/booth-house/acks/A17"
#define USEC_PER_MSEC UINT64_C(1000)
#define DEADLINE_USEC (10 * DAWN_USEC_PER_SEC)

struct heard {
        char topic[128];
        char payload[512];
        size_t len;
        bool retained;
};

struct completion {
        int64_t id;
        enum dawn_send_result result;
        char error[128];
};

static struct {
        char dir[64];
        char conf[96];
        int port;       /* anonymous listener */
        int auth_port;  /* listener that needs user "dawn", password "s3cret" */
        pid_t broker;
        sd_event *loop;
        struct dawn_config cfg;
        struct dawn_channel *ch;
        struct completion done[64];  /* the first ones, to look at */
        size_t n_done;
        size_t n_delivered, n_transient;
        unsigned ready_calls;
        struct heard heard[32];      /* what the listener heard, the first ones */
        size_t n_heard;
} F;

/* ---- time and the loop ---- */

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * DAWN_USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static void on_complete(struct dawn_channel *ch, int64_t id, enum dawn_send_result result,
                        const char *error, uint64_t retry_after_usec, void *userdata)
{
        (void)ch;
        (void)retry_after_usec;
        (void)userdata;
        if (result == DAWN_SEND_DELIVERED)
                F.n_delivered++;
        else if (result == DAWN_SEND_TRANSIENT)
                F.n_transient++;
        if (F.n_done >= sizeof(F.done) / sizeof(F.done[0]))
                return;
        struct completion *c = &F.done[F.n_done++];
        c->id = id;
        c->result = result;
        snprintf(c->error, sizeof(c->error), "%s", error ? error : "");
}

static void on_ready(struct dawn_channel *ch, void *userdata)
{
        (void)ch;
        (void)userdata;
        F.ready_calls++;
}

static void on_heard(const char *topic, const void *payload, size_t len, bool retained, void *userdata)
{
        (void)userdata;
        if (F.n_heard >= sizeof(F.heard) / sizeof(F.heard[0]))
                return;
        struct heard *h = &F.heard[F.n_heard++];
        snprintf(h->topic, sizeof(h->topic), "%s", topic);
        snprintf(h->payload, sizeof(h->payload), "%.*s", (int)len, (const char *)payload);
        h->len = len;
        h->retained = retained;
}

/* The last message heard on topic with this payload, or NULL. */
static const struct heard *find_heard(const char *topic, const char *payload)
{
        for (size_t i = F.n_heard; i-- > 0;)
                if (strcmp(F.heard[i].topic, topic) == 0 && strcmp(F.heard[i].payload, payload) == 0)
                        return &F.heard[i];
        return NULL;
}

static const struct completion *find_done(int64_t id)
{
        for (size_t i = 0; i < F.n_done; i++)
                if (F.done[i].id == id)
                        return &F.done[i];
        return NULL;
}

/* Runs the loop until cond() holds or the deadline passes; returns cond(). */
static bool run_until(bool (*cond)(const void *), const void *arg, uint64_t timeout_usec)
{
        uint64_t deadline = now_usec() + timeout_usec;
        while (!cond(arg) && now_usec() < deadline)
                assert_true(sd_event_run(F.loop, 50 * USEC_PER_MSEC) >= 0);
        return cond(arg);
}

static bool is_ready(const void *arg)
{
        (void)arg;
        return F.ch->driver->ready(F.ch);
}

static bool is_not_ready(const void *arg)
{
        return !is_ready(arg);
}

static bool ready_announced(const void *arg)
{
        return is_ready(NULL) && F.ready_calls > *(const unsigned *)arg;
}

static bool is_done(const void *arg)
{
        return find_done(*(const int64_t *)arg) != NULL;
}

/* ---- the broker ---- */

static int free_port(void)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
        close(fd);
        return ntohs(a.sin_port);
}

static bool port_open(int port)
{
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        return ok;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void write_broker_config(void)
{
        char path[128], cmd[256], text[1024];
        snprintf(path, sizeof(path), "%s/passwd", F.dir);
        snprintf(cmd, sizeof(cmd), "mosquitto_passwd -c -b %s dawn s3cret >/dev/null 2>&1", path);
        assert_int_equal(system(cmd), 0);
        snprintf(text, sizeof(text),
                 "per_listener_settings true\n"
                 "persistence false\n"
                 "%s"
                 "log_dest stderr\n"
                 "listener %d 127.0.0.1\n"
                 "allow_anonymous true\n"
                 "listener %d 127.0.0.1\n"
                 "allow_anonymous false\n"
                 "password_file %s\n",
                 geteuid() == 0 ? "user root\n" : "", F.port, F.auth_port, path);
        snprintf(F.conf, sizeof(F.conf), "%s/mosquitto.conf", F.dir);
        write_file(F.conf, text);
}

/* Starts mosquitto (its output goes to DIR/mosquitto.log) and waits until
 * both listeners accept connections. */
static void broker_start(void)
{
        char log_path[128];
        snprintf(log_path, sizeof(log_path), "%s/mosquitto.log", F.dir);
        F.broker = fork();
        assert_true(F.broker >= 0);
        if (F.broker == 0) {
                int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execlp("mosquitto", "mosquitto", "-c", F.conf, (char *)NULL);
                execl("/usr/sbin/mosquitto", "mosquitto", "-c", F.conf, (char *)NULL);
                _exit(127);
        }
        uint64_t deadline = now_usec() + DEADLINE_USEC;
        while (!(port_open(F.port) && port_open(F.auth_port))) {
                int status;
                if (waitpid(F.broker, &status, WNOHANG) == F.broker)
                        fail_msg("mosquitto exited (status %d); see %s", status, log_path);
                if (now_usec() > deadline)
                        fail_msg("mosquitto did not start listening; see %s", log_path);
                struct timespec poll_interval = { .tv_nsec = 10 * 1000 * 1000 };
                nanosleep(&poll_interval, NULL);
        }
}

static void broker_kill(int sig)
{
        if (F.broker <= 0)
                return;
        kill(F.broker, sig);
        if (sig == SIGSTOP)
                return;
        assert_int_equal(waitpid(F.broker, NULL, 0), F.broker);
        F.broker = 0;
}

/* ---- the probe: a second client that looks at the broker ---- */

struct probe {
        struct mosquitto *m;
        bool connected, published;
        size_t n;
        struct {
                char topic[128];
                char payload[512];
                int len;
                bool retain;
        } msgs[16];
};

static void probe_on_connect(struct mosquitto *m, void *userdata, int rc)
{
        (void)m;
        ((struct probe *)userdata)->connected = rc == 0;
}

static void probe_on_publish(struct mosquitto *m, void *userdata, int mid)
{
        (void)m;
        (void)mid;
        ((struct probe *)userdata)->published = true;
}

static void probe_on_message(struct mosquitto *m, void *userdata, const struct mosquitto_message *msg)
{
        struct probe *p = userdata;
        (void)m;
        if (p->n >= sizeof(p->msgs) / sizeof(p->msgs[0]))
                return;
        snprintf(p->msgs[p->n].topic, sizeof(p->msgs[p->n].topic), "%s", msg->topic);
        snprintf(p->msgs[p->n].payload, sizeof(p->msgs[p->n].payload), "%.*s", msg->payloadlen,
                 (const char *)msg->payload);
        p->msgs[p->n].len = msg->payloadlen;
        p->msgs[p->n].retain = msg->retain;
        p->n++;
}

/* Runs the probe (and the channel's loop, so it keeps talking) until
 * cond() holds; fails the test at the deadline. */
static void probe_pump(struct probe *p, bool (*cond)(const struct probe *))
{
        uint64_t deadline = now_usec() + DEADLINE_USEC;
        while (!cond(p)) {
                if (now_usec() > deadline)
                        fail_msg("the probe client timed out");
                assert_int_equal(mosquitto_loop(p->m, 10, 1), MOSQ_ERR_SUCCESS);
                if (F.loop)
                        assert_true(sd_event_run(F.loop, 0) >= 0);
        }
}

static bool probe_is_connected(const struct probe *p)
{
        return p->connected;
}

static bool probe_has_published(const struct probe *p)
{
        return p->published;
}

static bool probe_saw_sentinel(const struct probe *p)
{
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->msgs[i].topic, SENTINEL_TOPIC) == 0)
                        return true;
        return false;
}

static bool probe_has_two(const struct probe *p)
{
        return p->n >= 2;
}

static struct probe *probe_open(void)
{
        struct probe *p = calloc(1, sizeof(*p));
        assert_non_null(p);
        p->m = mosquitto_new(NULL, true, p);
        assert_non_null(p->m);
        mosquitto_connect_callback_set(p->m, probe_on_connect);
        mosquitto_publish_callback_set(p->m, probe_on_publish);
        mosquitto_message_callback_set(p->m, probe_on_message);
        assert_int_equal(mosquitto_connect(p->m, "127.0.0.1", F.port, 30), MOSQ_ERR_SUCCESS);
        probe_pump(p, probe_is_connected);
        return p;
}

static void probe_close(struct probe *p)
{
        mosquitto_disconnect(p->m);
        mosquitto_destroy(p->m);
        free(p);
}

/* The retained message on topic: 1 and its payload in buf, or 0 if none. */
static int probe_retained(const char *topic, char *buf, size_t n)
{
        struct probe *p = probe_open();
        int found = 0;
        assert_int_equal(mosquitto_subscribe(p->m, NULL, topic, 1), MOSQ_ERR_SUCCESS);
        assert_int_equal(mosquitto_subscribe(p->m, NULL, SENTINEL_TOPIC, 1), MOSQ_ERR_SUCCESS);
        probe_pump(p, probe_saw_sentinel);
        for (size_t i = 0; i < p->n && strcmp(p->msgs[i].topic, SENTINEL_TOPIC) != 0; i++) {
                if (strcmp(p->msgs[i].topic, topic) == 0 && p->msgs[i].retain) {
                        snprintf(buf, n, "%s", p->msgs[i].payload);
                        found = 1;
                }
        }
        probe_close(p);
        return found;
}

/* Publishes at QoS 1 and returns once the broker has acknowledged it. */
static void probe_publish(const char *topic, const char *payload, bool retain)
{
        struct probe *p = probe_open();
        int len = (int)strlen(payload);
        assert_int_equal(mosquitto_publish(p->m, NULL, topic, len, len ? payload : NULL, 1, retain),
                         MOSQ_ERR_SUCCESS);
        probe_pump(p, probe_has_published);
        probe_close(p);
}

static void publish_sentinel(void)
{
        probe_publish(SENTINEL_TOPIC, "x", true);
}

/* The daemon's status is published right after CONNACK; wait until the
 * broker has stored it. */
static void assert_status(const char *want)
{
        char got[64] = "";
        uint64_t deadline = now_usec() + DEADLINE_USEC;
        while (!(probe_retained(STATUS_TOPIC, got, sizeof(got)) && strcmp(got, want) == 0)) {
                if (now_usec() > deadline)
                        fail_msg("%s is \"%s\", not \"%s\"", STATUS_TOPIC, got, want);
                assert_true(sd_event_run(F.loop, 20 * USEC_PER_MSEC) >= 0);
        }
}

/* ---- fixtures ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

static int group_setup(void **state)
{
        (void)state;
        log_init(1, LOG_DEBUG);
        mosquitto_lib_init();
        snprintf(F.dir, sizeof(F.dir), "/tmp/dawn-mqtt-test-XXXXXX");
        assert_non_null(mkdtemp(F.dir));
        F.port = free_port();
        do
                F.auth_port = free_port();
        while (F.auth_port == F.port);
        write_broker_config();
        broker_start();
        publish_sentinel();

        assert_true(sd_event_new(&F.loop) >= 0);
        F.cfg.mqtt = (struct dawn_mqtt_config){
                .enabled = true,
                .host = (char *)"127.0.0.1",
                .port = F.port,
                .topic_prefix = (char *)PREFIX,
                .qos = 1,
                .keepalive = 30,
                .client_id = (char *)"dawnd-test",
        };
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &F.cfg, on_complete, on_ready,
                                          NULL, &F.ch),
                         0);
        return 0;
}

static int group_teardown(void **state)
{
        (void)state;
        F.ch = dawn_channel_free(F.ch);
        F.loop = sd_event_unref(F.loop);
        if (F.broker > 0) {
                kill(F.broker, SIGCONT);
                broker_kill(SIGTERM);
        }
        nftw(F.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
        mosquitto_lib_cleanup();
        return 0;
}

static struct dawn_delivery delivery(int64_t id, enum dawn_delivery_action action, const char *json)
{
        return (struct dawn_delivery){
                .id = id,
                .alert_id = "A17",
                .revision = 1,
                .subscriber = "",
                .recipient = ALERT_TOPIC,
                .action = action,
                .alert_json = json,
                .reference = "A17-r1-1",
        };
}

/* ---- tests, in order: they share one broker and one channel ---- */

static void test_driver_table(void **state)
{
        (void)state;
        assert_string_equal(dawn_channel_mqtt.name, "mqtt");
        assert_int_equal(dawn_channel_mqtt.kind, DAWN_CHANNEL_MQTT);
        assert_ptr_equal(dawn_channel_driver_find(DAWN_CHANNEL_MQTT), &dawn_channel_mqtt);
}

static void test_becomes_ready(void **state)
{
        (void)state;
        assert_true(run_until(is_ready, NULL, DEADLINE_USEC));
        assert_true(F.ready_calls >= 1);
        char want[64];
        snprintf(want, sizeof(want), "connected to 127.0.0.1:%d without TLS", F.port);
        assert_string_equal(F.ch->driver->describe(F.ch), want);
}

static void test_status_online(void **state)
{
        (void)state;
        assert_status("online");
}

static void test_publish_retained(void **state)
{
        (void)state;
        const char *json = "{\"id\":\"A17\",\"revision\":1,\"status\":\"active\"}";
        struct dawn_delivery d = delivery(1, DAWN_ACTION_PUBLISH, json);
        int64_t id = 1;
        assert_int_equal(F.ch->driver->send(F.ch, &d), 0);
        assert_null(find_done(id)); /* never completed from inside send() */
        assert_true(run_until(is_done, &id, DEADLINE_USEC));
        assert_int_equal(find_done(id)->result, DAWN_SEND_DELIVERED);

        char got[512] = "";
        assert_int_equal(probe_retained(ALERT_TOPIC, got, sizeof(got)), 1);
        assert_string_equal(got, json);
}

static void test_withdraw_clears(void **state)
{
        (void)state;
        const char *json = "{\"id\":\"A17\",\"revision\":2,\"status\":\"cancelled\"}";
        struct probe *live = probe_open();
        assert_int_equal(mosquitto_subscribe(live->m, NULL, ALERT_TOPIC, 1), MOSQ_ERR_SUCCESS);
        assert_int_equal(mosquitto_subscribe(live->m, NULL, SENTINEL_TOPIC, 1), MOSQ_ERR_SUCCESS);
        probe_pump(live, probe_saw_sentinel); /* subscribed; got the retained revision 1 */
        live->n = 0;

        struct dawn_delivery d = delivery(2, DAWN_ACTION_WITHDRAW, json);
        int64_t id = 2;
        assert_int_equal(F.ch->driver->send(F.ch, &d), 0);
        assert_null(find_done(id));
        assert_true(run_until(is_done, &id, DEADLINE_USEC));
        assert_int_equal(find_done(id)->result, DAWN_SEND_DELIVERED);

        /* A live subscriber sees the final state, then the clearing message. */
        probe_pump(live, probe_has_two);
        assert_string_equal(live->msgs[0].payload, json);
        assert_false(live->msgs[0].retain);
        assert_int_equal(live->msgs[1].len, 0);
        probe_close(live);

        /* A new subscriber finds nothing retained. */
        char got[512] = "";
        assert_int_equal(probe_retained(ALERT_TOPIC, got, sizeof(got)), 0);
}

static bool probe_has_one(const struct probe *p)
{
        return p->n >= 1;
}

/* A review notice is news, not state: delivered on PUBACK, never retained. */
static void test_review_not_retained(void **state)
{
        (void)state;
        const char *topic = PREFIX "/subscribers/ph-duty-officer/reviews/A18";
        const char *json = "{\"id\":\"A18\",\"revision\":1,\"status\":\"pending\"}";
        struct probe *live = probe_open();
        assert_int_equal(mosquitto_subscribe(live->m, NULL, topic, 1), MOSQ_ERR_SUCCESS);
        assert_int_equal(mosquitto_subscribe(live->m, NULL, SENTINEL_TOPIC, 1), MOSQ_ERR_SUCCESS);
        probe_pump(live, probe_saw_sentinel);
        live->n = 0;

        struct dawn_delivery d = delivery(100, DAWN_ACTION_REVIEW, json);
        d.recipient = topic;
        int64_t id = 100;
        assert_int_equal(F.ch->driver->send(F.ch, &d), 0);
        assert_null(find_done(id));
        assert_true(run_until(is_done, &id, DEADLINE_USEC));
        assert_int_equal(find_done(id)->result, DAWN_SEND_DELIVERED);

        probe_pump(live, probe_has_one);
        assert_string_equal(live->msgs[0].topic, topic);
        assert_string_equal(live->msgs[0].payload, json);
        assert_false(live->msgs[0].retain);
        probe_close(live);
        char got[512] = "";
        assert_int_equal(probe_retained(topic, got, sizeof(got)), 0);
}

struct want {
        const char *topic, *payload;
};

static bool was_heard(const void *arg)
{
        const struct want *w = arg;
        return find_heard(w->topic, w->payload) != NULL;
}

static const char *const listen_filters[] = { PREFIX "/ingest/+", PREFIX "/subscribers/+/acks/+" };
#define ACK_JSON "{\"revision\":1,\"by\":\"night manager\"}"

/* Listens on F.ch and returns once the subscription is made: a retained
 * ack, published first, arrives only then. */
static void listen_and_wait(void)
{
        probe_publish(ACK_TOPIC, ACK_JSON, true);
        F.n_heard = 0;
        assert_int_equal(dawn_channel_mqtt_listen(F.ch, listen_filters, 2, on_heard, NULL), 0);
        struct want w = { ACK_TOPIC, ACK_JSON };
        assert_true(run_until(was_heard, &w, DEADLINE_USEC));
}

static void test_listen(void **state)
{
        (void)state;
        const char *const bad[] = { PREFIX "/ingest/#/result" };
        assert_int_equal(dawn_channel_mqtt_listen(F.ch, bad, 1, on_heard, NULL), -EINVAL);

        listen_and_wait();
        const struct heard *h = find_heard(ACK_TOPIC, ACK_JSON);
        assert_true(h->retained);
        assert_int_equal(h->len, strlen(ACK_JSON));

        /* One level more than the filter: the daemon's own answers never
         * come back to it. Both are published before the report, in order. */
        probe_publish(INGEST_TOPIC "/result", "{\"id\":\"A1\"}", false);
        probe_publish(INGEST_TOPIC, "{\"type\":\"nfod\"}", false);
        struct want w = { INGEST_TOPIC, "{\"type\":\"nfod\"}" };
        assert_true(run_until(was_heard, &w, DEADLINE_USEC));
        assert_false(find_heard(INGEST_TOPIC, "{\"type\":\"nfod\"}")->retained);
        assert_null(find_heard(INGEST_TOPIC "/result", "{\"id\":\"A1\"}"));

        /* A cleared retained ack reaches a live subscriber as an empty message. */
        probe_publish(ACK_TOPIC, "", true);
        w = (struct want){ ACK_TOPIC, "" };
        assert_true(run_until(was_heard, &w, DEADLINE_USEC));
        assert_int_equal(find_heard(ACK_TOPIC, "")->len, 0);
}

/* Answers go out at QoS 1 and take room in the window, but their PUBACKs
 * complete no delivery. */
static void test_answers_are_not_deliveries(void **state)
{
        (void)state;
        struct probe *live = probe_open();
        assert_int_equal(mosquitto_subscribe(live->m, NULL, INGEST_TOPIC "/result", 1), MOSQ_ERR_SUCCESS);
        assert_int_equal(mosquitto_subscribe(live->m, NULL, SENTINEL_TOPIC, 1), MOSQ_ERR_SUCCESS);
        probe_pump(live, probe_saw_sentinel);
        live->n = 0;
        const char *answer = "{\"id\":\"A18\",\"status\":\"pending\"}";
        assert_int_equal(dawn_channel_mqtt_publish(F.ch, INGEST_TOPIC "/result", answer, strlen(answer), false),
                         0);
        probe_pump(live, probe_has_one);
        assert_string_equal(live->msgs[0].payload, answer);
        assert_false(live->msgs[0].retain);
        probe_close(live);

        size_t delivered = F.n_delivered, transient = F.n_transient;
        broker_kill(SIGSTOP); /* nothing is acknowledged meanwhile */
        size_t sent = 0;
        int r;
        while ((r = dawn_channel_mqtt_publish(F.ch, INGEST_TOPIC "/result", "{}", 2, false)) == 0 &&
               sent < 100000) {
                if (++sent % 256 == 0)
                        assert_true(sd_event_run(F.loop, 0) >= 0);
        }
        assert_int_equal(r, -ENOBUFS);
        assert_true(sent >= 1000 && sent < 65535);
        assert_false(is_ready(NULL));

        unsigned before = F.ready_calls;
        kill(F.broker, SIGCONT);
        assert_true(run_until(ready_announced, &before, DEADLINE_USEC));
        struct dawn_delivery d = delivery(101, DAWN_ACTION_PUBLISH, "{\"revision\":101}");
        int64_t id = 101;
        assert_int_equal(F.ch->driver->send(F.ch, &d), 0);
        assert_true(run_until(is_done, &id, DEADLINE_USEC));
        assert_int_equal(find_done(id)->result, DAWN_SEND_DELIVERED);
        assert_int_equal(F.n_delivered, delivered + 1);
        assert_int_equal(F.n_transient, transient);
}

static void test_send_rejects_bad_delivery(void **state)
{
        (void)state;
        struct dawn_delivery d = delivery(3, DAWN_ACTION_PUBLISH, "{}");
        d.recipient = "dawntest/v1/alerts/#"; /* wildcards are not allowed in a publish */
        assert_int_equal(F.ch->driver->send(F.ch, &d), -EINVAL);
        d = delivery(3, DAWN_ACTION_PUBLISH, NULL);
        assert_int_equal(F.ch->driver->send(F.ch, &d), -EINVAL);
        assert_true(is_ready(NULL));
}

static void test_broker_restart(void **state)
{
        (void)state;
        assert_true(is_ready(NULL));
        broker_kill(SIGTERM);
        assert_true(run_until(is_not_ready, NULL, DEADLINE_USEC));
        struct dawn_delivery d = delivery(4, DAWN_ACTION_PUBLISH, "{\"revision\":4}");
        assert_int_equal(F.ch->driver->send(F.ch, &d), -EAGAIN);
        assert_int_equal(dawn_channel_mqtt_publish(F.ch, INGEST_TOPIC "/result", "{}", 2, false), -ENOTCONN);
        char want[64];
        snprintf(want, sizeof(want), "disconnected from 127.0.0.1:%d without TLS: ", F.port);
        assert_memory_equal(F.ch->driver->describe(F.ch), want, strlen(want));

        unsigned before = F.ready_calls;
        broker_start();
        publish_sentinel();
        assert_true(run_until(ready_announced, &before, DEADLINE_USEC));
        snprintf(want, sizeof(want), "connected to 127.0.0.1:%d without TLS", F.port);
        assert_string_equal(F.ch->driver->describe(F.ch), want);
        assert_status("online");

        int64_t id = 4;
        assert_int_equal(F.ch->driver->send(F.ch, &d), 0);
        assert_true(run_until(is_done, &id, DEADLINE_USEC));
        assert_int_equal(find_done(id)->result, DAWN_SEND_DELIVERED);
}

/* The restarted broker (no persistence) forgot the session: the channel
 * subscribed again after the CONNACK. */
static void test_listen_after_broker_restart(void **state)
{
        (void)state;
        F.n_heard = 0;
        probe_publish(ACK_TOPIC, ACK_JSON, true);
        struct want w = { ACK_TOPIC, ACK_JSON };
        /* live, or retained at the SUBSCRIBE if that came later: heard either way */
        assert_true(run_until(was_heard, &w, DEADLINE_USEC));
}

/* A stopped broker cannot acknowledge; killing it then loses the
 * connection with the delivery in flight. */
static void test_inflight_lost_is_transient(void **state)
{
        (void)state;
        assert_true(is_ready(NULL));
        broker_kill(SIGSTOP);
        struct dawn_delivery pub = delivery(5, DAWN_ACTION_PUBLISH, "{\"revision\":5}");
        struct dawn_delivery wd = delivery(6, DAWN_ACTION_WITHDRAW, "{\"revision\":6}");
        assert_int_equal(F.ch->driver->send(F.ch, &pub), 0);
        assert_int_equal(F.ch->driver->send(F.ch, &wd), 0);
        assert_int_equal(sd_event_run(F.loop, 0) >= 0, 1);
        assert_null(find_done(5));
        broker_kill(SIGKILL);

        int64_t id = 6;
        assert_true(run_until(is_done, &id, DEADLINE_USEC));
        for (id = 5; id <= 6; id++) {
                const struct completion *c = find_done(id);
                assert_non_null(c);
                assert_int_equal(c->result, DAWN_SEND_TRANSIENT);
                assert_string_equal(c->error, "broker connection lost");
        }
        assert_false(is_ready(NULL));

        unsigned before = F.ready_calls;
        broker_start();
        publish_sentinel();
        assert_true(run_until(ready_announced, &before, DEADLINE_USEC));
        assert_status("online");
}

static bool delivered_at_least(const void *arg)
{
        return F.n_delivered >= *(const size_t *)arg;
}

/* The channel bounds what is in flight: past the window ready() turns false
 * and send() says -EAGAIN; the ready callback fires once it has drained. */
static void test_window_full(void **state)
{
        (void)state;
        assert_true(is_ready(NULL));
        broker_kill(SIGSTOP); /* nothing is acknowledged meanwhile */
        struct dawn_delivery d = delivery(0, DAWN_ACTION_PUBLISH, "{\"flood\":true}");
        d.recipient = PREFIX "/test/flood";
        size_t sent = 0, before_delivered = F.n_delivered;
        int r;
        while ((r = F.ch->driver->send(F.ch, &d)) == 0 && sent < 100000) {
                sent++;
                d.id++;
                if (sent % 256 == 0)
                        assert_true(sd_event_run(F.loop, 0) >= 0);
        }
        assert_int_equal(r, -EAGAIN);
        assert_true(sent >= 1000 && sent < 65535);
        assert_false(is_ready(NULL));
        assert_int_equal(F.n_delivered, before_delivered);

        unsigned before = F.ready_calls;
        kill(F.broker, SIGCONT);
        assert_true(run_until(ready_announced, &before, DEADLINE_USEC));
        size_t want = before_delivered + sent;
        assert_true(run_until(delivered_at_least, &want, DEADLINE_USEC));
        assert_int_equal(F.n_delivered, want);
        assert_int_equal(F.n_transient, 2); /* from test_inflight_lost_is_transient */
}

/* A clean stop replaces "online" with "offline" itself: the broker drops
 * the will on a clean DISCONNECT. */
static void test_clean_stop_says_offline(void **state)
{
        (void)state;
        F.ch = dawn_channel_free(F.ch); /* clean stop: publishes "offline" itself */
        assert_status("offline");
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &F.cfg, on_complete, on_ready,
                                          NULL, &F.ch),
                         0);
        assert_true(run_until(is_ready, NULL, DEADLINE_USEC));
        assert_status("online");
}

/* The broker keeps dawnd's session while it is away: a report published
 * meanwhile arrives when it is back. */
static void test_session_keeps_reports_while_away(void **state)
{
        (void)state;
        listen_and_wait();
        F.ch = dawn_channel_free(F.ch);
        const char *report = "{\"summary\":\"published while dawnd was away\"}";
        probe_publish(INGEST_TOPIC, report, false);
        F.n_heard = 0;
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &F.cfg, on_complete, on_ready,
                                          NULL, &F.ch),
                         0);
        assert_int_equal(dawn_channel_mqtt_listen(F.ch, listen_filters, 2, on_heard, NULL), 0);
        struct want w = { INGEST_TOPIC, report };
        assert_true(run_until(was_heard, &w, DEADLINE_USEC));
        assert_false(find_heard(INGEST_TOPIC, report)->retained);
        assert_true(run_until(is_ready, NULL, DEADLINE_USEC));
}

static void test_password(void **state)
{
        (void)state;
        char path[128];
        struct dawn_channel *ch = NULL;
        struct dawn_config cfg = F.cfg;
        snprintf(path, sizeof(path), "%s/mqtt-password", F.dir);
        cfg.mqtt.port = F.auth_port;
        cfg.mqtt.client_id = (char *)"dawnd-auth";
        cfg.mqtt.username = (char *)"dawn";
        cfg.mqtt.password_file = path;

        write_file(path, "wrong\n");
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &cfg, NULL, NULL, NULL, &ch), 0);
        struct dawn_channel *saved = F.ch;
        F.ch = ch; /* is_ready() looks at F.ch */
        char want[96];
        snprintf(want, sizeof(want), "disconnected from 127.0.0.1:%d without TLS: Connection Refused: not authorised (",
                 F.auth_port);
        uint64_t deadline = now_usec() + DEADLINE_USEC;
        while (strncmp(ch->driver->describe(ch), want, strlen(want)) != 0 && now_usec() < deadline)
                assert_true(sd_event_run(F.loop, 50 * USEC_PER_MSEC) >= 0);
        assert_memory_equal(ch->driver->describe(ch), want, strlen(want));
        assert_false(is_ready(NULL));
        ch = dawn_channel_free(ch);

        write_file(path, "s3cret\n"); /* the trailing newline is not part of it */
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &cfg, NULL, NULL, NULL, &ch), 0);
        F.ch = ch;
        assert_true(run_until(is_ready, NULL, DEADLINE_USEC));
        F.ch = saved;
        ch = dawn_channel_free(ch);

        cfg.mqtt.password_file = (char *)"/nonexistent/dawn-password";
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &cfg, NULL, NULL, NULL, &ch),
                         -ENOENT);
}

/* Nothing listening: start() returns at once, and says why it waits. */
static void test_refused_does_not_block(void **state)
{
        (void)state;
        struct dawn_channel *ch = NULL;
        struct dawn_config cfg = F.cfg;
        cfg.mqtt.port = free_port();
        cfg.mqtt.client_id = (char *)"dawnd-nobody";
        uint64_t t0 = now_usec();
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &cfg, NULL, NULL, NULL, &ch), 0);
        assert_true(now_usec() - t0 < DAWN_USEC_PER_SEC);
        assert_false(ch->driver->ready(ch));
        struct dawn_delivery d = delivery(7, DAWN_ACTION_PUBLISH, "{}");
        assert_int_equal(ch->driver->send(ch, &d), -EAGAIN);
        for (int i = 0; i < 5; i++)
                assert_true(sd_event_run(F.loop, 20 * USEC_PER_MSEC) >= 0);
        char want[96];
        snprintf(want, sizeof(want), "disconnected from 127.0.0.1:%d without TLS: Connection refused (retry in ",
                 cfg.mqtt.port);
        assert_memory_equal(ch->driver->describe(ch), want, strlen(want));
        dawn_channel_free(ch);
}

/* A broker whose accept queue is full never completes the TCP handshake,
 * let alone answers: start() must not wait for it, and the attempt must end
 * (after the keepalive period, 5 s here) so that the next can begin. */
static void test_silent_broker_times_out(void **state)
{
        (void)state;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(a);
        int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fill[4];
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
        assert_int_equal(listen(lfd, 0), 0);
        for (size_t i = 0; i < 4; i++) {
                fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                assert_true(fill[i] >= 0);
                (void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
        }

        struct dawn_channel *ch = NULL;
        struct dawn_config cfg = F.cfg;
        cfg.mqtt.port = ntohs(a.sin_port);
        cfg.mqtt.keepalive = 5;
        cfg.mqtt.client_id = (char *)"dawnd-silent";
        uint64_t t0 = now_usec();
        assert_int_equal(dawn_channel_new(&dawn_channel_mqtt, F.loop, &cfg, NULL, NULL, NULL, &ch), 0);
        assert_true(now_usec() - t0 < DAWN_USEC_PER_SEC / 2);
        char want[96];
        snprintf(want, sizeof(want), "connecting to 127.0.0.1:%d without TLS", cfg.mqtt.port);
        assert_string_equal(ch->driver->describe(ch), want);

        snprintf(want, sizeof(want), "disconnected from 127.0.0.1:%d without TLS: no answer within 5s (retry in ",
                 cfg.mqtt.port);
        /* the attempt ends 5 s in, or 1.5 keepalives once a connect got through the full
         * queue and a CONNECT waits for its CONNACK: on a loaded machine (CI runs three
         * builds' tests at once) 10 s was not always enough to see either */
        uint64_t deadline = now_usec() + 2 * DEADLINE_USEC;
        while (strncmp(ch->driver->describe(ch), want, strlen(want)) != 0 && now_usec() < deadline)
                assert_true(sd_event_run(F.loop, 50 * USEC_PER_MSEC) >= 0);
        assert_memory_equal(ch->driver->describe(ch), want, strlen(want));
        dawn_channel_free(ch);
        for (size_t i = 0; i < 4; i++)
                close(fill[i]);
        close(lfd);
}

int main(void)
{
        if (access("/usr/sbin/mosquitto", X_OK) != 0 && system("command -v mosquitto >/dev/null") != 0) {
                printf("[  SKIPPED ] test_channel_mqtt: mosquitto is not installed\n");
                return 0;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_driver_table),
                cmocka_unit_test(test_becomes_ready),
                cmocka_unit_test(test_status_online),
                cmocka_unit_test(test_publish_retained),
                cmocka_unit_test(test_withdraw_clears),
                cmocka_unit_test(test_review_not_retained),
                cmocka_unit_test(test_listen),
                cmocka_unit_test(test_answers_are_not_deliveries),
                cmocka_unit_test(test_send_rejects_bad_delivery),
                cmocka_unit_test(test_broker_restart),
                cmocka_unit_test(test_listen_after_broker_restart),
                cmocka_unit_test(test_inflight_lost_is_transient),
                cmocka_unit_test(test_window_full),
                cmocka_unit_test(test_clean_stop_says_offline),
                cmocka_unit_test(test_session_keeps_reports_while_away),
                cmocka_unit_test(test_password),
                cmocka_unit_test(test_refused_does_not_block),
                cmocka_unit_test(test_silent_broker_times_out),
        };
        return cmocka_run_group_tests_name("channel_mqtt", tests, group_setup, group_teardown);
}
