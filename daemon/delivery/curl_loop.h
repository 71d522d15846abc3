/* libcurl's multi interface on the sd-event loop.
 *
 * Each curl channel (SMS, email) has a struct dawn_curl of its own: one
 * multi handle, so stopping a channel (at exit, or a reload that changes
 * it) aborts only its transfers, and dawn_curl_in_flight() is that
 * channel's count. The two never talk to the same hosts, so one shared
 * handle would pool no connections and would need per-transfer ownership
 * to stop one channel alone. Every SMS-gateway request and every SMTP
 * transaction is one transfer on its channel's multi handle, driven in
 * socket-action mode: curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION -> one sd-event io
 * source per socket) and when to wake it (CURLMOPT_TIMERFUNCTION -> one
 * one-shot CLOCK_MONOTONIC time source), and we hand every event back with
 * curl_multi_socket_action(). Nothing blocks; transfers run concurrently.
 *
 * A finished transfer is reported through its done callback from the loop,
 * never from inside dawn_curl_start(), so a caller can start a transfer
 * from anywhere (a channel's send()). From inside done it may start new
 * transfers, and even free the whole struct dawn_curl: the loop notices
 * and finishes the job once the callback has returned.
 */
#ifndef DAWN_CURL_LOOP_H
#define DAWN_CURL_LOOP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct dawn_curl;

/* A transfer ended. easy is still valid (read CURLINFO_* or curl_easy_header()
 * from it) but belongs to the loop, which frees it once done returns.
 * http_status is CURLINFO_RESPONSE_CODE: the HTTP status, or for SMTP the
 * last reply code; 0 if nothing was received. */
typedef void (*dawn_curl_done_fn)(CURL *easy, CURLcode result, long http_status, void *userdata);
/* Releases a transfer's userdata: called exactly once per started transfer,
 * after done, or instead of done when the transfer is aborted. */
typedef void (*dawn_curl_release_fn)(void *userdata);

/* Creates the multi handle and its event sources on loop. Calls
 * curl_global_init() the first time (never cleaned up: process-wide). */
int dawn_curl_new(sd_event *loop, struct dawn_curl **out);
/* Aborts every transfer still running (release is called, done is not: the
 * caller is going away) and frees everything. Safe to call from inside a
 * done callback: the memory then goes once the loop's dispatch returns.
 * Returns NULL. */
struct dawn_curl *dawn_curl_free(struct dawn_curl *c);

/* A new easy handle with what every DAWN transfer needs: url, only the
 * protocols listed (curl's CURLOPT_PROTOCOLS_STR syntax: "http,https" or
 * "smtp,smtps"), no redirects, CURLOPT_NOSIGNAL, the whole transfer bounded
 * by timeout_usec (connect by at most 15 s of it), stalls (< 1 byte/s for
 * 15 s) aborted, TLS peer and host verification on (explicitly, whatever
 * the build's defaults), and a response body that is discarded unless the
 * caller sets its own CURLOPT_WRITEFUNCTION. Returns NULL on failure
 * (out of memory, or this libcurl lacks a protocol asked for). */
CURL *dawn_curl_easy_new(const char *url, const char *protocols, uint64_t timeout_usec);

/* Starts a transfer. easy and list (a curl_slist the transfer uses:
 * headers, SMTP recipients; NULL if none) belong to the loop from this call
 * on, whether it succeeds or not. On success (0) done(..., userdata)
 * follows from the loop, then release(userdata) (release may be NULL). On
 * failure (-errno) neither is called: userdata stays the caller's. */
int dawn_curl_start(struct dawn_curl *c, CURL *easy, struct curl_slist *list,
                    dawn_curl_done_fn done, dawn_curl_release_fn release, void *userdata);

/* The channel's private CA (channels.X.ca_file, what = "channels.X" for
 * messages): every transfer started from now on trusts its certificates as
 * well as curl's default store (ca_file.c). Read and parsed now; -errno
 * (logged, naming the key) when it cannot be used. */
int dawn_curl_trust(struct dawn_curl *c, const char *ca_file, const char *what);

/* Transfers started and not yet done. */
size_t dawn_curl_in_flight(const struct dawn_curl *c);

#endif
