//! The users table of devise_token_auth's generator, as the importer reads it: which columns
//! it must have, which Devise modules' columns it may have, and one row decoded from the text
//! every database prints (values are read `CAST … AS TEXT`, so PostgreSQL, MySQL/MariaDB and
//! SQLite look alike here). Pure functions: no database here.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::tokens_json::parse_time;

/// Columns without which a row is no DTA user.
pub const REQUIRED: &[&str] = &["id", "provider", "uid"];

/// Columns read when present: the generator's, with the optional Devise modules' (lockable,
/// trackable) and the timestamps.
pub const OPTIONAL: &[&str] = &[
    "encrypted_password",
    "email",
    "allow_password_change",
    "confirmed_at",
    "confirmation_sent_at",
    "unconfirmed_email",
    "failed_attempts",
    "locked_at",
    "sign_in_count",
    "current_sign_in_at",
    "last_sign_in_at",
    "current_sign_in_ip",
    "last_sign_in_ip",
    "name",
    "nickname",
    "image",
    "tokens",
    "created_at",
    "updated_at",
];

/// An extra column copied into the user's `extra` attributes (`--map column=attribute`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub column: String,
    pub attribute: String,
}

impl std::str::FromStr for Mapping {
    type Err = String;

    fn from_str(s: &str) -> Result<Mapping, String> {
        let (column, attribute) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected column=attribute"))?;
        let (column, attribute) = (column.trim(), attribute.trim());
        let ident = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        };
        if !ident(column) || !ident(attribute) {
            return Err(format!(
                "`{s}`: column and attribute are names of letters, digits and _"
            ));
        }
        Ok(Mapping {
            column: column.to_string(),
            attribute: attribute.to_string(),
        })
    }
}

/// The columns to read from a table that has `present`: the known ones it has, then the
/// mapped ones. An error names what is missing.
pub fn columns_to_read(present: &[String], maps: &[Mapping]) -> Result<Vec<String>, String> {
    let have: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    if have.is_empty() {
        return Err("the table does not exist or has no columns".into());
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !have.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not a devise_token_auth users table: no {} column",
            missing.join(", ")
        ));
    }
    let mut out: Vec<String> = REQUIRED
        .iter()
        .chain(OPTIONAL)
        .filter(|c| have.contains(**c))
        .map(|c| c.to_string())
        .collect();
    for m in maps {
        if !have.contains(m.column.as_str()) {
            return Err(format!("--map {}: the table has no such column", m.column));
        }
        if !out.contains(&m.column) {
            out.push(m.column.clone());
        }
    }
    Ok(out)
}

/// One source row, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DtaRow {
    pub id: String,
    pub provider: String,
    pub uid: String,
    pub encrypted_password: Option<String>,
    pub email: Option<String>,
    pub allow_password_change: Option<bool>,
    /// `None` when the table has no `confirmed_at` column (confirmable was off).
    pub confirmed_at: Option<Option<DateTime<Utc>>>,
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    pub unconfirmed_email: Option<String>,
    pub failed_attempts: Option<i32>,
    pub locked_at: Option<DateTime<Utc>>,
    pub sign_in_count: Option<i32>,
    pub current_sign_in_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub current_sign_in_ip: Option<String>,
    pub last_sign_in_ip: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub image: Option<String>,
    pub tokens: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// As the database printed it (compared between runs, so not reformatted).
    pub updated_at_text: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Mapped extra columns: attribute → value.
    pub extra: BTreeMap<String, Option<String>>,
}

/// Decodes a row of `(column, text)`; a value that cannot be what its column holds is an
/// error naming the column.
pub fn decode(
    values: &BTreeMap<String, Option<String>>,
    maps: &[Mapping],
) -> Result<DtaRow, String> {
    let text = |c: &str| values.get(c).cloned().flatten();
    let nonblank = |c: &str| text(c).filter(|v| !v.trim().is_empty());
    let time = |c: &str| -> Result<Option<DateTime<Utc>>, String> {
        match nonblank(c) {
            None => Ok(None),
            Some(v) => parse_time(&v)
                .map(Some)
                .ok_or_else(|| format!("{c}: not a time ({v})")),
        }
    };
    let int = |c: &str| -> Result<Option<i32>, String> {
        match nonblank(c) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{c}: not an integer ({v})")),
        }
    };
    let id = nonblank("id").ok_or("id: empty")?;
    let provider = nonblank("provider").unwrap_or_else(|| "email".into());
    let uid = text("uid").unwrap_or_default();
    if uid.is_empty() {
        return Err("uid: empty".into());
    }
    let allow_password_change = match nonblank("allow_password_change") {
        None => None,
        Some(v) => {
            Some(parse_bool(&v).ok_or(format!("allow_password_change: not a boolean ({v})"))?)
        }
    };
    let confirmed_at = if values.contains_key("confirmed_at") {
        Some(time("confirmed_at")?)
    } else {
        None
    };
    Ok(DtaRow {
        id,
        provider,
        uid,
        encrypted_password: text("encrypted_password"),
        email: nonblank("email"),
        allow_password_change,
        confirmed_at,
        confirmation_sent_at: time("confirmation_sent_at")?,
        unconfirmed_email: nonblank("unconfirmed_email"),
        failed_attempts: int("failed_attempts")?,
        locked_at: time("locked_at")?,
        sign_in_count: int("sign_in_count")?,
        current_sign_in_at: time("current_sign_in_at")?,
        last_sign_in_at: time("last_sign_in_at")?,
        current_sign_in_ip: nonblank("current_sign_in_ip"),
        last_sign_in_ip: nonblank("last_sign_in_ip"),
        name: text("name"),
        nickname: text("nickname"),
        image: text("image"),
        tokens: text("tokens"),
        created_at: time("created_at")?,
        updated_at_text: nonblank("updated_at"),
        updated_at: time("updated_at")?,
        extra: maps
            .iter()
            .map(|m| (m.attribute.clone(), text(&m.column)))
            .collect(),
    })
}

/// A boolean as PostgreSQL (`true`/`false`), MySQL (`1`/`0`) or an older SQLite Rails app
/// (`t`/`f`) prints it.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "t" | "true" | "1" | "TRUE" => Some(true),
        "f" | "false" | "0" | "FALSE" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mappings_parse_and_refuse_odd_names() {
        let m: Mapping = "favorite_color = color".parse().unwrap();
        assert_eq!(m.column, "favorite_color");
        assert_eq!(m.attribute, "color");
        for bad in [
            "nocolumn", "a=", "=b", "a b=c", "a=\"b\"", "1a=b", "a;drop=b",
        ] {
            assert!(bad.parse::<Mapping>().is_err(), "{bad}");
        }
    }

    #[test]
    fn columns_the_table_has_are_read_and_required_ones_checked() {
        let present = names(&["id", "uid", "provider", "email", "tokens", "color", "x"]);
        let maps = vec!["color=colour".parse().unwrap()];
        assert_eq!(
            columns_to_read(&present, &maps).unwrap(),
            names(&["id", "provider", "uid", "email", "tokens", "color"])
        );
        let err = columns_to_read(&names(&["id", "email"]), &[]).unwrap_err();
        assert!(err.contains("provider, uid"), "{err}");
        let err = columns_to_read(&present, &["nope=a".parse().unwrap()]).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        assert!(columns_to_read(&[], &[]).is_err());
    }

    #[test]
    fn a_row_decodes_from_each_databases_text() {
        let maps = vec!["color=colour".parse().unwrap()];
        let r = decode(
            &row(&[
                ("id", Some("7")),
                ("provider", Some("email")),
                ("uid", Some("a@example.com")),
                ("email", Some("a@example.com")),
                ("allow_password_change", Some("f")),
                ("confirmed_at", Some("2024-01-02 03:04:05.123456")),
                ("failed_attempts", Some("2")),
                ("locked_at", None),
                ("updated_at", Some("2024-01-02 03:04:05+00")),
                ("color", Some("teal")),
            ]),
            &maps,
        )
        .unwrap();
        assert_eq!(r.id, "7");
        assert_eq!(r.allow_password_change, Some(false));
        assert!(r.confirmed_at.unwrap().is_some());
        assert_eq!(r.failed_attempts, Some(2));
        assert_eq!(r.updated_at_text.as_deref(), Some("2024-01-02 03:04:05+00"));
        assert_eq!(r.extra["colour"].as_deref(), Some("teal"));
    }

    #[test]
    fn absent_confirmable_differs_from_unconfirmed() {
        let base = [("id", Some("1")), ("provider", None), ("uid", Some("u"))];
        let r = decode(&row(&base), &[]).unwrap();
        assert_eq!(r.confirmed_at, None);
        assert_eq!(r.provider, "email");
        let mut with = base.to_vec();
        with.push(("confirmed_at", None));
        assert_eq!(decode(&row(&with), &[]).unwrap().confirmed_at, Some(None));
    }

    #[test]
    fn bad_values_name_their_column() {
        let err = decode(
            &row(&[
                ("id", Some("1")),
                ("uid", Some("u")),
                ("locked_at", Some("soon")),
            ]),
            &[],
        )
        .unwrap_err();
        assert!(err.starts_with("locked_at"), "{err}");
        let err = decode(&row(&[("id", Some("1")), ("uid", Some(""))]), &[]).unwrap_err();
        assert!(err.starts_with("uid"), "{err}");
        for (v, b) in [("t", true), ("1", true), ("false", false), ("0", false)] {
            assert_eq!(parse_bool(v), Some(b));
        }
        assert_eq!(parse_bool("yes"), None);
    }
}
