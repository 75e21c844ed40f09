//! Spent OAuth state nonces.

use entity::oauth_nonce;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{Store, StoreError, StoreResult};

impl Store {
    /// Marks `nonce` used; false when it already was (a replayed state). Expired rows are
    /// cleared on the way.
    pub async fn consume_nonce(&self, nonce: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
        oauth_nonce::Entity::delete_many()
            .filter(oauth_nonce::Column::ExpiresAt.lt(now))
            .exec(&self.db)
            .await?;
        let inserted = oauth_nonce::ActiveModel {
            nonce: Set(nonce.to_string()),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
