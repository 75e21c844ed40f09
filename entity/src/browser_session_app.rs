//! `browser_session_apps`: the apps a browser session was granted to.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "browser_session_apps")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub browser_session_id: i64,
    pub app_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
