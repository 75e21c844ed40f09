//! Registered client apps (docs/decisions.md D15): a static app's public id, name and approved
//! origins, managed by the operator (`toker apps`) and stored in the database, so a new app
//! needs no restart.

use super::{Accounts, admin::AdminError};
pub use crate::store::ClientApp;
use crate::{store::StoreError, tokens};

/// Why an app id or origin list is refused, in words for the operator.
fn check_origin(origin: &str) -> Result<(), String> {
    let parsed = url::Url::parse(origin)
        .map_err(|_| format!("`{origin}` is not an origin like https://app.example.com"))?;
    let canonical = parsed.origin().ascii_serialization();
    if !matches!(parsed.scheme(), "http" | "https") || canonical != origin || origin.contains('*') {
        return Err(format!(
            "`{origin}` is not an origin like https://app.example.com (lower case, no path, no \
             trailing slash, no default port)"
        ));
    }
    Ok(())
}

fn check_app_id(app_id: &str) -> Result<(), String> {
    let ok = (3..=64).contains(&app_id.len())
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{app_id}` is not an app id: 3 to 64 letters, digits, `-` or `_`"
        ))
    }
}

fn check_origins(origins: &[String]) -> Result<(), AdminError> {
    if origins.is_empty() {
        return Err(AdminError::Invalid(vec![
            "an app needs at least one origin".into(),
        ]));
    }
    let problems: Vec<String> = origins
        .iter()
        .filter_map(|o| check_origin(o).err())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AdminError::Invalid(problems))
    }
}

impl Accounts {
    /// Registers an app; `app_id` is generated when not given.
    pub async fn add_app(
        &self,
        name: &str,
        origins: &[String],
        app_id: Option<&str>,
    ) -> Result<ClientApp, AdminError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 255 || name.contains(char::is_control) {
            return Err(AdminError::Invalid(vec![
                "the name must be 1 to 255 printable characters".into(),
            ]));
        }
        check_origins(origins)?;
        let app_id = match app_id {
            Some(id) => {
                check_app_id(id).map_err(|p| AdminError::Invalid(vec![p]))?;
                id.to_string()
            }
            None => format!("app_{}", tokens::generate()),
        };
        if self.store.find_client_app(&app_id).await?.is_some() {
            return Err(AdminError::Invalid(vec![format!(
                "an app with id `{app_id}` exists already"
            )]));
        }
        let app = ClientApp {
            app_id,
            name: name.to_string(),
            origins: origins.to_vec(),
            created_at: Self::now().timestamp(),
        };
        self.store.insert_client_app(&app).await?;
        Ok(app)
    }

    pub async fn apps(&self) -> Result<Vec<ClientApp>, StoreError> {
        self.store.client_apps().await
    }

    pub async fn app(&self, app_id: &str) -> Result<Option<ClientApp>, StoreError> {
        if check_app_id(app_id).is_err() {
            return Ok(None);
        }
        self.store.find_client_app(app_id).await
    }

    pub async fn set_app_origins(
        &self,
        app_id: &str,
        origins: &[String],
    ) -> Result<ClientApp, AdminError> {
        check_origins(origins)?;
        if !self.store.set_client_app_origins(app_id, origins).await? {
            return Err(AdminError::NoSuchApp(app_id.to_string()));
        }
        self.store
            .find_client_app(app_id)
            .await?
            .ok_or_else(|| AdminError::NoSuchApp(app_id.to_string()))
    }

    /// Removes an app; the browser sessions granted to it stay, for their other apps.
    pub async fn remove_app(&self, app_id: &str) -> Result<(), AdminError> {
        if self.store.delete_client_app(app_id).await? {
            Ok(())
        } else {
            Err(AdminError::NoSuchApp(app_id.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_canonical() {
        assert!(check_origin("https://app.example.com").is_ok());
        assert!(check_origin("http://localhost:8080").is_ok());
        for bad in [
            "https://app.example.com/",
            "https://APP.example.com",
            "https://app.example.com:443",
            "https://*.example.com",
            "null",
            "*",
            "ftp://x.example.com",
            "https://app.example.com/path",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn app_ids_are_short_and_plain() {
        assert!(check_app_id("app_1-x").is_ok());
        for bad in ["", "ab", "a b", "a/b", "é00", &"a".repeat(65)] {
            assert!(check_app_id(bad).is_err(), "{bad}");
        }
    }
}
