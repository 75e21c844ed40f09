//! Generated assertion signing keys (docs/decisions.md D14), shared by every instance.

use entity::signing_key;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Store, StoreError, StoreResult};

pub use signing_key::Model as StoredKey;

impl Store {
    /// Every stored key, newest first.
    pub async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>> {
        Ok(signing_key::Entity::find()
            .order_by_desc(signing_key::Column::SignsFrom)
            .order_by_desc(signing_key::Column::Kid)
            .all(&self.db)
            .await?)
    }

    /// Stores a key; false when one with its `kid` already exists.
    pub async fn insert_signing_key(&self, key: StoredKey) -> StoreResult<bool> {
        let inserted = signing_key::ActiveModel {
            kid: Set(key.kid),
            algorithm: Set(key.algorithm),
            private_key: Set(key.private_key),
            created_at: Set(key.created_at),
            signs_from: Set(key.signs_from),
        }
        .insert(&self.db)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes the keys named; returns how many went.
    pub async fn delete_signing_keys(&self, kids: &[String]) -> StoreResult<u64> {
        if kids.is_empty() {
            return Ok(0);
        }
        Ok(signing_key::Entity::delete_many()
            .filter(signing_key::Column::Kid.is_in(kids.iter().cloned()))
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
