//! Queries on `users`.

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, ExprTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};

use super::{Store, StoreResult, User};

/// A user about to be created.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub provider: String,
    pub uid: String,
    pub email: Option<String>,
    pub encrypted_password: String,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub image: Option<String>,
    pub extra: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirmation_token: Option<String>,
    pub confirmation_sent_at: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn find_user(&self, id: i64) -> StoreResult<Option<User>> {
        Ok(user::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// The e-mail user signing in with `email` (DTA looks up the login field with provider
    /// `email`; OAuth users with the same address are not candidates).
    pub async fn find_email_user(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .filter(user::Column::Provider.eq("email"))
            .one(&self.db)
            .await?)
    }

    /// Whether any user, of any provider, already has this address.
    pub async fn email_in_use(&self, email: &str, except_user: Option<i64>) -> StoreResult<bool> {
        let mut query = user::Entity::find().filter(user::Column::Email.eq(email));
        if let Some(id) = except_user {
            query = query.filter(user::Column::Id.ne(id));
        }
        Ok(query.one(&self.db).await?.is_some())
    }

    /// Inserts a user; a duplicate (uid, provider) surfaces as `StoreError::Conflict`.
    pub async fn insert_user(&self, new: NewUser, now: DateTime<Utc>) -> StoreResult<User> {
        let model = user::ActiveModel {
            provider: Set(new.provider),
            uid: Set(new.uid),
            email: Set(new.email),
            encrypted_password: Set(new.encrypted_password),
            allow_password_change: Set(false),
            failed_attempts: Set(0),
            sign_in_count: Set(0),
            name: Set(new.name),
            nickname: Set(new.nickname),
            image: Set(new.image),
            extra: Set(new.extra),
            confirmed_at: Set(new.confirmed_at),
            confirmation_token: Set(new.confirmation_token),
            confirmation_sent_at: Set(new.confirmation_sent_at),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        Ok(model.insert(&self.db).await?)
    }

    /// Writes every column of `user` back; a unique conflict is `StoreError::Conflict`.
    pub async fn save_user(&self, user: &User) -> StoreResult<User> {
        let mut model = user.clone().into_active_model().reset_all();
        model.id = sea_orm::ActiveValue::Unchanged(user.id);
        Ok(model.update(&self.db).await?)
    }

    /// Deletes a user and its devices in one transaction.
    pub async fn delete_user(&self, id: i64) -> StoreResult<bool> {
        let txn = self.db.begin().await?;
        entity::device::Entity::delete_many()
            .filter(entity::device::Column::UserId.eq(id))
            .exec(&txn)
            .await?;
        let deleted = user::Entity::delete_many()
            .filter(user::Column::Id.eq(id))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(deleted == 1)
    }
}

impl Store {
    /// The user whose stored confirmation-token digest is `digest`.
    pub async fn find_by_confirmation_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::ConfirmationToken.eq(digest))
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// The user whose stored reset-token digest is `digest`.
    pub async fn find_by_reset_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::ResetPasswordToken.eq(digest))
            .one(&self.db)
            .await?)
    }

    /// The user whose stored unlock-token digest is `digest`.
    pub async fn find_by_unlock_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::UnlockToken.eq(digest))
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// Counts one more failed sign-in, atomically (parallel attempts all count); returns the
    /// new count.
    pub async fn count_failed_attempt(&self, id: i64) -> StoreResult<i32> {
        user::Entity::update_many()
            .col_expr(
                user::Column::FailedAttempts,
                Expr::col(user::Column::FailedAttempts).add(1),
            )
            .filter(user::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(self.find_user(id).await?.map_or(0, |u| u.failed_attempts))
    }

    /// Locks the account unless it already is; true when this call locked it (so exactly one
    /// unlock mail goes out).
    pub async fn lock(&self, id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::LockedAt, Expr::value(Some(at)))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::LockedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }
}

impl Store {
    /// The user signed in through `provider` as `uid`.
    pub async fn find_provider_user(&self, provider: &str, uid: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::Provider.eq(provider))
            .filter(user::Column::Uid.eq(uid))
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// Devise's trackable update of a successful sign-in, and the reset of failed attempts (and
    /// of an expired lock, when `clear_lock`). The previous values move to `last_*` in the same
    /// statement: assignments run left to right on MySQL, on old values elsewhere; both work.
    pub async fn record_sign_in(
        &self,
        id: i64,
        now: DateTime<Utc>,
        ip: Option<&str>,
        clear_lock: bool,
    ) -> StoreResult<()> {
        let mut update = user::Entity::update_many()
            .col_expr(
                user::Column::LastSignInAt,
                Expr::col(user::Column::CurrentSignInAt),
            )
            .col_expr(
                user::Column::LastSignInIp,
                Expr::col(user::Column::CurrentSignInIp),
            )
            .col_expr(user::Column::CurrentSignInAt, Expr::value(Some(now)))
            .col_expr(
                user::Column::CurrentSignInIp,
                Expr::value(ip.map(str::to_string)),
            )
            .col_expr(
                user::Column::SignInCount,
                Expr::col(user::Column::SignInCount).add(1),
            )
            .col_expr(user::Column::FailedAttempts, Expr::value(0))
            .col_expr(user::Column::UpdatedAt, Expr::value(now));
        if clear_lock {
            update = update
                .col_expr(user::Column::LockedAt, Expr::value(None::<DateTime<Utc>>))
                .col_expr(user::Column::UnlockToken, Expr::value(None::<String>));
        }
        update
            .filter(user::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
