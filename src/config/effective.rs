//! What `toker check-config` prints: the settings after every layer is applied, as TOML that
//! could be used as a settings file, with secrets masked (a `Secret` serialises as its mask,
//! and the password inside `database_url` is replaced here) so the output can be pasted into
//! a ticket.

use super::Settings;

impl Settings {
    /// The effective settings as TOML, unset optional settings listed in a comment.
    pub fn effective_toml(&self) -> Result<String, toml::ser::Error> {
        let shown = Settings {
            database_url: self.database_url_for_logs(),
            ..self.clone()
        };
        let body = toml::to_string(&shown)?;
        let unset: Vec<String> = match serde_json::to_value(&shown) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k)
                .collect(),
            _ => Vec::new(),
        };
        let mut out = String::from(
            "# toker's effective settings: defaults, then the settings file, then TOKER_* \
             variables.\n# Secrets are masked.\n",
        );
        out.push_str(&format!(
            "# database pool: {} connections per process\n",
            self.pool_size()
        ));
        if !unset.is_empty() {
            out.push_str(&format!("# unset: {}\n", unset.join(", ")));
        }
        out.push_str(&body);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use figment::{
        Figment,
        providers::{Format, Toml},
    };

    use super::*;
    use crate::config::{OAuthProviderSettings, Secret};

    #[test]
    fn secrets_and_the_database_password_are_masked() {
        let mut oauth = std::collections::BTreeMap::new();
        oauth.insert(
            "github".to_string(),
            OAuthProviderSettings {
                client_id: "Iv1.abc".into(),
                client_secret: Secret::new("oauth-client-secret"),
                ..OAuthProviderSettings::default()
            },
        );
        let settings = Settings {
            database_url: "postgres://toker:db-password@db.internal/toker".into(),
            smtp_password: Some(Secret::new("smtp-password")),
            secret_key: Some(Secret::new("k".repeat(40))),
            pepper: Some(Secret::new("pepper-value")),
            oauth,
            ..Settings::default()
        };

        let out = settings.effective_toml().unwrap();

        for secret in [
            "db-password",
            "smtp-password",
            &"k".repeat(40),
            "pepper-value",
            "oauth-client-secret",
        ] {
            assert!(!out.contains(secret), "{secret} printed:\n{out}");
        }
        assert!(
            out.contains("database_url = \"postgres://toker:****@db.internal/toker\""),
            "{out}"
        );
        assert!(out.contains("pepper = \"[redacted]\""), "{out}");
        assert!(out.contains("[oauth.github]"), "{out}");
    }

    #[test]
    fn the_output_reads_back_as_the_same_settings() {
        let settings = Settings {
            bind: "0.0.0.0:8080".into(),
            cors_origins: vec!["https://app.example.com".into()],
            password_length: [8, 64],
            ..Settings::default()
        };
        let out = settings.effective_toml().unwrap();

        let back: Settings = Figment::from(Toml::string(&out)).extract().unwrap();

        assert_eq!(back.effective_toml().unwrap(), out);
        assert_eq!(back.bind, "0.0.0.0:8080");
        assert_eq!(back.password_length, [8, 64]);
    }

    #[test]
    fn unset_settings_are_named_in_a_comment() {
        let out = Settings::default().effective_toml().unwrap();
        let unset = out.lines().find(|l| l.starts_with("# unset: ")).unwrap();
        assert!(unset.contains("public_url"), "{unset}");
        assert!(unset.contains("secret_key"), "{unset}");
        assert!(!out.contains("\npublic_url ="), "{out}");
    }
}
