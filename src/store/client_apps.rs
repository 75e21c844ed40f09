//! Queries on `client_apps` and `browser_session_apps` (docs/decisions.md D15).

use entity::{browser_session_app, client_app};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{Store, StoreResult};

/// A registered app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientApp {
    pub app_id: String,
    pub name: String,
    pub origins: Vec<String>,
    /// Unix seconds.
    pub created_at: i64,
}

fn from_model(m: client_app::Model) -> ClientApp {
    ClientApp {
        origins: serde_json::from_str(&m.origins).unwrap_or_default(),
        app_id: m.app_id,
        name: m.name,
        created_at: m.created_at,
    }
}

fn origins_json(origins: &[String]) -> String {
    serde_json::to_string(origins).unwrap_or_else(|_| "[]".into())
}

impl Store {
    pub async fn insert_client_app(&self, app: &ClientApp) -> StoreResult<()> {
        client_app::ActiveModel {
            app_id: Set(app.app_id.clone()),
            name: Set(app.name.clone()),
            origins: Set(origins_json(&app.origins)),
            created_at: Set(app.created_at),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    pub async fn client_apps(&self) -> StoreResult<Vec<ClientApp>> {
        Ok(client_app::Entity::find()
            .order_by_asc(client_app::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(from_model)
            .collect())
    }

    pub async fn find_client_app(&self, app_id: &str) -> StoreResult<Option<ClientApp>> {
        let found = client_app::Entity::find()
            .filter(client_app::Column::AppId.eq(app_id))
            .one(&self.db)
            .await?;
        // Compare exactly: MySQL's default collation would match another letter case.
        Ok(found.filter(|m| m.app_id == app_id).map(from_model))
    }

    /// False when there is no such app.
    pub async fn set_client_app_origins(
        &self,
        app_id: &str,
        origins: &[String],
    ) -> StoreResult<bool> {
        let result = client_app::Entity::update_many()
            .col_expr(client_app::Column::Origins, origins_json(origins).into())
            .filter(client_app::Column::AppId.eq(app_id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Removes an app and every session grant to it; false when there is no such app.
    pub async fn delete_client_app(&self, app_id: &str) -> StoreResult<bool> {
        browser_session_app::Entity::delete_many()
            .filter(browser_session_app::Column::AppId.eq(app_id))
            .exec(&self.db)
            .await?;
        let result = client_app::Entity::delete_many()
            .filter(client_app::Column::AppId.eq(app_id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Grants browser session `session_id` to app `app_id` (once).
    pub async fn grant_browser_session(&self, session_id: i64, app_id: &str) -> StoreResult<()> {
        if self.browser_session_granted(session_id, app_id).await? {
            return Ok(());
        }
        browser_session_app::ActiveModel {
            browser_session_id: Set(session_id),
            app_id: Set(app_id.to_string()),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    pub async fn browser_session_granted(
        &self,
        session_id: i64,
        app_id: &str,
    ) -> StoreResult<bool> {
        let found = browser_session_app::Entity::find()
            .filter(browser_session_app::Column::BrowserSessionId.eq(session_id))
            .filter(browser_session_app::Column::AppId.eq(app_id))
            .one(&self.db)
            .await?;
        Ok(found.is_some_and(|g| g.app_id == app_id))
    }
}
