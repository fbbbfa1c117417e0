-- wrk script of bench/site.sh: books meetings through the JSON API as fast as it is answered, each with
-- 20 guests (5 of them users of the site, so their calendars change), as a different organiser each time
-- (trusted headers from loopback). SITE_USERS users exist (user00000 ...).
local threads = {}

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

function init(args)
    counter = 0
    users = tonumber(os.getenv("SITE_USERS"))
    start = os.getenv("SITE_BOOK_START") -- a day ahead, UTC, on the quarter hour
end

function request()
    counter = counter + 1
    local n = (id * 1000003 + counter * 7919) % users
    local uid = string.format("user%05d", n)
    local guests = {}
    for k = 1, 5 do
        table.insert(guests, string.format('"user%05d@example.org"', (n + k * 131) % users))
    end
    for k = 1, 15 do
        table.insert(guests, string.format('"Invité %d <guest%d.%d@partner.example.net>"', k, k, counter % 50))
    end
    local body = string.format(
        '{"subject":"Charge %d-%d","start":"%s","duration":30,"moderators":[],"guests":[%s]}',
        id, counter, start, table.concat(guests, ","))
    return wrk.format("POST", "/api/v1/meetings", {
        ["Content-Type"] = "application/json",
        ["X-Remote-User"] = uid,
        ["X-Remote-Mail"] = uid .. "@example.org",
        ["X-Remote-Name"] = "Prenom" .. n .. " Nom-" .. n,
    }, body)
end
