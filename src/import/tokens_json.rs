//! devise_token_auth's `tokens` column, read as the old app wrote it: one entry per client id
//! with `token`, `previous_token`, `last_token` (bcrypt hashes), `expiry` (Unix seconds) and
//! `updated_at`. Two serialisations exist: a JSON object (a `json`/`jsonb` column, or `text`
//! with Rails' `serialize :tokens, JSON`), and, since DTA's `TokensSerialization` coder, the
//! JSON text of that object stored as a JSON *string* when the column is `json`/`jsonb`.
//! Pure functions: no database here.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use crate::tokens;

/// One device of a DTA user, its hashes kept as DTA made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtaDevice {
    pub client: String,
    pub token: String,
    pub previous_token: Option<String>,
    pub last_token: Option<String>,
    /// Unix seconds.
    pub expiry: i64,
    /// Unix milliseconds of the last rotation or batch touch, when DTA recorded one.
    pub updated_at_ms: Option<i64>,
}

/// The devices of one `tokens` value, and the entries left out with why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    pub devices: Vec<DtaDevice>,
    pub skipped: Vec<(String, &'static str)>,
}

/// A `tokens` value that is not a JSON object of devices at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokensError {
    #[error("tokens: malformed JSON ({0})")]
    Malformed(String),
    #[error("tokens: not a JSON object of client ids")]
    NotAnObject,
}

/// The longest client id a device row holds.
pub const CLIENT_MAX_CHARS: usize = 64;

/// Parses a `tokens` column (NULL, empty, `{}` and `null` are no devices); devices whose
/// newest token expired by `now_s` are skipped.
pub fn parse(raw: Option<&str>, now_s: i64) -> Result<Devices, TokensError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Devices::default());
    };
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| TokensError::Malformed(e.to_string()))?;
    // The coder's JSON text inside a JSON string; twice at most.
    for _ in 0..2 {
        let Value::String(inner) = &value else { break };
        let inner = inner.trim();
        if inner.is_empty() {
            return Ok(Devices::default());
        }
        value = serde_json::from_str(inner).map_err(|e| TokensError::Malformed(e.to_string()))?;
    }
    let entries = match value {
        Value::Null => return Ok(Devices::default()),
        Value::Object(entries) => entries,
        _ => return Err(TokensError::NotAnObject),
    };
    let mut out = Devices::default();
    for (client, entry) in entries {
        match device(&client, &entry, now_s) {
            Ok(d) => out.devices.push(d),
            Err(reason) => out.skipped.push((client, reason)),
        }
    }
    Ok(out)
}

fn device(client: &str, entry: &Value, now_s: i64) -> Result<DtaDevice, &'static str> {
    if client.is_empty() || client.chars().count() > CLIENT_MAX_CHARS {
        return Err("client id empty or longer than 64 characters");
    }
    let Value::Object(entry) = entry else {
        return Err("device entry is not an object");
    };
    let token = hash(entry, "token").ok_or("token is missing or not a bcrypt hash")?;
    let expiry = expiry(entry).ok_or("expiry is missing or not a number")?;
    if expiry <= now_s {
        return Err("expired");
    }
    Ok(DtaDevice {
        client: client.to_string(),
        token,
        previous_token: hash(entry, "previous_token"),
        last_token: hash(entry, "last_token"),
        expiry,
        updated_at_ms: entry.get("updated_at").and_then(|v| match v {
            Value::String(s) => parse_time(s).map(|t| t.timestamp_millis()),
            Value::Number(n) => n.as_i64().map(|s| s.saturating_mul(1000)),
            _ => None,
        }),
    })
}

/// A bcrypt hash as `BCrypt::Password.create` writes it (`$2a$`, `$2b$`, `$2y$`; 60 chars).
fn hash(entry: &Map<String, Value>, key: &str) -> Option<String> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .filter(|h| h.len() == 60 && tokens::is_bcrypt(h))
        .map(str::to_string)
}

fn expiry(entry: &Map<String, Value>) -> Option<i64> {
    match entry.get("expiry")? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A time as Rails, Ruby's JSON or the three databases print it: ISO 8601 / RFC 3339,
/// `2024-01-02 03:04:05.123456 UTC`, `… +0000`, PostgreSQL's `… +00`, or without a zone
/// (Rails keeps UTC in the database).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let without_utc = s.strip_suffix(" UTC").unwrap_or(s);
    for format in [
        "%Y-%m-%d %H:%M:%S%.f %z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(without_utc, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(without_utc, format) {
            return Some(t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    // bcrypt("token-a", cost 4)-shaped strings: the parser checks the shape only.
    const H1: &str = "$2a$04$abcdefghijklmnopqrstuuK0Hq1uZl0h2QhR6cVZ0cS8m9n2eJz5W";
    const H2: &str = "$2a$10$0123456789012345678901uYq8bOUh9yQ4WPrw9C4u5o2c3yC4E2m";

    fn entry() -> Value {
        serde_json::json!({
            "token": H1,
            "previous_token": H2,
            "last_token": null,
            "expiry": NOW + 100,
            "updated_at": "2027-01-15T08:00:00.000Z"
        })
    }

    #[test]
    fn hashes_are_60_characters() {
        assert_eq!(H1.len(), 60);
        assert_eq!(H2.len(), 60);
    }

    #[test]
    fn a_json_object_and_its_text_inside_a_json_string_read_the_same() {
        let object = serde_json::json!({ "client-a": entry() }).to_string();
        let string = Value::String(object.clone()).to_string();
        let a = parse(Some(&object), NOW).unwrap();
        let b = parse(Some(&string), NOW).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.devices.len(), 1);
        let d = &a.devices[0];
        assert_eq!(d.client, "client-a");
        assert_eq!(d.token, H1);
        assert_eq!(d.previous_token.as_deref(), Some(H2));
        assert_eq!(d.last_token, None);
        assert_eq!(d.expiry, NOW + 100);
        assert_eq!(
            d.updated_at_ms,
            Some(
                parse_time("2027-01-15T08:00:00Z")
                    .unwrap()
                    .timestamp_millis()
            )
        );
    }

    #[test]
    fn nothing_is_no_devices() {
        for raw in [
            None,
            Some(""),
            Some("  "),
            Some("{}"),
            Some("null"),
            Some("\"\""),
        ] {
            assert_eq!(parse(raw, NOW).unwrap(), Devices::default(), "{raw:?}");
        }
    }

    #[test]
    fn malformed_json_and_other_shapes_are_errors() {
        assert!(matches!(
            parse(Some("{\"a\": "), NOW),
            Err(TokensError::Malformed(_))
        ));
        assert!(matches!(
            parse(Some("\"{not json\""), NOW),
            Err(TokensError::Malformed(_))
        ));
        assert_eq!(parse(Some("[1,2]"), NOW), Err(TokensError::NotAnObject));
        assert_eq!(parse(Some("42"), NOW), Err(TokensError::NotAnObject));
    }

    #[test]
    fn bad_entries_are_skipped_with_a_reason_the_others_kept() {
        let mut expired = entry();
        expired["expiry"] = Value::from(NOW);
        let mut sha = entry();
        sha["token"] =
            Value::from("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let mut no_expiry = entry();
        no_expiry.as_object_mut().unwrap().remove("expiry");
        let mut string_expiry = entry();
        string_expiry["expiry"] = Value::from((NOW + 5).to_string());
        let long = "x".repeat(65);
        let raw = serde_json::json!({
            "ok": entry(),
            "expired": expired,
            "sha": sha,
            "no_expiry": no_expiry,
            "string_expiry": string_expiry,
            "scalar": 3,
            long.clone(): entry(),
        })
        .to_string();
        let parsed = parse(Some(&raw), NOW).unwrap();
        let clients: Vec<&str> = parsed.devices.iter().map(|d| d.client.as_str()).collect();
        assert_eq!(clients, ["ok", "string_expiry"]);
        assert_eq!(parsed.devices[1].expiry, NOW + 5);
        let reasons: Vec<(&str, &str)> = parsed
            .skipped
            .iter()
            .map(|(c, r)| (c.as_str(), *r))
            .collect();
        assert_eq!(
            reasons,
            [
                ("expired", "expired"),
                ("sha", "token is missing or not a bcrypt hash"),
                ("no_expiry", "expiry is missing or not a number"),
                ("scalar", "device entry is not an object"),
                (
                    long.as_str(),
                    "client id empty or longer than 64 characters"
                ),
            ]
        );
    }

    #[test]
    fn times_in_every_printed_form() {
        let expected = parse_time("2024-01-02T03:04:05Z").unwrap();
        for s in [
            "2024-01-02T03:04:05.000Z",
            "2024-01-02T03:04:05+00:00",
            "2024-01-02 03:04:05 UTC",
            "2024-01-02 03:04:05 +0000",
            "2024-01-02 03:04:05+00",
            "2024-01-02 03:04:05",
            "2024-01-02 04:04:05 +0100",
        ] {
            assert_eq!(parse_time(s), Some(expected), "{s}");
        }
        assert_eq!(
            parse_time("2024-01-02 03:04:05.123456")
                .unwrap()
                .timestamp_subsec_micros(),
            123456
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
