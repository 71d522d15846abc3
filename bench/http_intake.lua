-- wrk script for bench/http.sh: every request is one new alert (a distinct
-- batch, so nothing is deduplicated and each alert writes its own outbox
-- rows), POSTed with the partner's bearer token; with BENCH_BATCH=N > 1 an
-- array of N such alerts per request. Each wrk thread numbers its own
-- alerts; answers other than 201 (200 for an array) are counted and printed.
local threads = {}
local thread_id = 0

function setup(thread)
        thread_id = thread_id + 1
        thread:set("tid", thread_id)
        table.insert(threads, thread)
end

function init(args)
        token = os.getenv("BENCH_TOKEN")
        n = 0
        refused = 0
        batch = tonumber(os.getenv("BENCH_BATCH") or "1")
        headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end

local function alert()
        n = n + 1
        return string.format(
                '{"type":"batch","area":"southampton","summary":"Bench alert %d-%d","sold_as":["batch-%d-%d"],' ..
                '"adulterants":["nitazene"],"source_ref":"bench-%d-%d"}', tid, n, tid, n, tid, n)
end

function request()
        if batch <= 1 then
                return wrk.format("POST", "/v1/alerts", headers, alert())
        end
        local items = {}
        for i = 1, batch do
                items[i] = alert()
        end
        return wrk.format("POST", "/v1/alerts", headers, "[" .. table.concat(items, ",") .. "]")
end

function response(status, headers, body)
        if (batch <= 1 and status ~= 201) or (batch > 1 and (status ~= 200 or body:find('"error"'))) then
                refused = refused + 1
                if refused <= 3 then
                        io.stderr:write("answer " .. status .. ": " .. body .. "\n")
                end
        end
end

function done(summary, latency, requests)
        local total_refused = 0
        for _, t in ipairs(threads) do
                total_refused = total_refused + t:get("refused")
        end
        local secs = summary.duration / 1e6
        io.write(string.format("requests %d in %.1f s, not 201: %d, errors (socket) %d\n", summary.requests, secs,
                total_refused, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
        local batch_size = tonumber(os.getenv("BENCH_BATCH") or "1")
        io.write(string.format("accepted alerts/s %.0f (%d per request)\n",
                (summary.requests - total_refused) * batch_size / secs, batch_size))
        io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
                latency.max / 1000))
end
