-- wrk script: POST the JSON in BENCH_BODY with the API key in BENCH_API_KEY (the Worker's
-- internal routes), then report.lua's one BENCH_JSON line.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("BENCH_API_KEY") or ""
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "report.lua")
