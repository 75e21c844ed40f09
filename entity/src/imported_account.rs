//! `imported_accounts`: which toker user each imported devise_token_auth row became, and the
//! row's `updated_at` as last imported (so a re-run of `toker import dta` updates, never
//! duplicates, and skips what did not change).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "imported_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The source table's name.
    pub source: String,
    /// The row's primary key in the source table, as text.
    pub source_id: String,
    pub user_id: i64,
    /// The source row's `updated_at`, as the source printed it.
    pub source_updated_at: Option<String>,
    pub imported_at: DateTimeUtc,
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
