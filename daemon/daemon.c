#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "channel.h"
#include "control.h"
#include "escalation.h"
#include "heartbeat.h"
#include "http.h"
#include "mqtt_ingest.h"
#include "submit.h"
#include "intake.h"
#include "log.h"
#include "retention.h"

static void on_store_fatal(int r, void *userdata)
{
        struct dawn_daemon *d = userdata;
        /* PostgreSQL's lesson: after a failed fsync the page cache cannot be trusted; stop, and let
         * systemd restart us on what is really on disk */
        log_error_errno(r, "store: unrecoverable error (%m); stopping so that nothing unstored is reported as stored");
        d->exit_code = EXIT_FAILURE;
        sd_event_exit(d->ways.loop, EXIT_FAILURE);
}

/* Starts every configured channel that is not running yet. */
static int start_channels(struct dawn_daemon *d)
{
        for (size_t i = 0; dawn_channel_drivers[i]; i++) {
                const struct dawn_channel_driver *drv = dawn_channel_drivers[i];
                if (d->ways.channels[drv->kind] || !dawn_channel_configured(d->ways.config, drv->kind))
                        continue;
                int r = dawn_channel_new(drv, d->ways.loop, d->ways.config, dawn_outbox_on_complete, dawn_outbox_on_ready,
                                         d->ways.outbox, &d->ways.channels[drv->kind]);
                if (r < 0)
                        return log_error_errno(r, "channel %s: cannot start: %m", drv->name);
                dawn_outbox_attach(d->ways.outbox, drv->kind, d->ways.channels[drv->kind]);
                /* MQTT ingest listens on the MQTT channel: a new channel (start, or a reload that
                 * changed channels.mqtt) is wired again */
                if (drv->kind == DAWN_CHANNEL_MQTT &&
                    (r = dawn_ingest_mqtt_new(&d->ways, d->ways.channels[drv->kind], &d->ingest_mqtt)) < 0)
                        return log_error_errno(r, "MQTT ingest: cannot start: %m");
        }
        return 0;
}

static void stop_channel(struct dawn_daemon *d, enum dawn_channel_kind kind)
{
        if (kind == DAWN_CHANNEL_MQTT)
                d->ingest_mqtt = dawn_ingest_mqtt_free(d->ingest_mqtt); /* before the channel it listens on */
        dawn_outbox_attach(d->ways.outbox, kind, NULL);
        d->ways.channels[kind] = dawn_channel_free(d->ways.channels[kind]);
}

void dawn_daemon_update_status(struct dawn_daemon *d)
{
        int64_t waiting = dawn_store_count_waiting(d->ways.store);
        const char *mqtt = d->ways.channels[DAWN_CHANNEL_MQTT]
                                   ? d->ways.channels[DAWN_CHANNEL_MQTT]->driver->describe(d->ways.channels[DAWN_CHANNEL_MQTT])
                                   : "not configured";
        /* a paused channel is what an operator most needs to see in systemctl status */
        char paused[256] = "";
        size_t len = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                struct dawn_channel_pause p;
                if (dawn_outbox_pause(d->ways.outbox, (enum dawn_channel_kind)k, &p) && len < sizeof(paused)) {
                        int n = snprintf(paused + len, sizeof(paused) - len, "; %s paused: %s",
                                         dawn_channel_name((enum dawn_channel_kind)k), dawn_pause_reason_text(p.reason));
                        len += n > 0 ? (size_t)n : 0;
                }
        }
        sd_notifyf(0, "STATUS=%d active alert(s); outbox: %lld waiting, %u in flight; mqtt: %s%s",
                   dawn_store_count_open_alerts(d->ways.store), (long long)(waiting > 0 ? waiting : 0),
                   dawn_outbox_in_flight(d->ways.outbox), mqtt, paused);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_daemon *d = userdata;
        dawn_daemon_update_status(d);
        sd_event_source_set_time_relative(s, 5 * DAWN_USEC_PER_SEC);
        return 0;
}

/* ---- the watchdog ----
 *
 * systemd kills and restarts dawnd (WatchdogSec=, Restart=on-failure) when the pings stop, so a
 * ping says three things, each cheap enough to check every half interval:
 *
 * 1. The loop turns: the ping is sent from a timer on it.
 * 2. The store takes writes. dawn_store_check_writable() takes SQLite's write lock, which fails
 *    while another process holds the database, but writes nothing, so it still passes on a file
 *    system that went read-only after an I/O error (ext4 errors=remount-ro) until the next
 *    commit fails. So one byte is also written and synced in the state directory, in an unnamed
 *    file that vanishes on close (O_TMPFILE). A full disk is not a reason to stop: a commit is
 *    then a temporary refusal, dawnd carries on when space returns, and a restart would not
 *    make room.
 * 3. The outbox moves. Work is waiting when a channel has deliveries in flight, or is ready and
 *    has one due (dawn_store_next_due() at or before now). While work waits, some delivery must
 *    end (delivered, retried or failed: the outbox's counts since start) within
 *    DAWN_WATCHDOG_STALL_INTERVALS watchdog intervals. A broker that takes publishes but never
 *    acknowledges them, or an outbox that stopped dispatching, stops the pings; a broker that is
 *    down does not (the channel is not ready and has nothing in flight), nor does a channel paused
 *    because its provider refused it (pause.h: not ready either, and a request that ended in the
 *    pause counts as an end), nor do quiet hours or backoff (their next_at is in the future). A restart re-queues what was in flight and
 *    reconnects. With the unit's WatchdogSec=30s that is 90 s without progress, longer than
 *    libmosquitto takes to notice a dead connection at the default keepalive (30 s), so a
 *    broker that vanished is seen as a disconnection first; and never less than the longest
 *    SMS or email request timeout and one more interval, so that a gateway that hangs is
 *    seen as timeouts (retries) first. */
#define DAWN_WATCHDOG_STALL_INTERVALS 3

/* What the watchdog remembers between ticks; one daemon runs in a process. */
static struct {
        uint64_t completions; /* deliveries that ended, summed over channels, as last seen */
        uint64_t moved_at;    /* CLOCK_MONOTONIC: when the outbox last moved or had nothing to do */
        bool stalled;         /* said so in the log */
} watchdog_state;

static int state_dir_writable(const char *dir)
{
        int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) {
                if (errno == EOPNOTSUPP || errno == EISDIR)
                        return 0; /* a file system without O_TMPFILE: the SQLite check has to do */
                return errno == ENOSPC || errno == EDQUOT ? 0 : -errno;
        }
        int r = 0;
        if (write(fd, "", 1) != 1 || fdatasync(fd) < 0)
                r = errno == ENOSPC || errno == EDQUOT ? 0 : -errno;
        close(fd);
        return r;
}

/* Sums the deliveries that ended into *completions; true if work is waiting. */
static bool outbox_work_waiting(struct dawn_daemon *d, uint64_t *completions)
{
        bool waiting = false;
        int64_t now = dawn_now_usec();
        *completions = 0;
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++) {
                struct dawn_outbox_counts n;
                dawn_outbox_counts(d->ways.outbox, (enum dawn_channel_kind)k, &n);
                if (!n.attached)
                        continue;
                /* a delivery sent back to wait for a pause ended too; a paused channel is not
                 * ready, so it asks nothing more of the watchdog once its last request ends */
                *completions += n.delivered + n.retried + n.failed + n.ended_other;
                if (n.in_flight > 0) {
                        waiting = true;
                } else if (n.ready) {
                        int64_t due = dawn_store_next_due(d->ways.store, (enum dawn_channel_kind)k);
                        waiting |= due > 0 && due <= now;
                }
        }
        return waiting;
}

/* 0 while the outbox moves, -ETIMEDOUT once it has not for too long. */
static int outbox_moving(struct dawn_daemon *d, uint64_t now)
{
        uint64_t completions;
        bool waiting = outbox_work_waiting(d, &completions);
        if (!waiting || completions != watchdog_state.completions || watchdog_state.moved_at == 0) {
                watchdog_state.completions = completions;
                watchdog_state.moved_at = now;
                if (watchdog_state.stalled)
                        log_notice("watchdog: the outbox is moving again");
                watchdog_state.stalled = false;
                return 0;
        }
        uint64_t limit = DAWN_WATCHDOG_STALL_INTERVALS * d->watchdog_usec;
        if (d->ways.config->sms.enabled && d->ways.config->sms.timeout_usec + d->watchdog_usec > limit)
                limit = d->ways.config->sms.timeout_usec + d->watchdog_usec;
        if (d->ways.config->email.enabled && d->ways.config->email.timeout_usec + d->watchdog_usec > limit)
                limit = d->ways.config->email.timeout_usec + d->watchdog_usec;
        if (now - watchdog_state.moved_at < limit)
                return 0;
        if (!watchdog_state.stalled)
                log_error("watchdog: deliveries are waiting but none has ended for %llu s (%u in flight): "
                          "not pinging, so that systemd restarts dawnd",
                          (unsigned long long)((now - watchdog_state.moved_at) / DAWN_USEC_PER_SEC),
                          dawn_outbox_in_flight(d->ways.outbox));
        watchdog_state.stalled = true;
        return -ETIMEDOUT;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_daemon *d = userdata;
        /* the loop turned to get here */
        int r = dawn_store_check_writable(d->ways.store);
        if (r < 0)
                log_error_errno(r, "watchdog: store not writable (%s): not pinging", dawn_store_errmsg(d->ways.store));
        if (r == 0 && (r = state_dir_writable(d->ways.config->state_dir)) < 0)
                log_error_errno(r, "watchdog: state directory %s not writable (%m): not pinging",
                                d->ways.config->state_dir);
        /* looked at even when the store failed, so that its clock keeps up */
        if (outbox_moving(d, usec) < 0)
                r = -ETIMEDOUT;
        if (r == 0)
                sd_notify(0, "WATCHDOG=1");
        sd_event_source_set_time_relative(s, d->watchdog_usec / 2);
        return 0;
}

/* Sets the expiry timer to the earliest expires_at of an open alert. */
static void schedule_expiry(struct dawn_daemon *d)
{
        int64_t t = dawn_store_next_expiry(d->ways.store);
        if (t > 0) {
                sd_event_source_set_time(d->expiry_timer, (uint64_t)t);
                sd_event_source_set_enabled(d->expiry_timer, SD_EVENT_ONESHOT);
        } else {
                sd_event_source_set_enabled(d->expiry_timer, SD_EVENT_OFF);
        }
}

/* Alerts that reached expires_at: expired, dashboards cleared. Each is a
 * write of its own on the one write path, like a request. */
static int on_expiry(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_daemon *d = userdata;
        char ids[64][DAWN_MAX_ID_CHARS + 1];
        int64_t now = dawn_now_usec();
        /* several nodes: one expires, the others find it done (what they read after this
         * is what that one committed); a second later they look again */
        int held = dawn_commit_try_job(d->ways.commit, DAWN_JOB_EXPIRY);
        if (held <= 0) {
                if (held < 0)
                        log_error_errno(held, "expiry: %s", dawn_store_errmsg(d->ways.store));
                sd_event_source_set_time(d->expiry_timer, (uint64_t)(now + (int64_t)DAWN_USEC_PER_SEC));
                sd_event_source_set_enabled(d->expiry_timer, SD_EVENT_ONESHOT);
                return 0;
        }
        int n = dawn_store_due_expiries(d->ways.store, now, ids, 64);
        if (n < 0)
                log_error_errno(n, "expiry: cannot read due alerts: %s", dawn_store_errmsg(d->ways.store));
        struct dawn_intake in = { d->ways.store, d->ways.config, now, "dawnd", "dawnd (expiry)", DAWN_ROLE_ISSUER };
        for (int i = 0; i < n; i++) {
                struct dawn_alert a;
                dawn_alert_init(&a);
                int r = dawn_commit_begin(d->ways.commit);
                if (r == 0)
                        r = dawn_commit_end(d->ways.commit, dawn_intake_expire(&in, ids[i], &a));
                if (r == 0)
                        log_alert(LOG_INFO, a.id, "alert %s expired (revision %d)", a.id, a.revision);
                else if (r < 0)
                        log_error_errno(r, "expiry: alert %s: %s", ids[i], dawn_store_errmsg(d->ways.store));
                dawn_alert_clear(&a);
        }
        /* more may be due (more than 64 at once), or the next one later; the outbox is
         * kicked by the after-write hook once the expiries are committed. Until then the
         * store's answer is not durable: if the batch's COMMIT fails (a full disk) those
         * alerts are active again and no hook runs, so a second later is the fallback
         * (a commit re-arms the timer sooner). */
        if (n > 0 && dawn_commit_is_open(d->ways.commit)) {
                sd_event_source_set_time(d->expiry_timer, (uint64_t)(now + (int64_t)DAWN_USEC_PER_SEC));
                sd_event_source_set_enabled(d->expiry_timer, SD_EVENT_ONESHOT);
        } else {
                schedule_expiry(d);
        }
        return 0;
}

/* After every batch that committed a write (any way in): what it wrote may
 * be due for sending, and may have changed when the next alert expires. */
static void after_write(void *userdata)
{
        struct dawn_daemon *d = userdata;
        dawn_outbox_kick(d->ways.outbox);
        schedule_expiry(d);
        dawn_escalator_schedule(d->escalator);
}

static void stop(struct dawn_daemon *d, const char *why)
{
        if (d->ways.stopping)
                return;
        d->ways.stopping = true;
        log_info("%s: stopping", why);
        sd_notify(0, "STOPPING=1");
        /* no new requests; the transaction in progress is committed and its answers sent */
        dawn_control_stop_listening(d->control);
        dawn_http_stop_listening(d->http);
        dawn_commit_flush(d->ways.commit);
        dawn_commit_stop_waiting(d->ways.commit);
        sd_event_exit(d->ways.loop, d->exit_code);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct dawn_daemon *d = userdata;
        if (si->ssi_signo == SIGHUP) {
                char msg[2048];
                int r = dawn_daemon_reload(d, msg, sizeof(msg));
                if (r < 0)
                        log_error("SIGHUP: configuration not reloaded, the old one stays: %s", msg);
                dawn_audit_reload(&d->ways, "SIGHUP", r, msg);
                return 0;
        }
        stop(d, si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        return 0;
}

static int add_signals(struct dawn_daemon *d)
{
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
        for (size_t i = 0; i < 3; i++) {
                int r = sd_event_add_signal(d->ways.loop, NULL, sigs[i], on_signal, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Where the control socket passed by systemd (dawnd.socket) is, for the log: the unit's
 * ListenStream=, not daemon.control_socket, says so then. Empty when dawnd made its own. */
static char activated_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

static int activated_socket(void)
{
        int n = sd_listen_fds(1);
        if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
                struct sockaddr_un sa = { 0 };
                socklen_t len = sizeof(sa);
                if (getsockname(SD_LISTEN_FDS_START, (struct sockaddr *)&sa, &len) == 0)
                        snprintf(activated_path, sizeof(activated_path), "%s",
                                 sa.sun_path[0] ? sa.sun_path : "an abstract socket");
                return SD_LISTEN_FDS_START;
        }
        if (n > 0)
                log_warning("socket activation passed %d descriptor(s), not one listening Unix stream socket; ignoring", n);
        return -1;
}

/* One dawnd per store. A second one (started by hand beside the service) found
 * the control socket taken only after it had opened the store: it sent the
 * first one's in-flight deliveries again (the requeue below), and at its exit
 * saved delivery counts that the first one's next delivery made stale, which
 * the open after a crash of the first then showed (store.c, ended_save). An
 * flock in a file of its own (SQLite's locks on dawn.db are fcntl locks, which
 * the close of any descriptor of that file would drop); the kernel releases it
 * however dawnd ends. It only guards: if the file cannot be made (a full disk
 * at the first start), dawnd starts without it. */
static int lock_state_dir(struct dawn_daemon *d)
{
        char path[4096];
        int n = snprintf(path, sizeof(path), "%s/dawnd.lock", d->ways.config->state_dir);
        if (n < 0 || (size_t)n >= sizeof(path))
                return log_error_errno(-ENAMETOOLONG, "state directory %s: %m", d->ways.config->state_dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) {
                log_warning_errno(-errno, "%s: %m; not guarded against a second dawnd on this store", path);
                return 0;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;
                close(fd);
                if (r == -EWOULDBLOCK)
                        return log_error_errno(-EBUSY, "state directory %s: another dawnd uses it (%s is locked); "
                                               "not opening its store", d->ways.config->state_dir, path);
                log_warning_errno(r, "%s: cannot lock (%m); not guarded against a second dawnd on this store", path);
                return 0;
        }
        d->store_lock_fd = fd;
        return 0;
}

/* the heartbeat's view of what this node has in flight */
static size_t in_flight_ids(void *userdata, int64_t *ids, size_t max)
{
        struct dawn_daemon *d = userdata;
        return d->ways.outbox ? dawn_outbox_in_flight_ids(d->ways.outbox, ids, max) : 0;
}

static int open_store(struct dawn_daemon *d)
{
        if (mkdir(d->ways.config->state_dir, 0750) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "state directory %s: %m", d->ways.config->state_dir);
        int r = lock_state_dir(d);
        if (r < 0)
                return r;
        const struct dawn_config *c = d->ways.config;
        struct dawn_store_options o = { .backend = c->store_backend, .conninfo = c->store_conninfo,
                                        .node = c->node_id, .lease_usec = (int64_t)c->store_lease_usec,
                                        .timeout_usec = (int64_t)c->store_timeout_usec };
        char *password = NULL;
        if (c->store_backend == DAWN_STORE_POSTGRESQL) {
                /* what status and the log show: libpq's conninfo, which config.c keeps free of passwords */
                if (asprintf(&d->ways.db_path, "postgresql: %s", c->store_conninfo) < 0)
                        return -ENOMEM;
                if (c->store_password_file && (r = dawn_channel_read_secret(c->store_password_file, &password)) < 0)
                        return log_error_errno(r, "store.password_file %s: %m", c->store_password_file);
                o.password = password;
        } else if (asprintf(&d->ways.db_path, "%s/dawn.db", c->state_dir) < 0) {
                return -ENOMEM;
        }
        o.path = d->ways.db_path;
        r = dawn_store_open_with(&o, &d->ways.store);
        if (password) {
                explicit_bzero(password, strlen(password));
                free(password);
        }
        if (r == -EAGAIN)
                return log_error_errno(r, "store %s: cannot connect (see above)", d->ways.db_path);
        if (r == -EPROTONOSUPPORT)
                return log_error_errno(r, "store %s was written by a newer dawnd; refusing to touch it", d->ways.db_path);
        if (r < 0)
                return log_error_errno(r, "store %s: cannot open: %m", d->ways.db_path);
        dawn_store_checkpoint_in_background(d->ways.store, d->ways.db_path); /* or in commits, as before */
        r = dawn_store_requeue_inflight(d->ways.store, dawn_now_usec());
        if (r > 0)
                log_notice("store: %d delivery(ies) were in flight when dawnd last stopped; sending them again", r);
        if (r >= 0 && (r = dawn_store_node_heartbeat(d->ways.store, DAWN_VERSION, true, dawn_now_usec(), NULL, 0)) < 0)
                log_error_errno(r, "store: cannot record node %s: %s", c->node_id, dawn_store_errmsg(d->ways.store));
        return r < 0 ? r : 0;
}

/* "dawnctl reload" reaches the daemon through its ways' hook */
static int reload_hook(void *userdata, char *msg, size_t n)
{
        return dawn_daemon_reload(userdata, msg, n);
}

int dawn_daemon_new(const char *config_path, struct dawn_config *config, struct dawn_daemon **out)
{
        struct dawn_daemon *d = calloc(1, sizeof(*d));
        if (!d) {
                dawn_config_free(config);
                return -ENOMEM;
        }
        d->store_lock_fd = -1;
        d->ways.config = config;
        d->ways.config_path = strdup(config_path);
        d->ways.started_at = dawn_now_usec();
        d->ways.reload = reload_hook;
        d->ways.reload_userdata = d;
        int r = sd_event_default(&d->ways.loop);
        if (r >= 0)
                r = open_store(d);
        if (r >= 0)
                r = dawn_commit_new(d->ways.loop, d->ways.store, on_store_fatal, d, &d->ways.commit);
        if (r >= 0)
                r = dawn_commit_on_write(d->ways.commit, after_write, d);
        if (r >= 0)
                r = dawn_outbox_new(d->ways.loop, d->ways.store, d->ways.commit, &d->ways.config, &d->ways.outbox);
        if (r >= 0)
                r = start_channels(d);
        if (r >= 0)
                r = dawn_retention_new(d->ways.loop, d->ways.store, d->ways.commit, &d->ways.config,
                                       &d->ways.retention);
        if (r >= 0)
                r = dawn_heartbeat_new(d->ways.loop, d->ways.store, d->ways.commit, in_flight_ids, d, &d->heartbeat);
        if (r >= 0)
                r = add_signals(d);
        if (r >= 0)
                r = dawn_control_new(&d->ways, activated_socket(), &d->control);
        if (r >= 0)
                r = dawn_http_new(&d->ways, -1, &d->http);
        if (r >= 0 && sd_watchdog_enabled(0, &d->watchdog_usec) > 0)
                r = sd_event_add_time_relative(d->ways.loop, &d->watchdog, CLOCK_MONOTONIC, d->watchdog_usec / 2, 0,
                                               on_watchdog, d);
        if (r >= 0)
                r = sd_event_add_time_relative(d->ways.loop, &d->status_timer, CLOCK_MONOTONIC, 5 * DAWN_USEC_PER_SEC, 0,
                                               on_status_timer, d);
        if (r >= 0)
                r = sd_event_add_time(d->ways.loop, &d->expiry_timer, CLOCK_REALTIME, UINT64_MAX, 0, on_expiry, d);
        if (r >= 0)
                r = dawn_escalator_new(d->ways.loop, d->ways.store, d->ways.commit, &d->ways.config, &d->escalator);
        if (r >= 0 && d->watchdog)
                sd_event_source_set_enabled(d->watchdog, SD_EVENT_ON);
        if (r >= 0)
                sd_event_source_set_enabled(d->status_timer, SD_EVENT_ON);
        if (r < 0) {
                dawn_daemon_free(d);
                return r;
        }
        *out = d;
        return 0;
}

int dawn_daemon_run(struct dawn_daemon *d)
{
        log_info("dawnd %s ready: store %s, control socket %s%s", DAWN_VERSION, d->ways.db_path,
                 activated_path[0] ? activated_path : d->ways.config->control_socket,
                 activated_path[0] ? " (passed by systemd)" : "");
        sd_notify(0, "READY=1");
        dawn_daemon_update_status(d);
        dawn_outbox_kick(d->ways.outbox); /* whatever waited from before the restart */
        schedule_expiry(d); /* and alerts that expired while dawnd was down */
        dawn_escalator_schedule(d->escalator); /* deadlines are stored: those that passed meanwhile fire now */
        int r = sd_event_loop(d->ways.loop);
        return r < 0 ? EXIT_FAILURE : r;
}

struct dawn_daemon *dawn_daemon_free(struct dawn_daemon *d)
{
        if (!d)
                return NULL;
        d->control = dawn_control_free(d->control);
        d->http = dawn_http_free(d->http); /* before the commit: its answers wait on it */
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                if (d->ways.channels[k])
                        stop_channel(d, (enum dawn_channel_kind)k);
        d->ways.outbox = dawn_outbox_free(d->ways.outbox);
        d->ways.retention = dawn_retention_free(d->ways.retention); /* before the commit: it holds a ticket */
        d->heartbeat = dawn_heartbeat_free(d->heartbeat); /* before the commit too */
        d->ways.commit = dawn_commit_free(d->ways.commit);
        d->ways.store = dawn_store_close(d->ways.store);
        if (d->store_lock_fd >= 0)
                close(d->store_lock_fd); /* after the close: a next dawnd may open the store now */
        sd_event_source_disable_unref(d->watchdog);
        sd_event_source_disable_unref(d->status_timer);
        sd_event_source_disable_unref(d->expiry_timer);
        d->escalator = dawn_escalator_free(d->escalator);
        sd_event_unref(d->ways.loop);
        dawn_config_free(d->ways.config);
        free(d->ways.config_path);
        free(d->ways.db_path);
        free(d);
        return NULL;
}

/* ---- reload ---- */

/* Checks the file in a child: libconfig can exit() on a malformed @include,
 * and that must not take the running daemon with it. */
static int check_in_child(const char *path, char *msg, size_t n)
{
        int fds[2];
        if (pipe(fds) < 0)
                return -errno;
        pid_t pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return -errno;
        }
        if (pid == 0) {
                close(fds[0]);
                struct dawn_config *c = NULL;
                struct dawn_errors errs = { 0 };
                int r = dawn_config_load(path, &c, &errs);
                for (size_t i = 0; i < errs.n; i++)
                        dprintf(fds[1], "%s%s", i ? "; " : "", errs.msgs[i]);
                _exit(r < 0 ? 1 : 0);
        }
        close(fds[1]);
        size_t len = 0;
        ssize_t k;
        while (len + 1 < n && (k = read(fds[0], msg + len, n - 1 - len)) > 0)
                len += (size_t)k;
        msg[len] = '\0';
        close(fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (len == 0)
                snprintf(msg, n, "the configuration checker stopped unexpectedly (status %d)", status);
        return -EINVAL;
}

int dawn_daemon_reload(struct dawn_daemon *d, char *msg, size_t n)
{
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(dawn_now_usec()));
        msg[0] = '\0';
        struct dawn_config *fresh = NULL;
        struct dawn_errors errs = { 0 };
        int r = check_in_child(d->ways.config_path, msg, n);
        if (r == 0 && (r = dawn_config_load(d->ways.config_path, &fresh, &errs)) < 0)
                snprintf(msg, n, "%s", errs.n ? errs.msgs[0] : strerror(-r));
        dawn_errors_clear(&errs);
        if (r < 0) {
                sd_notify(0, "READY=1");
                return -EINVAL;
        }
        /* keep what cannot change without a restart, so the daemon describes itself truthfully */
        if (dawn_config_keep_fixed(fresh, d->ways.config))
                log_warning("reload: daemon.state_dir, daemon.control_socket and daemon.http_listen take effect at "
                            "the next restart");

        struct dawn_config *old = d->ways.config;
        /* MQTT keeps its connection unless its settings changed; SMS and email hold no
         * connection worth keeping and re-read their secrets, so they always restart */
        bool restarted[DAWN_CHANNEL_COUNT] = { false };
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                if (d->ways.channels[k] && dawn_config_channel_changed(old, fresh, (enum dawn_channel_kind)k)) {
                        stop_channel(d, (enum dawn_channel_kind)k);
                        restarted[k] = true;
                }
        d->ways.config = fresh;
        dawn_config_free(old);
        /* what the stopped channels had in flight goes out again; the others keep theirs */
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                if (restarted[k] && dawn_commit_open(d->ways.commit) == 0)
                        dawn_store_requeue_channel(d->ways.store, (enum dawn_channel_kind)k, dawn_now_usec());
        if (start_channels(d) < 0)
                log_error("reload: a channel did not start; its deliveries wait");
        /* partners' tokens and the gateways' callback secrets (it logs a failure; the old ones stay) */
        dawn_http_reload(d->http);
        log_info("configuration reloaded from %s (%zu areas, %zu subscribers)", d->ways.config_path, fresh->n_areas,
                 fresh->n_subscribers);
        sd_notify(0, "READY=1");
        dawn_outbox_kick(d->ways.outbox);
        return 0;
}
