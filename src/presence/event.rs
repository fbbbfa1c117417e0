//! The payloads of Prosody's event_sync component (jitsi-contrib `mod_event_sync_component.lua`), read
//! leniently: every field is optional, unknown fields are ignored (the module grows, and with
//! `include_user_info` it copies the whole token `context.user`, of any shape), a field of an
//! unexpected type counts as absent. Only a body that is not a JSON object is refused.
//!
//! Room names are normalised as Jitsi forms them: `room_name`, else the node of `room_jid`; a
//! `[tenant]` prefix dropped; lower-case. For a breakout room, event_sync names the *main* room in
//! `room_name`/`room_jid` and the breakout room in `breakout_room_id`.

use serde_json::{Map, Value};

/// Which webhook was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    RoomCreated,
    RoomDestroyed,
    OccupantJoined,
    OccupantLeft,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RoomCreated => "room/created",
            Kind::RoomDestroyed => "room/destroyed",
            Kind::OccupantJoined => "occupant/joined",
            Kind::OccupantLeft => "occupant/left",
        }
    }
}

/// One occupant as event_sync describes it. `name`, `email` and `id` exist only for token holders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Occupant {
    /// The real full JID of the connection (`…@meet.example.org/resource`).
    pub jid: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Unix seconds.
    pub joined_at: Option<i64>,
    pub left_at: Option<i64>,
}

/// One webhook call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// The main room's name, normalised; `None` when the payload names no room.
    pub room: Option<String>,
    /// `""` for the main room, else the breakout room's id.
    pub breakout: String,
    /// The occupant of a joined or left event.
    pub occupant: Option<Occupant>,
    /// Every occupant a destroyed room had (the last stay of each connection).
    pub all_occupants: Vec<Occupant>,
    pub destroyed_at: Option<i64>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadEvent {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not a JSON object")]
    NotAnObject,
}

/// Longest string kept from a payload; a longer one counts as absent (nothing legitimate is longer).
const MAX_STRING: usize = 512;

/// Most occupants read from a destroyed room's list (the body limit bounds it too).
const MAX_OCCUPANTS: usize = 10_000;

/// Unix seconds accepted as times: from 2000 to 3000. Anything else counts as absent.
const TIME_RANGE: std::ops::RangeInclusive<i64> = 946_684_800..=32_503_680_000;

impl Event {
    /// Reads a webhook body.
    pub fn parse(kind: Kind, body: &[u8]) -> Result<Self, BadEvent> {
        let value: Value = serde_json::from_slice(body).map_err(|e| BadEvent::NotJson(e.to_string()))?;
        let Value::Object(map) = value else { return Err(BadEvent::NotAnObject) };
        let room = text(&map, "room_name")
            .or_else(|| text(&map, "room_jid").map(|jid| jid.split('@').next().unwrap_or_default().to_string()))
            .and_then(|r| normalise_room(&r));
        let is_breakout = map.get("is_breakout").and_then(Value::as_bool).unwrap_or(false);
        let breakout = if is_breakout {
            text(&map, "breakout_room_id").map(|b| b.to_lowercase()).unwrap_or_else(|| "breakout".into())
        } else {
            String::new()
        };
        let occupant = map.get("occupant").and_then(Value::as_object).and_then(read_occupant);
        let all_occupants = map
            .get("all_occupants")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter().take(MAX_OCCUPANTS).filter_map(Value::as_object).filter_map(read_occupant).collect()
            })
            .unwrap_or_default();
        Ok(Event { kind, room, breakout, occupant, all_occupants, destroyed_at: time(&map, "destroyed_at") })
    }
}

/// A room name as jmb stores it: the JID's node, without a `[tenant]` prefix, lower-case; `None`
/// when nothing is left.
pub fn normalise_room(raw: &str) -> Option<String> {
    let node = raw.trim().split('@').next().unwrap_or_default();
    let node = match node.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((_, room)) => room,
        None => node,
    };
    let room = node.trim().to_lowercase();
    (!room.is_empty()).then_some(room)
}

fn read_occupant(map: &Map<String, Value>) -> Option<Occupant> {
    // Without its JID an occupant's join cannot be paired with its leave.
    let jid = text(map, "occupant_jid")?;
    Some(Occupant {
        jid,
        id: text(map, "id"),
        name: text(map, "name"),
        email: text(map, "email").map(|e| e.to_lowercase()),
        joined_at: time(map, "joined_at"),
        left_at: time(map, "left_at"),
    })
}

/// A non-empty string field without control characters, trimmed; anything else is absent.
fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    let s = map.get(key)?.as_str()?.trim();
    if s.is_empty() || s.len() > MAX_STRING {
        return None;
    }
    Some(s.chars().filter(|c| !c.is_control()).collect())
}

/// A time in Unix seconds: a JSON number (Lua's `os.time()`; a fraction is dropped) or a string of
/// digits, within [`TIME_RANGE`].
fn time(map: &Map<String, Value>, key: &str) -> Option<i64> {
    let v = map.get(key)?;
    let t = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    TIME_RANGE.contains(&t).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_payloads_are_read() {
        let joined = br#"{"event_name":"muc-occupant-joined","room_name":"kqzvbnwtrelpxsha",
            "room_jid":"kqzvbnwtrelpxsha@conference.meet.example.org","is_breakout":false,"active_occupants_count":4,
            "occupant":{"name":"Jean Dupont","email":"Jean.Dupont@example.org","id":"jdupont",
            "occupant_jid":"14f0@meet.example.org/OWhl8jSh","joined_at":1799999100}}"#;
        let e = Event::parse(Kind::OccupantJoined, joined).unwrap();
        assert_eq!(e.room.as_deref(), Some("kqzvbnwtrelpxsha"));
        assert_eq!(e.breakout, "");
        let o = e.occupant.unwrap();
        assert_eq!(o.jid, "14f0@meet.example.org/OWhl8jSh");
        assert_eq!(o.email.as_deref(), Some("jean.dupont@example.org"));
        assert_eq!((o.joined_at, o.left_at), (Some(1_799_999_100), None));

        let breakout = br#"{"room_name":"kqzvbnwtrelpxsha","is_breakout":true,"breakout_room_id":"B7E1",
            "occupant":{"occupant_jid":"a@guest.meet.example.org/x","joined_at":1799999100.7,"left_at":"1799999200"}}"#;
        let e = Event::parse(Kind::OccupantLeft, breakout).unwrap();
        assert_eq!(e.breakout, "b7e1");
        let o = e.occupant.unwrap();
        assert_eq!((o.joined_at, o.left_at, o.id), (Some(1_799_999_100), Some(1_799_999_200), None));

        let destroyed =
            br#"{"room_jid":"[Tenant]KQZVBNWTRELPXSHA@conference.meet.example.org","destroyed_at":1800000000,
            "all_occupants":[{"occupant_jid":"a@x/1","joined_at":1799999100},{"name":"no jid"},7,
            {"occupant_jid":"b@x/2","joined_at":1799999150,"left_at":1799999160,"moderator":true,"avatar":{"x":1}}]}"#;
        let e = Event::parse(Kind::RoomDestroyed, destroyed).unwrap();
        assert_eq!(e.room.as_deref(), Some("kqzvbnwtrelpxsha"));
        assert_eq!(e.destroyed_at, Some(1_800_000_000));
        assert_eq!(e.all_occupants.len(), 2);
    }

    #[test]
    fn odd_fields_count_as_absent_and_only_non_objects_are_refused() {
        let e = Event::parse(
            Kind::OccupantJoined,
            br#"{"room_name":42,"room_jid":null,"occupant":{"occupant_jid":"j@x/r","id":7,"name":"\u0000Eve\u0007",
               "email":["x"],"joined_at":-5,"left_at":99999999999999}}"#,
        )
        .unwrap();
        assert_eq!(e.room, None);
        let o = e.occupant.unwrap();
        assert_eq!((o.id, o.email, o.joined_at, o.left_at), (None, None, None, None));
        assert_eq!(o.name.as_deref(), Some("Eve"));
        assert!(Event::parse(Kind::RoomCreated, b"{}").unwrap().room.is_none());
        assert!(matches!(Event::parse(Kind::RoomCreated, b"{\"room_name\":"), Err(BadEvent::NotJson(_))));
        assert_eq!(Event::parse(Kind::RoomCreated, b"[1,2]"), Err(BadEvent::NotAnObject));
        assert_eq!(Event::parse(Kind::RoomCreated, b"\"x\""), Err(BadEvent::NotAnObject));
        let long = format!(r#"{{"room_name":"{}"}}"#, "a".repeat(600));
        assert!(Event::parse(Kind::RoomCreated, long.as_bytes()).unwrap().room.is_none());
    }

    #[test]
    fn room_names_are_normalised() {
        assert_eq!(normalise_room("Room@conference.x").as_deref(), Some("room"));
        assert_eq!(normalise_room("[acme]room").as_deref(), Some("room"));
        assert_eq!(normalise_room("  "), None);
        assert_eq!(normalise_room("[acme]"), None);
    }
}
