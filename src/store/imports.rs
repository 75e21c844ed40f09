//! Writes of `toker import dta`: a user, the record of which source row it came from, and its
//! devices, in one transaction per user, so an interrupted import leaves whole users and a
//! re-run picks up where it stopped.

use chrono::{DateTime, Utc};
use entity::{device, imported_account, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::{Store, StoreResult, User};
use crate::tokens::{Chain, is_bcrypt};

/// One imported device: a DTA client id and its chain (bcrypt hashes as DTA made them).
#[derive(Debug, Clone)]
pub struct ImportedDevice {
    pub client: String,
    pub chain: Chain,
}

/// One source row to write.
#[derive(Debug, Clone)]
pub struct ImportWrite {
    /// The source table.
    pub source: String,
    /// The row's key in the source.
    pub source_id: String,
    pub source_updated_at: Option<String>,
    /// The user as it is to be stored; `id` 0 creates it, any other id updates that user.
    pub user: User,
    pub devices: Vec<ImportedDevice>,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportWritten {
    pub user_id: i64,
    pub created: bool,
    pub devices_added: u64,
    /// Devices still holding bcrypt hashes, refreshed from the source.
    pub devices_updated: u64,
    /// Devices already used with toker (their hashes upgraded): toker's state wins.
    pub devices_kept: u64,
    /// Devices still holding bcrypt hashes that the source no longer has (signed out there).
    pub devices_removed: u64,
}

/// The record of an earlier import of a source row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub user_id: i64,
    pub source_updated_at: Option<String>,
}

impl Store {
    /// Which user the source row became in an earlier run.
    pub async fn find_import(
        &self,
        source: &str,
        source_id: &str,
    ) -> StoreResult<Option<ImportRecord>> {
        Ok(imported_account::Entity::find()
            .filter(imported_account::Column::Source.eq(source))
            .filter(imported_account::Column::SourceId.eq(source_id))
            .one(&self.db)
            .await?
            .map(|r| ImportRecord {
                user_id: r.user_id,
                source_updated_at: r.source_updated_at,
            }))
    }

    /// Writes one imported user with its devices and the import record, all or nothing. A
    /// (uid, provider) taken by another user is `StoreError::Conflict`.
    pub async fn write_import(
        &self,
        write: ImportWrite,
        now: DateTime<Utc>,
    ) -> StoreResult<ImportWritten> {
        let txn = self.db.begin().await?;
        let created = write.user.id == 0;
        let mut model: user::ActiveModel = write.user.into();
        model = model.reset_all();
        model.user_type = ActiveValue::Set(self.user_type().to_string());
        let stored = if created {
            model.id = ActiveValue::NotSet;
            model.insert(&txn).await?
        } else {
            model.update(&txn).await?
        };
        let mut out = ImportWritten {
            user_id: stored.id,
            created,
            ..ImportWritten::default()
        };

        let record = imported_account::Entity::find()
            .filter(imported_account::Column::Source.eq(&write.source))
            .filter(imported_account::Column::SourceId.eq(&write.source_id))
            .one(&txn)
            .await?;
        match record {
            Some(r) => {
                let mut r: imported_account::ActiveModel = r.into();
                r.user_id = Set(stored.id);
                r.source_updated_at = Set(write.source_updated_at);
                r.imported_at = Set(now);
                r.update(&txn).await?;
            }
            None => {
                imported_account::ActiveModel {
                    source: Set(write.source),
                    source_id: Set(write.source_id),
                    user_id: Set(stored.id),
                    source_updated_at: Set(write.source_updated_at),
                    imported_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
            }
        }

        let existing = device::Entity::find()
            .filter(device::Column::UserId.eq(stored.id))
            .all(&txn)
            .await?;
        for d in &existing {
            let in_source = write.devices.iter().any(|n| n.client == d.client);
            if !in_source && is_bcrypt(&d.token_hash) {
                device::Entity::delete_by_id(d.id).exec(&txn).await?;
                out.devices_removed += 1;
            }
        }
        for new in write.devices {
            let chain = new.chain;
            match existing.iter().find(|d| d.client == new.client) {
                None => {
                    device::ActiveModel {
                        user_id: Set(stored.id),
                        client: Set(new.client),
                        token_hash: Set(chain.token_hash),
                        previous_token_hash: Set(chain.previous_token_hash),
                        last_token_hash: Set(chain.last_token_hash),
                        expiry: Set(chain.expiry),
                        touched_at: Set(chain.touched_at),
                        rotated_at: Set(chain.rotated_at),
                        version: Set(0),
                        user_agent: Set(None),
                        ip: Set(None),
                        created_at: Set(now),
                        ..Default::default()
                    }
                    .insert(&txn)
                    .await?;
                    out.devices_added += 1;
                }
                Some(d) if is_bcrypt(&d.token_hash) => {
                    // The version moves on, so a request that read the row before this write
                    // loses its compare-and-swap instead of overwriting it.
                    let mut am: device::ActiveModel = d.clone().into();
                    am.token_hash = Set(chain.token_hash);
                    am.previous_token_hash = Set(chain.previous_token_hash);
                    am.last_token_hash = Set(chain.last_token_hash);
                    am.expiry = Set(chain.expiry);
                    am.touched_at = Set(chain.touched_at);
                    am.rotated_at = Set(chain.rotated_at);
                    am.version = Set(d.version + 1);
                    am.update(&txn).await?;
                    out.devices_updated += 1;
                }
                Some(_) => out.devices_kept += 1,
            }
        }
        txn.commit().await?;
        Ok(out)
    }
}
