-- wrk script: CalDAV calendar-query REPORT for a time window, as a client poll (bench/calendar.sh).
-- Body: bench/report.xml with {START} and {END} replaced by $REPORT_START / $REPORT_END (UTC, 20261205T000000Z).
-- Run: BENCH_DIR=bench REPORT_START=... REPORT_END=... wrk -s bench/report.lua -H "Authorization: Basic ..." URL
local f = assert(io.open(os.getenv("BENCH_DIR") .. "/report.xml", "rb"))
local body = f:read("*a")
f:close()
body = body:gsub("{START}", os.getenv("REPORT_START")):gsub("{END}", os.getenv("REPORT_END"))
wrk.method = "REPORT"
wrk.body = body
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
