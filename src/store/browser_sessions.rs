//! Queries on `browser_sessions` (docs/decisions.md D15): found by the digest of the cookie's id,
//! each bound to a device, so deleting the device (sign-out, the device cap, an admin's revoke)
//! deletes the session with it.

use entity::{browser_session, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{Store, StoreResult, User};

pub use entity::browser_session::Model as BrowserSession;

impl Store {
    pub async fn create_browser_session(
        &self,
        token_hash: String,
        user_id: i64,
        device_id: i64,
        now_s: i64,
    ) -> StoreResult<BrowserSession> {
        Ok(browser_session::ActiveModel {
            token_hash: Set(token_hash),
            user_id: Set(user_id),
            device_id: Set(device_id),
            created_at: Set(now_s),
            seen_at: Set(now_s),
            ..Default::default()
        }
        .insert(&self.db)
        .await?)
    }

    /// The session whose cookie id has digest `token_hash`, with its user.
    pub async fn find_browser_session(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(BrowserSession, User)>> {
        let found = browser_session::Entity::find()
            .filter(browser_session::Column::TokenHash.eq(token_hash))
            .find_also_related(user::Entity)
            .one(&self.db)
            .await?;
        // Compare exactly: MySQL's default collation would match another letter case.
        Ok(found.and_then(|(s, u)| u.filter(|_| s.token_hash == token_hash).map(|u| (s, u))))
    }

    pub async fn touch_browser_session(&self, id: i64, now_s: i64) -> StoreResult<()> {
        browser_session::Entity::update_many()
            .col_expr(browser_session::Column::SeenAt, now_s.into())
            .filter(browser_session::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Every browser session of a user (tests and admin tooling).
    pub async fn browser_sessions_of(&self, user_id: i64) -> StoreResult<Vec<BrowserSession>> {
        Ok(browser_session::Entity::find()
            .filter(browser_session::Column::UserId.eq(user_id))
            .all(&self.db)
            .await?)
    }
}
