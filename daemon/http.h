/* The HTTP API (SPEC.md, "HTTP API"): libmicrohttpd driven from the
 * daemon's sd-event loop through MHD's epoll file descriptor, so it runs on
 * the same single thread as everything else and needs no locks.
 *
 *   POST /v1/alerts                  a partner's report (or an array of up to 1,000)
 *   GET  /v1/alerts, /v1/alerts/<id> what is open / one alert (any source's token)
 *   POST /v1/callbacks/notify/status     Notify delivery receipts (bearer token)
 *   POST /v1/callbacks/notify/inbound    Notify received texts (bearer token)
 *   POST /v1/callbacks/twilio/status     Twilio status callbacks (X-Twilio-Signature)
 *   POST /v1/callbacks/twilio/inbound    Twilio incoming messages (X-Twilio-Signature)
 *   GET  /metrics                    Prometheus text format
 *   GET  /healthz                    200 "ok" while the store is writable
 *
 * Answers to writes wait for the group commit (the connection is suspended
 * meanwhile): "201 accepted" means durable, as on the control socket. */
#ifndef DAWN_HTTP_H
#define DAWN_HTTP_H

struct dawn_daemon;
struct dawn_http;

/* Listens on d->config->http_listen ("127.0.0.1:8470", "[::1]:8470";
 * "" disables the API: *out is NULL and 0 is returned), or on fd when >= 0
 * (a socket systemd passed). Reads every source's token_file and the SMS
 * callback secrets. Returns 0 or -errno (logged). */
int dawn_http_new(struct dawn_daemon *d, int fd, struct dawn_http **out);
struct dawn_http *dawn_http_free(struct dawn_http *h);
/* After a reload swapped d->config: re-reads tokens and limits. On an
 * error the old tokens stay and -errno is returned (logged). The listening
 * address does not change until a restart. */
int dawn_http_reload(struct dawn_http *h);
/* Stops accepting (shutdown); requests in progress finish. */
void dawn_http_stop_listening(struct dawn_http *h);

#endif
