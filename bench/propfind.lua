-- wrk script: PROPFIND Depth 1 on the calendar (resourcetype, getcontenttype, getetag), as vdirsyncer lists it.
-- Body: bench/propfind.xml. Run: BENCH_DIR=bench wrk -s bench/propfind.lua -H "Authorization: Basic ..." URL
local f = assert(io.open(os.getenv("BENCH_DIR") .. "/propfind.xml", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
