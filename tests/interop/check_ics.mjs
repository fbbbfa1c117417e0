// Parses each .ics file given with ical.js (the parser of Thunderbird and Nextcloud) and fails on any
// parse error or on a VEVENT whose key properties do not come out as clients need them.
// Run with: node tests/interop/check_ics.mjs [--caldav] <file.ics>...   (after `npm ci` in tests/interop)
// --caldav: the files are CalDAV resources (exactly one VEVENT, no METHOD).
// Prints one line per file ("ok <file> (<n> events)" or "FAIL <file>: <reason>"), and for each event a JSON
// line {"file","uid","summary","start","end","attendees":{mail: partstat}} the test compares with the API.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const args = process.argv.slice(2);
const caldav = args.includes("--caldav");
const files = args.filter((a) => a !== "--caldav");
let failures = 0;
if (files.length === 0) {
  console.log("FAIL: no files given");
  process.exit(2);
}
for (const path of files) {
  try {
    const raw = readFileSync(path, "utf8");
    const comp = new ICAL.Component(ICAL.parse(raw));
    if (comp.name !== "vcalendar") throw new Error(`top component ${comp.name}`);
    if (comp.getAllProperties("prodid").length !== 1) throw new Error("PRODID count != 1");
    if (comp.getFirstPropertyValue("version") !== "2.0") throw new Error("VERSION is not 2.0");
    if (caldav && comp.hasProperty("method")) throw new Error("METHOD in a CalDAV resource");
    const events = comp.getAllSubcomponents("vevent");
    if (caldav && events.length !== 1) throw new Error(`${events.length} VEVENTs in a CalDAV resource`);
    for (const ve of events) {
      const ev = new ICAL.Event(ve);
      if (!ev.uid || !ev.uid.includes("@")) throw new Error(`bad UID ${ev.uid}`);
      for (const [name, t] of [["DTSTART", ev.startDate], ["DTEND", ev.endDate]]) {
        if (!t || t.zone.tzid !== "UTC") throw new Error(`${ev.uid}: ${name} not UTC`);
      }
      if (ev.endDate.compare(ev.startDate) <= 0) throw new Error(`${ev.uid}: DTEND not after DTSTART`);
      const stamp = ve.getFirstPropertyValue("dtstamp");
      if (!stamp || stamp.zone.tzid !== "UTC") throw new Error(`${ev.uid}: DTSTAMP missing or not UTC`);
      if (typeof ev.summary !== "string" || ev.summary === "") throw new Error(`${ev.uid}: no SUMMARY`);
      const org = ve.getFirstPropertyValue("organizer");
      if (!String(org).toLowerCase().startsWith("mailto:")) throw new Error(`${ev.uid}: organizer ${org}`);
      const attendees = {};
      for (const att of ev.attendees) {
        const value = String(att.getFirstValue());
        if (!value.toLowerCase().startsWith("mailto:")) throw new Error(`${ev.uid}: attendee ${value}`);
        if (!att.getParameter("cn")) throw new Error(`${ev.uid}: attendee without CN`);
        attendees[value.slice(7).toLowerCase()] = att.getParameter("partstat");
      }
      for (const alarm of ve.getAllSubcomponents("valarm")) {
        if (!alarm.getFirstPropertyValue("description")) throw new Error(`${ev.uid}: VALARM without DESCRIPTION`);
        if (!alarm.getFirstPropertyValue("trigger")) throw new Error(`${ev.uid}: VALARM without TRIGGER`);
      }
      console.log(JSON.stringify({ file: path, uid: ev.uid, summary: ev.summary,
        start: ev.startDate.toString(), end: ev.endDate.toString(), attendees }));
    }
    console.log(`ok ${path} (${events.length} events)`);
  } catch (e) {
    failures += 1;
    console.log(`FAIL ${path}: ${e.message}`);
  }
}
process.exit(failures ? 1 : 0);
