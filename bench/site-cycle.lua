-- wrk script of bench/site.sh: every request goes to the next calendar of a list, so that with more
-- calendars than the cache holds almost every request is a cold one (a site's clients each polling their
-- own calendar). SITE_REQUESTS names a file of "METHOD<TAB>path<TAB>Authorization value or -" lines; a
-- REPORT gets bench/report.xml (REPORT_START / REPORT_END substituted), a PROPFIND bench/propfind.xml.
-- Each wrk thread starts at its own place in the list.
local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

function init(args)
    local dir = os.getenv("BENCH_DIR")
    local report = read(dir .. "/report.xml")
    report = report:gsub("{START}", os.getenv("REPORT_START")):gsub("{END}", os.getenv("REPORT_END"))
    local propfind = read(dir .. "/propfind.xml")
    requests = {}
    for line in io.lines(os.getenv("SITE_REQUESTS")) do
        local method, path, auth = line:match("^(%S+)\t(%S+)\t(.+)$")
        local headers = {}
        local body = nil
        if auth ~= "-" then headers["Authorization"] = auth end
        if method == "REPORT" then
            body = report
        elseif method == "PROPFIND" then
            body = propfind
        end
        if body then
            headers["Depth"] = "1"
            headers["Content-Type"] = "application/xml; charset=utf-8"
        end
        table.insert(requests, wrk.format(method, path, headers, body))
    end
    local count = tonumber(os.getenv("SITE_THREADS") or "2")
    next_index = math.floor(#requests * id / count)
end

function request()
    next_index = next_index % #requests + 1
    return requests[next_index]
end
