//! `toker import dta`: moves the users of a devise_token_auth app into toker — passwords
//! (Devise's bcrypt hashes, checked later with the same `pepper`), e-mail, uid and provider,
//! confirmation and lock state, profile, mapped extra columns, and every live device of the
//! `tokens` column with its bcrypt token hashes as DTA made them (upgraded to digests at first
//! use, docs/decisions.md D2). Idempotent: each source row is recorded with the user it
//! became, a re-run updates that user (even when the old app changed its uid meanwhile) and
//! skips rows whose `updated_at` did not move. A bad row is skipped with its reason, never
//! aborting the import.

pub mod dta_source;
pub mod tokens_json;

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    accounts::{attributes::extra_of, credentials::withdraw_links, validation::normalize_email},
    store::{ForeignTable, ImportWrite, ImportedDevice, Store, StoreError, User},
    tokens::Chain,
};
use dta_source::{DtaRow, Mapping};

/// What to import from where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The old app's database URL.
    pub from: String,
    /// Its users table (`users`).
    pub table: String,
    /// Extra columns copied into the user's `extra` attributes.
    pub maps: Vec<Mapping>,
    /// Read and decide everything, write nothing.
    pub dry_run: bool,
}

/// A row or device left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// The row's `id` in the source table.
    pub source_id: String,
    /// The client id, for a device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub reason: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub rows: u64,
    pub users_created: u64,
    pub users_updated: u64,
    /// Imported before, and not changed in the source since.
    pub users_unchanged: u64,
    pub devices_added: u64,
    pub devices_updated: u64,
    pub devices_kept: u64,
    pub devices_removed: u64,
    pub skipped_rows: Vec<Skip>,
    pub skipped_devices: Vec<Skip>,
}

impl Report {
    /// The summary printed at the end: counts, then skipped rows and devices grouped by
    /// reason with a few source ids each.
    pub fn summary(&self) -> String {
        let would = if self.dry_run { "would be " } else { "" };
        let mut out = format!(
            "{} rows read{}\nusers: {} {would}created, {} {would}updated, {} unchanged, {} skipped\n\
             devices: {} {would}added, {} {would}updated, {} kept (already used with toker), \
             {} {would}removed (signed out in the old app), {} skipped\n",
            self.rows,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
            self.users_created,
            self.users_updated,
            self.users_unchanged,
            self.skipped_rows.len(),
            self.devices_added,
            self.devices_updated,
            self.devices_kept,
            self.devices_removed,
            self.skipped_devices.len(),
        );
        for (what, skips) in [
            ("rows", &self.skipped_rows),
            ("devices", &self.skipped_devices),
        ] {
            let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for s in skips {
                by_reason.entry(&s.reason).or_default().push(&s.source_id);
            }
            if !by_reason.is_empty() {
                out.push_str(&format!("skipped {what}:\n"));
            }
            for (reason, ids) in by_reason {
                let shown: Vec<&str> = ids.iter().take(10).copied().collect();
                let more = if ids.len() > 10 { ", …" } else { "" };
                out.push_str(&format!(
                    "  {} × {reason} (id {}{more})\n",
                    ids.len(),
                    shown.join(", ")
                ));
            }
        }
        out
    }
}

/// Rows read per round trip.
const PAGE: u64 = 500;

/// Runs the import; `progress` advances by one per source row (its length is set here).
/// Errors are those that stop the whole import: the source unreachable or not a DTA users
/// table, toker's database unavailable.
pub async fn run(
    store: &Store,
    options: &Options,
    progress: &ProgressBar,
) -> anyhow::Result<Report> {
    let source = ForeignTable::open(&options.from, &options.table)
        .await
        .map_err(anyhow::Error::msg)?;
    let present = source.columns().await?;
    let columns = dta_source::columns_to_read(&present, &options.maps)
        .map_err(|e| anyhow::anyhow!("{}: {e}", options.table))?;
    progress.set_length(source.count().await?);
    let mut report = Report {
        dry_run: options.dry_run,
        ..Report::default()
    };
    let mut run = Run {
        store,
        options,
        emails: HashMap::new(),
    };
    let mut after = i64::MIN;
    loop {
        let page = source.page(&columns, "id", after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last
            .get("id")
            .cloned()
            .flatten()
            .and_then(|id| id.trim().parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{}: the id column is not an integer", options.table))?;
        for values in &page {
            report.rows += 1;
            run.row(values, &mut report).await?;
            progress.inc(1);
        }
    }
    source.close().await;
    Ok(report)
}

struct Run<'a> {
    store: &'a Store,
    options: &'a Options,
    /// Normalised e-mail → the source id that claimed it in this run.
    emails: HashMap<String, String>,
}

impl Run<'_> {
    async fn row(
        &mut self,
        values: &BTreeMap<String, Option<String>>,
        report: &mut Report,
    ) -> anyhow::Result<()> {
        let id = values.get("id").cloned().flatten().unwrap_or_default();
        let skip = |report: &mut Report, reason: String| {
            report.skipped_rows.push(Skip {
                source_id: id.clone(),
                client: None,
                reason,
            })
        };
        let row = match dta_source::decode(values, &self.options.maps) {
            Ok(row) => row,
            Err(reason) => {
                skip(report, reason);
                return Ok(());
            }
        };
        let source = &self.options.table;
        let record = self.store.find_import(source, &row.id).await?;
        if let Some(r) = &record
            && r.source_updated_at.is_some()
            && r.source_updated_at == row.updated_at_text
        {
            report.users_unchanged += 1;
            return Ok(());
        }
        let existing = match &record {
            Some(r) => self.store.find_user(r.user_id).await?,
            None => None,
        };
        if existing.is_none()
            && let Some(other) = self
                .store
                .find_provider_user(&row.provider, &row.uid)
                .await?
        {
            skip(
                report,
                format!(
                    "uid and provider belong to toker user {} that no import created",
                    other.id
                ),
            );
            return Ok(());
        }
        let email = row.email.as_deref().map(normalize_email);
        if let Some(email) = &email {
            let except = existing.as_ref().map(|u| u.id);
            if let Some(first) = self.emails.get(email) {
                skip(
                    report,
                    format!("duplicate e-mail (the same as row {first}'s, letter case aside)"),
                );
                return Ok(());
            }
            if self.store.email_in_use(email, except).await? {
                skip(
                    report,
                    "e-mail already belongs to another toker account (letter case aside)".into(),
                );
                return Ok(());
            }
            self.emails.insert(email.clone(), row.id.clone());
        }
        let now = Utc::now();
        let devices = match tokens_json::parse(row.tokens.as_deref(), now.timestamp()) {
            Ok(parsed) => {
                for (client, reason) in parsed.skipped {
                    report.skipped_devices.push(Skip {
                        source_id: row.id.clone(),
                        client: Some(client),
                        reason: reason.into(),
                    });
                }
                Some(parsed.devices)
            }
            Err(e) => {
                report.skipped_devices.push(Skip {
                    source_id: row.id.clone(),
                    client: None,
                    reason: e.to_string(),
                });
                None
            }
        };
        let user = user_from(&row, email, existing.clone());
        let devices: Vec<ImportedDevice> = devices
            .unwrap_or_default()
            .into_iter()
            .map(|d| {
                let at = d.updated_at_ms.unwrap_or(0);
                ImportedDevice {
                    client: d.client,
                    chain: Chain {
                        token_hash: d.token,
                        previous_token_hash: d.previous_token,
                        last_token_hash: d.last_token,
                        expiry: d.expiry,
                        touched_at: at,
                        rotated_at: at,
                    },
                }
            })
            .collect();
        if self.options.dry_run {
            match existing {
                Some(_) => report.users_updated += 1,
                None => report.users_created += 1,
            }
            report.devices_added += devices.len() as u64;
            return Ok(());
        }
        let write = ImportWrite {
            source: source.clone(),
            source_id: row.id.clone(),
            source_updated_at: row.updated_at_text.clone(),
            user,
            devices,
        };
        match self.store.write_import(write, now).await {
            Ok(w) => {
                if w.created {
                    report.users_created += 1;
                } else {
                    report.users_updated += 1;
                }
                report.devices_added += w.devices_added;
                report.devices_updated += w.devices_updated;
                report.devices_kept += w.devices_kept;
                report.devices_removed += w.devices_removed;
            }
            Err(StoreError::Conflict) => skip(
                report,
                "uid and provider belong to another toker account".into(),
            ),
            Err(e) if e.is_unavailable() => return Err(e.into()),
            Err(e) => skip(report, format!("could not be stored: {e}")),
        }
        Ok(())
    }
}

/// The toker user a source row becomes: `existing` (an earlier import of it) updated, or a new
/// one. Pending mailed links are not carried over: Devise keeps HMACs of them made with the
/// old app's secret, which toker cannot check, so users ask for a new link.
fn user_from(row: &DtaRow, email: Option<String>, existing: Option<User>) -> User {
    let now = Utc::now();
    let mut user = existing.clone().unwrap_or_else(crate::accounts::blank_user);
    user.provider = row.provider.clone();
    user.uid = row.uid.clone();
    user.encrypted_password = row.encrypted_password.clone().unwrap_or_default();
    user.email = email;
    user.allow_password_change = row.allow_password_change.unwrap_or(false);
    // No `confirmed_at` column: the old app did not use confirmable, so every user counts
    // as confirmed (since they signed up).
    user.confirmed_at = match row.confirmed_at {
        Some(at) => at,
        None => user.confirmed_at.or(Some(row.created_at.unwrap_or(now))),
    };
    user.confirmation_sent_at = row.confirmation_sent_at;
    user.unconfirmed_email = row.unconfirmed_email.as_deref().map(normalize_email);
    user.failed_attempts = row.failed_attempts.unwrap_or(0);
    user.locked_at = row.locked_at;
    user.sign_in_count = row.sign_in_count.unwrap_or(user.sign_in_count);
    user.current_sign_in_at = row.current_sign_in_at.or(user.current_sign_in_at);
    user.last_sign_in_at = row.last_sign_in_at.or(user.last_sign_in_at);
    user.current_sign_in_ip = row.current_sign_in_ip.clone().or(user.current_sign_in_ip);
    user.last_sign_in_ip = row.last_sign_in_ip.clone().or(user.last_sign_in_ip);
    user.name = row.name.clone();
    user.nickname = row.nickname.clone();
    user.image = row.image.clone();
    let mut extra: Map<String, Value> = extra_of(&user);
    let mut extra_changed = false;
    for (attribute, value) in &row.extra {
        // A column mapped onto a profile attribute fills that column, as sign-up would.
        match attribute.as_str() {
            "name" => user.name = value.clone(),
            "nickname" => user.nickname = value.clone(),
            "image" => user.image = value.clone(),
            _ => {
                extra.insert(
                    attribute.clone(),
                    value.clone().map_or(Value::Null, Value::String),
                );
                extra_changed = true;
            }
        }
    }
    if extra_changed {
        user.extra = Some(Value::Object(extra).to_string());
    }
    user.created_at = match &existing {
        Some(before) => before.created_at,
        None => row.created_at.unwrap_or(now),
    };
    user.updated_at = row.updated_at.unwrap_or(now);
    if let Some(before) = &existing
        && (before.encrypted_password != user.encrypted_password || before.email != user.email)
    {
        withdraw_links(&mut user);
    }
    if existing.is_none() {
        user.confirmation_token = None;
        user.reset_password_token = None;
        user.unlock_token = None;
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> DtaRow {
        DtaRow {
            id: "1".into(),
            provider: "email".into(),
            uid: "A@Example.com".into(),
            encrypted_password: Some("$2a$10$x".into()),
            email: Some("A@Example.com".into()),
            ..DtaRow::default()
        }
    }

    #[test]
    fn a_table_without_confirmable_imports_confirmed_users() {
        let u = user_from(&row(), Some("a@example.com".into()), None);
        assert!(u.confirmed_at.is_some());
        assert_eq!(
            u.uid, "A@Example.com",
            "the uid is the frontends' key, kept as is"
        );
        assert_eq!(u.email.as_deref(), Some("a@example.com"));
        let unconfirmed = DtaRow {
            confirmed_at: Some(None),
            ..row()
        };
        assert!(user_from(&unconfirmed, None, None).confirmed_at.is_none());
    }

    #[test]
    fn mapped_columns_join_the_extra_attributes_of_an_earlier_import() {
        let mut before = crate::accounts::blank_user();
        before.id = 5;
        before.extra = Some(r#"{"kept":"yes","color":"red"}"#.into());
        before.reset_password_token = Some("digest".into());
        let mut r = row();
        r.extra.insert("color".into(), Some("teal".into()));
        r.extra.insert("gone".into(), None);
        let u = user_from(&r, Some("a@example.com".into()), Some(before));
        assert_eq!(u.id, 5);
        let extra: Value = serde_json::from_str(u.extra.as_deref().unwrap()).unwrap();
        assert_eq!(
            extra,
            serde_json::json!({"kept": "yes", "color": "teal", "gone": null})
        );
        let mut r = row();
        r.extra.insert("nickname".into(), Some("zz".into()));
        let u2 = user_from(&r, None, None);
        assert_eq!(u2.nickname.as_deref(), Some("zz"));
        assert_eq!(u2.extra, None);
        // The password changed in the old app: a link toker mailed is withdrawn.
        assert_eq!(u.reset_password_token, None);
    }

    #[test]
    fn the_summary_groups_skips_by_reason() {
        let report = Report {
            rows: 3,
            users_created: 1,
            skipped_rows: vec![
                Skip {
                    source_id: "2".into(),
                    client: None,
                    reason: "uid: empty".into(),
                },
                Skip {
                    source_id: "3".into(),
                    client: None,
                    reason: "uid: empty".into(),
                },
            ],
            ..Report::default()
        };
        let text = report.summary();
        assert!(text.contains("3 rows read"), "{text}");
        assert!(text.contains("2 × uid: empty (id 2, 3)"), "{text}");
    }
}
