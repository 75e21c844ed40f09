//! Queries on `users`.

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, ExprTrait, IdenStatic, Iterable,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait, sea_query::Expr,
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
        Ok(user::Entity::find_by_id(id)
            .filter(user::Column::UserType.eq(self.user_type()))
            .one(&self.db)
            .await?)
    }

    /// The e-mail user signing in with `email` (DTA looks up the login field with provider
    /// `email`; OAuth users with the same address are not candidates).
    pub async fn find_email_user(&self, email: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .filter(user::Column::Provider.eq("email"))
            .filter(user::Column::UserType.eq(self.user_type()))
            .one(&self.db)
            .await?)
    }

    /// Whether any user of this type, of any provider, already has this address.
    pub async fn email_in_use(&self, email: &str, except_user: Option<i64>) -> StoreResult<bool> {
        let mut query = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .filter(user::Column::UserType.eq(self.user_type()));
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
            user_type: Set(self.user_type().to_string()),
            ..Default::default()
        };
        Ok(model.insert(&self.db).await?)
    }

    /// Writes the columns in which `after` differs from `before`, the row as the caller read
    /// it, and no other: a lock, a reset request and an account update running at once each
    /// keep what the others wrote. Returns the row as stored; a unique conflict is
    /// `StoreError::Conflict`.
    pub async fn update_user(&self, before: &User, after: &User) -> StoreResult<User> {
        self.write_changes(before, after, &[]).await
    }

    /// [`Store::update_user`] that also writes the reset and unlock columns of `after`
    /// whether or not they differ from `before`, so that a link mailed while the caller was
    /// working is withdrawn too (a changed password or e-mail, docs/decisions.md D17).
    pub async fn update_user_replacing_links(
        &self,
        before: &User,
        after: &User,
    ) -> StoreResult<User> {
        const LINKS: [user::Column; 4] = [
            user::Column::ResetPasswordToken,
            user::Column::ResetPasswordSentAt,
            user::Column::UnlockToken,
            user::Column::UnlockTokenSentAt,
        ];
        self.write_changes(before, after, &LINKS).await
    }

    async fn write_changes(
        &self,
        before: &User,
        after: &User,
        always: &[user::Column],
    ) -> StoreResult<User> {
        let mut model = user::ActiveModel {
            id: ActiveValue::Unchanged(before.id),
            ..Default::default()
        };
        let mut changed = false;
        for column in user::Column::iter().filter(|c| !matches!(c, user::Column::Id)) {
            let value = after.get(column);
            let forced = always.iter().any(|c| c.as_str() == column.as_str());
            if forced || value != before.get(column) {
                model.set(column, value);
                changed = true;
            }
        }
        if !changed {
            return Ok(after.clone());
        }
        Ok(model.update(&self.db).await?)
    }

    /// Deletes a user and its devices in one transaction; the number of devices deleted with
    /// it, or `None` when there was no such user.
    pub async fn delete_user(&self, id: i64) -> StoreResult<Option<u64>> {
        let txn = self.db.begin().await?;
        let devices = entity::device::Entity::delete_many()
            .filter(entity::device::Column::UserId.eq(id))
            .exec(&txn)
            .await?
            .rows_affected;
        let deleted = user::Entity::delete_many()
            .filter(user::Column::Id.eq(id))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok((deleted == 1).then_some(devices))
    }
}

impl Store {
    /// Users by id, `limit` of them after skipping `offset` (admin tooling).
    pub async fn list_users(&self, offset: u64, limit: u64) -> StoreResult<Vec<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::UserType.eq(self.user_type()))
            .order_by_asc(user::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// The users of this type with this uid, of any provider.
    pub async fn find_users_by_uid(&self, uid: &str) -> StoreResult<Vec<User>> {
        let users = user::Entity::find()
            .filter(user::Column::Uid.eq(uid))
            .filter(user::Column::UserType.eq(self.user_type()))
            .all(&self.db)
            .await?;
        // Compare exactly: MySQL's default collation would match another letter case.
        Ok(users.into_iter().filter(|u| u.uid == uid).collect())
    }
}

impl Store {
    /// The user whose stored confirmation-token digest is `digest`.
    pub async fn find_by_confirmation_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::ConfirmationToken.eq(digest))
            .filter(user::Column::UserType.eq(self.user_type()))
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// The user whose stored reset-token digest is `digest`.
    pub async fn find_by_reset_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::ResetPasswordToken.eq(digest))
            .filter(user::Column::UserType.eq(self.user_type()))
            .one(&self.db)
            .await?)
    }

    /// The user whose stored unlock-token digest is `digest`.
    pub async fn find_by_unlock_digest(&self, digest: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::UnlockToken.eq(digest))
            .filter(user::Column::UserType.eq(self.user_type()))
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// Takes one of the account's `maximum` sign-in attempts before the password is checked:
    /// counts it as failed unless the account is locked or every attempt is taken, and returns
    /// the attempt's number (1-based). `None`: no attempt left, so the password must not be
    /// checked at all. Parallel guesses therefore never check more than `maximum` passwords.
    pub async fn reserve_sign_in_attempt(&self, id: i64, maximum: i32) -> StoreResult<Option<i32>> {
        let txn = self.db.begin().await?;
        let reserved = user::Entity::update_many()
            .col_expr(
                user::Column::FailedAttempts,
                Expr::col(user::Column::FailedAttempts).add(1),
            )
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::LockedAt.is_null())
            .filter(user::Column::FailedAttempts.lt(maximum))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        // Read inside the transaction, which still holds the row's write lock: the count is
        // this attempt's own.
        let number = match reserved {
            true => {
                user::Entity::find_by_id(id)
                    .select_only()
                    .column(user::Column::FailedAttempts)
                    .into_tuple::<i32>()
                    .one(&txn)
                    .await?
            }
            false => None,
        };
        txn.commit().await?;
        Ok(number)
    }

    /// Undoes one `reserve_sign_in_attempt` whose password was never checked (the account is
    /// not locked by it: an attempt that locked was checked).
    pub async fn release_sign_in_attempt(&self, id: i64) -> StoreResult<()> {
        user::Entity::update_many()
            .col_expr(
                user::Column::FailedAttempts,
                Expr::col(user::Column::FailedAttempts).sub(1),
            )
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::FailedAttempts.gt(0))
            .filter(user::Column::LockedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Locks the account if its failed attempts have reached `maximum` and it is not locked
    /// yet; true when this call locked it (so exactly one unlock mail goes out).
    pub async fn lock_if_exhausted(
        &self,
        id: i64,
        maximum: i32,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::LockedAt, Expr::value(Some(at)))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::LockedAt.is_null())
            .filter(user::Column::FailedAttempts.gte(maximum))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Ends a lock taken at or before `locked_before` (`unlock_in` is over): Devise's
    /// `unlock_access!`, which also forgets the failed attempts and the unlock link. True when
    /// this call ended it.
    pub async fn unlock_expired(&self, id: i64, locked_before: DateTime<Utc>) -> StoreResult<bool> {
        let result = unlocked(user::Entity::update_many())
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::LockedAt.lte(locked_before))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Follows an unlock link: unlocks account `id` if it still holds the unlock-token digest
    /// `digest`, spending the token. False when it does not (used, or spent by a parallel
    /// click), so each link unlocks and signs in once.
    pub async fn unlock_with_digest(&self, id: i64, digest: &str) -> StoreResult<bool> {
        let result = unlocked(user::Entity::update_many())
            .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::UnlockToken.eq(digest))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }
}

/// The assignments of an unlock: no lock, no failed attempts, no unlock link.
fn unlocked(update: sea_orm::UpdateMany<user::Entity>) -> sea_orm::UpdateMany<user::Entity> {
    update
        .col_expr(user::Column::LockedAt, Expr::value(None::<DateTime<Utc>>))
        .col_expr(user::Column::FailedAttempts, Expr::value(0))
        .col_expr(user::Column::UnlockToken, Expr::value(None::<String>))
        .col_expr(
            user::Column::UnlockTokenSentAt,
            Expr::value(None::<DateTime<Utc>>),
        )
}

impl Store {
    /// The user signed in through `provider` as `uid`.
    pub async fn find_provider_user(&self, provider: &str, uid: &str) -> StoreResult<Option<User>> {
        Ok(user::Entity::find()
            .filter(user::Column::Provider.eq(provider))
            .filter(user::Column::Uid.eq(uid))
            .filter(user::Column::UserType.eq(self.user_type()))
            .one(&self.db)
            .await?)
    }
}

impl Store {
    /// Devise's trackable update of a successful sign-in, and the reset of failed attempts.
    /// With `unless_locked`, nothing is written when the account is locked (a parallel failed
    /// attempt locked it while this one checked the password), and false comes back. The
    /// previous values move to `last_*` in the same statement: assignments run left to right on
    /// MySQL, on old values elsewhere; both work.
    pub async fn record_sign_in(
        &self,
        id: i64,
        now: DateTime<Utc>,
        ip: Option<&str>,
        unless_locked: bool,
    ) -> StoreResult<bool> {
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
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(id));
        if unless_locked {
            update = update.filter(user::Column::LockedAt.is_null());
        }
        Ok(update.exec(&self.db).await?.rows_affected == 1)
    }
}
