//! `devices`: one row per (user, client) holding that client's token chain (docs/decisions.md D3).
//! Only SHA-256 digests of tokens are stored (D2). `version` is the compare-and-swap guard that
//! makes rotation atomic across processes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub client: String,
    pub token_hash: String,
    pub previous_token_hash: Option<String>,
    /// The token two rotations back: accepted only inside the batch window (DTA's `last_token`).
    pub last_token_hash: Option<String>,
    /// Unix seconds.
    pub expiry: i64,
    /// Unix milliseconds of the last rotation or batch touch.
    pub touched_at: i64,
    /// Unix milliseconds of the last rotation (or of the device's creation): the two-back
    /// token's grace runs from here, whatever touched the device since.
    pub rotated_at: i64,
    pub version: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
