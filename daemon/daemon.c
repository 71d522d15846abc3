#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

static void on_store_fatal(int r, void *userdata)
{
        struct dawn_daemon *d = userdata;
        /* PostgreSQL's lesson: after a failed fsync the page cache cannot be trusted; stop, and let
         * systemd restart us on what is really on disk */
        log_error_errno(r, "store: unrecoverable error (%m); stopping so that nothing unstored is reported as stored");
        d->exit_code = EXIT_FAILURE;
        sd_event_exit(d->loop, EXIT_FAILURE);
}

static int start_channels(struct dawn_daemon *d)
{
        for (size_t i = 0; dawn_channel_drivers[i]; i++) {
                const struct dawn_channel_driver *drv = dawn_channel_drivers[i];
                if (drv->kind == DAWN_CHANNEL_MQTT && !d->config->mqtt.enabled)
                        continue;
                int r = dawn_channel_new(drv, d->loop, d->config, dawn_outbox_on_complete, dawn_outbox_on_ready,
                                         d->outbox, &d->channels[drv->kind]);
                if (r < 0)
                        return log_error_errno(r, "channel %s: cannot start: %m", drv->name);
                dawn_outbox_attach(d->outbox, drv->kind, d->channels[drv->kind]);
        }
        return 0;
}

static void stop_channel(struct dawn_daemon *d, enum dawn_channel_kind kind)
{
        dawn_outbox_attach(d->outbox, kind, NULL);
        d->channels[kind] = dawn_channel_free(d->channels[kind]);
}

void dawn_daemon_update_status(struct dawn_daemon *d)
{
        cJSON *active = cJSON_CreateArray(), *counts = cJSON_CreateObject();
        dawn_store_list_alerts(d->store, false, active);
        dawn_store_queue_counts(d->store, counts);
        double waiting = 0;
        const cJSON *ch, *st;
        cJSON_ArrayForEach(ch, counts)
                cJSON_ArrayForEach(st, ch)
                        if (!strcmp(st->string, "pending") || !strcmp(st->string, "retrying"))
                                waiting += st->valuedouble;
        const char *mqtt = d->channels[DAWN_CHANNEL_MQTT]
                                   ? d->channels[DAWN_CHANNEL_MQTT]->driver->describe(d->channels[DAWN_CHANNEL_MQTT])
                                   : "not configured";
        sd_notifyf(0, "STATUS=%d active alert(s); outbox: %.0f waiting, %u in flight; mqtt: %s",
                   cJSON_GetArraySize(active), waiting, dawn_outbox_in_flight(d->outbox), mqtt);
        cJSON_Delete(active);
        cJSON_Delete(counts);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_daemon *d = userdata;
        dawn_daemon_update_status(d);
        sd_event_source_set_time_relative(s, 5 * DAWN_USEC_PER_SEC);
        return 0;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct dawn_daemon *d = userdata;
        /* the loop turned to get here; the ping also says the store still takes writes */
        int r = dawn_store_check_writable(d->store);
        if (r == 0)
                sd_notify(0, "WATCHDOG=1");
        else
                log_error_errno(r, "watchdog: store not writable (%s): not pinging", dawn_store_errmsg(d->store));
        sd_event_source_set_time_relative(s, d->watchdog_usec / 2);
        return 0;
}

static void stop(struct dawn_daemon *d, const char *why)
{
        if (d->stopping)
                return;
        d->stopping = true;
        log_info("%s: stopping", why);
        sd_notify(0, "STOPPING=1");
        /* no new requests; the transaction in progress is committed and its answers sent */
        dawn_control_stop_listening(d->control);
        dawn_commit_flush(d->commit);
        sd_event_exit(d->loop, d->exit_code);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct dawn_daemon *d = userdata;
        if (si->ssi_signo == SIGHUP) {
                char msg[2048];
                if (dawn_daemon_reload(d, msg, sizeof(msg)) < 0)
                        log_error("SIGHUP: configuration not reloaded, the old one stays: %s", msg);
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
                int r = sd_event_add_signal(d->loop, NULL, sigs[i], on_signal, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int activated_socket(void)
{
        int n = sd_listen_fds(1);
        if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0)
                return SD_LISTEN_FDS_START;
        if (n > 0)
                log_warning("socket activation passed %d descriptor(s), not one listening Unix stream socket; ignoring", n);
        return -1;
}

static int open_store(struct dawn_daemon *d)
{
        if (mkdir(d->config->state_dir, 0750) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "state directory %s: %m", d->config->state_dir);
        if (asprintf(&d->db_path, "%s/dawn.db", d->config->state_dir) < 0)
                return -ENOMEM;
        int r = dawn_store_open(d->db_path, &d->store);
        if (r == -EPROTONOSUPPORT)
                return log_error_errno(r, "store %s was written by a newer dawnd; refusing to touch it", d->db_path);
        if (r < 0)
                return log_error_errno(r, "store %s: cannot open: %m", d->db_path);
        r = dawn_store_requeue_inflight(d->store, dawn_now_usec());
        if (r > 0)
                log_notice("store: %d delivery(ies) were in flight when dawnd last stopped; sending them again", r);
        return r < 0 ? r : 0;
}

int dawn_daemon_new(const char *config_path, struct dawn_config *config, struct dawn_daemon **out)
{
        struct dawn_daemon *d = calloc(1, sizeof(*d));
        if (!d) {
                dawn_config_free(config);
                return -ENOMEM;
        }
        d->config = config;
        d->config_path = strdup(config_path);
        d->started_at = dawn_now_usec();
        int r = sd_event_default(&d->loop);
        if (r >= 0)
                r = open_store(d);
        if (r >= 0)
                r = dawn_commit_new(d->loop, d->store, on_store_fatal, d, &d->commit);
        if (r >= 0)
                r = dawn_outbox_new(d->loop, d->store, d->commit, &d->outbox);
        if (r >= 0)
                r = start_channels(d);
        if (r >= 0)
                r = add_signals(d);
        if (r >= 0)
                r = dawn_control_new(d, activated_socket(), &d->control);
        if (r >= 0 && sd_watchdog_enabled(0, &d->watchdog_usec) > 0)
                r = sd_event_add_time_relative(d->loop, &d->watchdog, CLOCK_MONOTONIC, d->watchdog_usec / 2, 0,
                                               on_watchdog, d);
        if (r >= 0)
                r = sd_event_add_time_relative(d->loop, &d->status_timer, CLOCK_MONOTONIC, 5 * DAWN_USEC_PER_SEC, 0,
                                               on_status_timer, d);
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
        log_info("dawnd %s ready: store %s, control socket %s", DAWN_VERSION, d->db_path, d->config->control_socket);
        sd_notify(0, "READY=1");
        dawn_daemon_update_status(d);
        dawn_outbox_kick(d->outbox); /* whatever waited from before the restart */
        int r = sd_event_loop(d->loop);
        return r < 0 ? EXIT_FAILURE : r;
}

struct dawn_daemon *dawn_daemon_free(struct dawn_daemon *d)
{
        if (!d)
                return NULL;
        d->control = dawn_control_free(d->control);
        for (int k = 0; k < DAWN_CHANNEL_COUNT; k++)
                if (d->channels[k])
                        stop_channel(d, (enum dawn_channel_kind)k);
        d->outbox = dawn_outbox_free(d->outbox);
        d->commit = dawn_commit_free(d->commit);
        d->store = dawn_store_close(d->store);
        sd_event_source_disable_unref(d->watchdog);
        sd_event_source_disable_unref(d->status_timer);
        sd_event_unref(d->loop);
        dawn_config_free(d->config);
        free(d->config_path);
        free(d->db_path);
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

static bool same_str(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool mqtt_changed(const struct dawn_mqtt_config *a, const struct dawn_mqtt_config *b)
{
        return a->enabled != b->enabled || a->port != b->port || a->qos != b->qos || a->keepalive != b->keepalive ||
               !same_str(a->host, b->host) || !same_str(a->topic_prefix, b->topic_prefix) ||
               !same_str(a->client_id, b->client_id) || !same_str(a->username, b->username) ||
               !same_str(a->password_file, b->password_file);
}

int dawn_daemon_reload(struct dawn_daemon *d, char *msg, size_t n)
{
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(dawn_now_usec()));
        msg[0] = '\0';
        struct dawn_config *fresh = NULL;
        struct dawn_errors errs = { 0 };
        int r = check_in_child(d->config_path, msg, n);
        if (r == 0 && (r = dawn_config_load(d->config_path, &fresh, &errs)) < 0)
                snprintf(msg, n, "%s", errs.n ? errs.msgs[0] : strerror(-r));
        dawn_errors_free(&errs);
        if (r < 0) {
                sd_notify(0, "READY=1");
                return -EINVAL;
        }
        if (strcmp(fresh->state_dir, d->config->state_dir) != 0 ||
            strcmp(fresh->control_socket, d->config->control_socket) != 0)
                log_warning("reload: daemon.state_dir and daemon.control_socket take effect at the next restart");
        /* keep what cannot change without a restart, so the daemon describes itself truthfully */
        char *keep;
        keep = fresh->state_dir, fresh->state_dir = d->config->state_dir, d->config->state_dir = keep;
        keep = fresh->control_socket, fresh->control_socket = d->config->control_socket, d->config->control_socket = keep;

        struct dawn_config *old = d->config;
        bool restart_mqtt = mqtt_changed(&old->mqtt, &fresh->mqtt);
        if (restart_mqtt)
                stop_channel(d, DAWN_CHANNEL_MQTT);
        d->config = fresh;
        dawn_config_free(old);
        if (restart_mqtt) {
                /* what the old connection had in flight goes out again on the new one */
                if (dawn_commit_open(d->commit) == 0)
                        dawn_store_requeue_inflight(d->store, dawn_now_usec());
                if (start_channels(d) < 0)
                        log_error("reload: the mqtt channel did not start; deliveries wait");
        }
        log_info("configuration reloaded from %s (%zu areas, %zu subscribers)", d->config_path, fresh->n_areas,
                 fresh->n_subscribers);
        sd_notify(0, "READY=1");
        dawn_outbox_kick(d->outbox);
        return 0;
}
