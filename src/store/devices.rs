//! Queries on `devices`: the token chain of each (user, client), rotated by compare-and-swap.

use chrono::{DateTime, Utc};
use entity::{device, user};
use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, SelectTwoModel, SelectorTrait, Set, Statement, Value,
};

use super::{Device, Store, StoreError, StoreResult, User};
use crate::tokens::{Chain, DeviceAge};

/// A device (client) about to be created for a signed-in user.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub user_id: i64,
    pub client: String,
    pub chain: Chain,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// `find_device`'s statement, built once: sea-query rebuilding the same SQL text on every
/// request was a tenth of the server's CPU under load.
#[derive(Debug, Clone)]
pub(super) struct FindDevice {
    backend: DbBackend,
    sql: Arc<str>,
    /// Which request value each bound value of `sql` is, in order.
    slots: Vec<Slot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Client,
    Uid,
    UserType,
}

impl FindDevice {
    pub(super) fn new(backend: DbBackend) -> FindDevice {
        const CLIENT: &str = "\u{0}client";
        const UID: &str = "\u{0}uid";
        const USER_TYPE: &str = "\u{0}user_type";
        // An inner join, so the planner can start from the users (uid, provider, user_type)
        // index and reach the device through (user_id, client). The user type is part of the
        // one read: a token of another type finds no row. No `LIMIT ?` (`one()`): a bound
        // limit makes SQLite re-prepare the statement on every execution, as it plans around
        // the value. A uid matches one user per provider and type, so the rows are few.
        let template = device::Entity::find()
            .inner_join(user::Entity)
            .select_also(user::Entity)
            .filter(device::Column::Client.eq(CLIENT))
            .filter(user::Column::Uid.eq(UID))
            .filter(user::Column::UserType.eq(USER_TYPE))
            .build(backend);
        let slots = template
            .values
            .iter()
            .flat_map(|v| v.0.iter())
            .map(|v| {
                if *v == Value::from(CLIENT) {
                    Slot::Client
                } else if *v == Value::from(UID) {
                    Slot::Uid
                } else {
                    Slot::UserType
                }
            })
            .collect();
        FindDevice {
            backend,
            sql: template.sql.into(),
            slots,
        }
    }

    fn statement(&self, uid: &str, client: &str, user_type: &str) -> Statement {
        let values = self.slots.iter().map(|slot| {
            Value::from(match slot {
                Slot::Client => client,
                Slot::Uid => uid,
                Slot::UserType => user_type,
            })
        });
        Statement::from_sql_and_values(self.backend, self.sql.as_ref(), values)
    }
}

/// The token chain a device row holds.
pub fn chain_of(device: &Device) -> Chain {
    Chain {
        token_hash: device.token_hash.clone(),
        previous_token_hash: device.previous_token_hash.clone(),
        last_token_hash: device.last_token_hash.clone(),
        expiry: device.expiry,
        touched_at: device.touched_at,
        rotated_at: device.rotated_at,
    }
}

impl Store {
    /// The one read of an authenticated request: the device `client` of the user of this
    /// handle's type whose `uid` matches, with that user. By uid alone, not provider, as DTA
    /// (docs/contract.md §3.3).
    /// Its outcome feeds `availability`, so the first request after an outage reports the
    /// database back.
    pub async fn find_device(
        &self,
        uid: &str,
        client: &str,
    ) -> StoreResult<Option<(Device, User)>> {
        let started = std::time::Instant::now();
        let rows = self
            .db
            .query_all_raw(self.find_device.statement(uid, client, self.user_type()))
            .await
            .map_err(StoreError::from);
        self.availability
            .observe(started, super::Access::Read, &rows);
        let rows = rows?;
        for row in rows {
            let (d, u) = SelectTwoModel::<device::Model, user::Model>::from_raw_query_result(row)?;
            // Compare exactly: MySQL's default collation would match another letter case.
            if let Some(u) = u
                .filter(|u| d.client == client && u.uid == uid && *u.user_type == *self.user_type())
            {
                return Ok(Some((d, u)));
            }
        }
        Ok(None)
    }

    /// Creates a device, then applies the device cap: the user's expired devices and, beyond
    /// `max_devices`, the least recently touched ones are deleted (never the new one). Returns
    /// the new device and the ids of the devices deleted.
    pub async fn create_device(
        &self,
        new: NewDevice,
        policy: &crate::tokens::TokenPolicy,
        now: DateTime<Utc>,
    ) -> StoreResult<(Device, Vec<i64>)> {
        let user_id = new.user_id;
        let device = device::ActiveModel {
            user_id: Set(new.user_id),
            client: Set(new.client),
            token_hash: Set(new.chain.token_hash),
            previous_token_hash: Set(new.chain.previous_token_hash),
            last_token_hash: Set(new.chain.last_token_hash),
            expiry: Set(new.chain.expiry),
            touched_at: Set(new.chain.touched_at),
            rotated_at: Set(new.chain.rotated_at),
            version: Set(0),
            user_agent: Set(new.user_agent),
            ip: Set(new.ip),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;

        let ages: Vec<(i64, i64, i64)> = device::Entity::find()
            .select_only()
            .column(device::Column::Id)
            .column(device::Column::TouchedAt)
            .column(device::Column::Expiry)
            .filter(device::Column::UserId.eq(user_id))
            .into_tuple()
            .all(&self.db)
            .await?;
        let ages: Vec<DeviceAge> = ages
            .into_iter()
            .map(|(id, touched_at, expiry)| DeviceAge {
                id,
                touched_at,
                expiry,
            })
            .collect();
        let evict = crate::tokens::evictions(policy, &ages, device.id, now.timestamp_millis());
        if !evict.is_empty() {
            device::Entity::delete_many()
                .filter(device::Column::Id.is_in(evict.clone()))
                .exec(&self.db)
                .await?;
        }
        Ok((device, evict))
    }

    /// Compare-and-swap rotation: writes `chain` only if the row still has `expected_version`.
    /// Returns false when another request (thread, process or instance) rotated first.
    /// Concurrent rotations are grouped into one statement (see `token_writes`).
    pub async fn rotate_device(
        &self,
        id: i64,
        expected_version: i64,
        chain: &Chain,
    ) -> StoreResult<bool> {
        self.tokens
            .rotate(id, expected_version, chain.clone())
            .await
    }

    /// A batch request's write: pushes the device's last-touched time forward (never back).
    pub async fn touch_device(&self, id: i64, now_ms: i64) -> StoreResult<()> {
        self.tokens.touch(id, now_ms).await
    }

    /// Deletes a device met after its expiry (no token of it can be accepted any more); false
    /// when it is gone already or was not expired at `now_s` after all.
    pub async fn delete_expired_device(&self, id: i64, now_s: i64) -> StoreResult<bool> {
        let result = device::Entity::delete_many()
            .filter(device::Column::Id.eq(id))
            .filter(device::Column::Expiry.lte(now_s))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    pub async fn delete_device(&self, id: i64) -> StoreResult<bool> {
        let result = device::Entity::delete_many()
            .filter(device::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Signs a user out everywhere except `keep` (DTA's `remove_tokens_after_password_reset`,
    /// keeping the caller explicitly, docs/contract.md §3.9).
    pub async fn delete_other_devices(&self, user_id: i64, keep: Option<i64>) -> StoreResult<u64> {
        let mut query = device::Entity::delete_many().filter(device::Column::UserId.eq(user_id));
        if let Some(keep) = keep {
            query = query.filter(device::Column::Id.ne(keep));
        }
        Ok(query.exec(&self.db).await?.rows_affected)
    }

    /// One device by its id (admin tooling).
    pub async fn find_device_by_id(&self, id: i64) -> StoreResult<Option<Device>> {
        Ok(device::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// Every device of a user (tests and admin tooling).
    pub async fn devices_of(&self, user_id: i64) -> StoreResult<Vec<Device>> {
        Ok(device::Entity::find()
            .filter(device::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?)
    }
}
