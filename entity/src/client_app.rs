//! `client_apps`: a registered static app (docs/decisions.md D15) and its approved origins.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_apps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The public id apps send as `Authorization: Session <app_id>`.
    pub app_id: String,
    pub name: String,
    /// A JSON array of origins.
    pub origins: String,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
