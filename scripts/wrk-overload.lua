-- wrk script for scripts/bench-overload (CLIENT=wrk): POST /oauth/authorize/googledrive as
-- scripts/wrk-authorize.lua sends it, tallying the answers by status in every thread. `done` prints one
-- `overload:` line with the counts, the duration and overall latency percentiles (microseconds).
--
-- wrk keeps one latency histogram for all answers, so the p99 of accepted (2xx) answers alone is not
-- directly available. `done` also prints the overall latency at the quantile 1 − f·0.01, where f is the
-- fraction of answers that were 2xx: at most 1 % of the accepted answers are slower than their p99 T,
-- so at least f·1 % of all answers take T or longer, and that quantile is ≥ T whatever the latencies
-- of the shed answers. It is an upper bound of the accepted answers' p99 (equal to it when every
-- shed answer is faster than every accepted one), and it is the plain p99 when every answer is 2xx.
-- The request itself is scripts/wrk-authorize.lua's (wrk runs from the repository root); its `done`
-- is replaced below.
dofile("scripts/wrk-authorize.lua")

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    accepted = 0
    shed = 0
    other = 0
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        accepted = accepted + 1
    elseif status == 503 then
        shed = shed + 1
    else
        other = other + 1
    end
end

function done(summary, latency, requests)
    local a, s, o = 0, 0, 0
    for _, thread in ipairs(threads) do
        a = a + thread:get("accepted")
        s = s + thread:get("shed")
        o = o + thread:get("other")
    end
    local total = a + s + o
    local bound = 0
    if a > 0 then
        local q = 100 - (a / total)
        bound = latency:percentile(q)
    end
    io.write(string.format(
        "overload: requests=%d accepted=%d shed_503=%d other=%d socket_errors=%d duration_us=%d "
            .. "p50_all_us=%d p99_all_us=%d p99_accepted_bound_us=%d\n",
        total, a, s, o,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.duration, latency:percentile(50), latency:percentile(99), bound))
end
