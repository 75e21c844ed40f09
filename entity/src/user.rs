//! `users`: devise_token_auth's users table (docs/contract.md §5) with every Devise module's columns, so
//! that confirmable, recoverable, lockable, trackable and OAuth need no destructive migration.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub provider: String,
    pub uid: String,
    pub encrypted_password: String,
    pub reset_password_token: Option<String>,
    pub reset_password_sent_at: Option<DateTimeUtc>,
    pub allow_password_change: bool,
    pub remember_created_at: Option<DateTimeUtc>,
    pub confirmation_token: Option<String>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub confirmation_sent_at: Option<DateTimeUtc>,
    pub unconfirmed_email: Option<String>,
    pub failed_attempts: i32,
    pub unlock_token: Option<String>,
    /// When the unlock link was mailed; it expires `unlock_within` later.
    pub unlock_token_sent_at: Option<DateTimeUtc>,
    pub locked_at: Option<DateTimeUtc>,
    pub sign_in_count: i32,
    pub current_sign_in_at: Option<DateTimeUtc>,
    pub last_sign_in_at: Option<DateTimeUtc>,
    pub current_sign_in_ip: Option<String>,
    pub last_sign_in_ip: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub image: Option<String>,
    pub email: Option<String>,
    /// JSON object of the app's extra user attributes (`extra_attributes` setting).
    pub extra: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The user type (`user_types` setting; `User` is the default type): each type's users
    /// are separate, so one uid may exist once per type.
    pub user_type: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::device::Entity")]
    Device,
}

impl Related<super::device::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Device.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
