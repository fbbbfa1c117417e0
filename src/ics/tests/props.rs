//! Property-based tests: arbitrary subjects, names and mail local parts (control characters, CR, LF,
//! quotes, `^`, `;`, `,`, `\`, non-ASCII) are rendered, then parsed back by the `icalendar` crate.
//!
//! Normalisation the comparisons allow for (see the module docs of `ics`): in TEXT values CRLF and CR
//! read back as LF and control characters other than LF and TAB are gone; in a CN, the same, with TAB
//! read as a space; a CN that is empty after that is left out; in a `mailto:` value control characters
//! and surrounding white space are gone.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use super::*;

/// Characters that exercise escaping, encoding and folding, mixed with anything else.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '\r', '\n', '\t', '\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}', '"', '^', ';', ',', '\\', ':', ' ',
            'é', 'Ñ', 'ß', '€', '😀', '\u{a0}', '\u{2028}', '\u{feff}', '\'', '=', '@', '.', '-', '_',
        ]),
        2 => any::<char>(),
        4 => prop::char::range('a', 'z'),
    ]
}

fn hostile_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..max).prop_map(String::from_iter)
}

/// A date-time between 1970 and 2100, to the second.
fn date_time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

/// The CN a person should read back as, if any.
fn expected_cn(p: &Person) -> Option<String> {
    let cn = text_normalised(&p.display_name()).replace('\t', " ");
    (!cn.is_empty()).then_some(cn)
}

fn expected_mailto(mail: &str) -> String {
    let trimmed = mail.trim_matches(|c: char| c.is_control() || c.is_whitespace());
    format!("mailto:{}", trimmed.chars().filter(|c| !c.is_control()).collect::<String>())
}

fn parsed_utc(e: &icalendar::Event, start: bool) -> Option<DateTime<Utc>> {
    use icalendar::{CalendarDateTime, Component, DatePerhapsTime};
    match if start { e.get_start() } else { e.get_end() } {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(dt))) => Some(dt),
        _ => None,
    }
}

proptest! {
    // A failing case is recorded beside this file (`props.proptest-regressions`) and replayed first
    // by later runs: commit it with the fix.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_survives_a_round_trip(
        summary in hostile_string(400),
        description in hostile_string(200),
        organizer_name in hostile_string(60),
        names in prop::collection::vec(hostile_string(60), 1..4),
        locals in prop::collection::vec(hostile_string(30), 1..4),
        start in date_time(),
        minutes in 0i64..100_000,
        uid_tail in hostile_string(20),
    ) {
        let mut ev = sample_event(1, &summary);
        ev.uid = format!("{uid_tail}@meet.example.org");
        ev.description = description.clone();
        ev.start = start;
        ev.end = start + chrono::Duration::minutes(minutes);
        ev.organizer.name = organizer_name;
        ev.attendees = names
            .iter()
            .zip(locals.iter().cycle())
            .enumerate()
            .map(|(i, (name, local))| EventAttendee {
                // Every other attendee has no name: the CN then comes from the mail's local part.
                person: Person { mail: format!("{local}@example.net"), name: if i % 2 == 0 { String::new() } else { name.clone() } },
                role: AttendeeRole::Participant,
                partstat: PartStat::NeedsAction,
            })
            .collect();
        let out = render_resource("-//Example Org//jmb//FR", &ev, at(1969, 1, 1, 0, 0));
        assert_wire_format(&out);

        let cal: icalendar::Calendar = out.parse().map_err(|e| TestCaseError::fail(format!("{e}\n{out}")))?;
        let event = cal.components.iter().find_map(|c| c.as_event()).expect("a VEVENT");
        {
            use icalendar::Component;
            let (summary, description) = (text_normalised(&summary), text_normalised(&description));
            prop_assert_eq!(event.get_summary(), Some(summary.as_str()));
            prop_assert_eq!(event.get_description(), Some(description.as_str()));
            let uid = format!("{}@meet.example.org", uid_tail.chars().filter(|c| !c.is_control()).collect::<String>());
            prop_assert_eq!(event.get_uid(), Some(uid.as_str()));
            prop_assert_eq!(parsed_utc(event, true), Some(ev.start));
            prop_assert_eq!(parsed_utc(event, false), Some(ev.end));
        }

        let parsed = parse_back(&out);
        let e = parsed.children("VEVENT")[0];
        let organizer = e.one("ORGANIZER");
        prop_assert_eq!(organizer.param("CN").map(str::to_owned), expected_cn(&ev.organizer));
        let attendees = e.all("ATTENDEE");
        prop_assert_eq!(attendees.len(), ev.attendees.len());
        for (got, want) in attendees.iter().zip(&ev.attendees) {
            prop_assert_eq!(got.param("CN").map(str::to_owned), expected_cn(&want.person));
            prop_assert_eq!(&got.value, &expected_mailto(&want.person.mail));
            prop_assert_eq!(got.param("CUTYPE"), Some("INDIVIDUAL"));
            prop_assert_eq!(got.param("RSVP"), Some("TRUE"));
        }
        for a in e.children("VALARM") {
            prop_assert!(!a.value("DESCRIPTION").contains('\n'));
        }
    }

    #[test]
    fn every_line_fits_whatever_the_parameters(
        name in hostile_string(300),
        prodid in hostile_string(120),
        tz in hostile_string(80),
    ) {
        let info = CalendarInfo {
            prodid,
            name: name.clone(),
            description: name.clone(),
            refresh_minutes: 30,
            time_zone: tz,
        };
        let mut ev = sample_event(2, &name);
        ev.organizer.name = name.clone();
        ev.join_url = format!("https://meet.example.org/j/{name}");
        let now = at(2026, 12, 1, 0, 0);
        let feed = render_feed(&info, &[ev.clone()], now);
        assert_wire_format(&feed);
        let cal = parse_back(&feed);
        prop_assert_eq!(cal.all("PRODID").len(), 1);
        prop_assert!(cal.all("METHOD").is_empty());
        prop_assert_eq!(cal.value("X-WR-CALNAME"), text_normalised(&name));
        let itip = render_itip(&info.prodid, Method::Request, &ev, now);
        assert_wire_format(&itip);
        let parsed = parse_back(&itip);
        prop_assert_eq!(parsed.value("METHOD"), "REQUEST");
    }
}

/// Best of a few runs, in seconds.
fn best_time(f: impl Fn() -> usize) -> f64 {
    (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn rendering_time_grows_linearly() {
    let now = at(2026, 12, 1, 0, 0);
    let piece = "Réunion ; budget, « équipe » \\ serveur\nligne 2 😀 ";
    let event_of = |copies: usize| {
        let text = piece.repeat(copies);
        let mut ev = sample_event(1, &text);
        ev.description = text.clone();
        ev.organizer.name = text;
        ev
    };
    let small = event_of(400); // about 20 kB per text
    let large = event_of(4000);
    let t_small = best_time(|| render_resource("p", &small, now).len());
    let t_large = best_time(|| render_resource("p", &large, now).len());
    // 10x the input: linear is ~10x, quadratic ~100x. The bound leaves room for a noisy machine.
    let ratio = t_large / t_small;
    assert!(ratio < 35.0, "10x input took {ratio:.1}x the time ({t_small:.6}s → {t_large:.6}s)");
}
