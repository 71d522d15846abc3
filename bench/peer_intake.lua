-- wrk script for bench/peer.sh: every request is one NEW alert, so neither
-- side can merge it into an earlier one. PEER_TARGET=dawn POSTs a batch alert
-- with its own sold_as and source_ref to /v1/alerts with the partner's bearer
-- token (201 expected); PEER_TARGET=am POSTs a one-alert array with its own
-- labels to Alertmanager's /api/v2/alerts (200 expected; the route groups by
-- every label, so each alert is its own group and its own notification).
-- PEER_RUN keeps the warm-up and the measured run apart. Run with -t 1.
-- PEER_KIND=nfod (DAWN only) POSTs single non-fatal overdose reports in one
-- area instead, each its own report: the cluster window fills as it runs.
function init(args)
        target = os.getenv("PEER_TARGET")
        run = os.getenv("PEER_RUN") or "0"
        kind = os.getenv("PEER_KIND") or "batch"
        area = os.getenv("PEER_AREA") or "southampton"
        n = 0
        refused = 0
        if target == "dawn" then
                path = "/v1/alerts"
                want = 201
                headers = { ["Content-Type"] = "application/json",
                            ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
        else
                path = "/api/v2/alerts"
                want = 200
                headers = { ["Content-Type"] = "application/json" }
        end
end

function request()
        n = n + 1
        local body
        if target == "dawn" and kind == "nfod" then
                body = string.format('{"type":"nfod","area":"%s","summary":"Overdose report %s-%d",' ..
                        '"casualties":1,"source_ref":"nfod-%s-%d"}', area, run, n, run, n)
        elseif target == "dawn" then
                body = string.format('{"type":"batch","area":"%s","summary":"Peer bench %s-%d",' ..
                        '"sold_as":["peer-%s-%d"],"adulterants":["nitazene"],"source_ref":"peer-%s-%d"}',
                        area, run, n, run, n, run, n)
        else
                body = string.format('[{"labels":{"alertname":"PeerBench","instance":"peer-%s-%d",' ..
                        '"severity":"warning"},"annotations":{"summary":"Peer bench %s-%d"}}]', run, n, run, n)
        end
        return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
        if status ~= want then
                refused = refused + 1
                if refused <= 3 then
                        io.stderr:write("answer " .. status .. ": " .. body .. "\n")
                end
        end
end

function done(summary, latency, requests)
        local secs = summary.duration / 1e6
        local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
        -- one line for peer.sh: requests/s (accepted only), p50 ms, p99 ms, requests, socket errors
        -- (refused answers are counted by wrk as non-2xx; with -t 1 this thread's count is in summary)
        io.write(string.format("PEER %.0f %.3f %.3f %d %d %d\n", (summary.requests - summary.errors.status) / secs,
                latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests,
                summary.errors.status, errors))
end
