//! toker's schema, the only source of truth for it: `toker migrate` and `toker serve` apply these.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_users;
mod m20261123_000002_create_devices;
mod m20261123_000003_create_oauth_nonces;
mod m20261124_000004_device_rotated_at;
mod m20261124_000005_unlock_token_sent_at;
mod m20261124_000006_mysql_binary_keys;
mod m20261130_000007_create_signing_keys;
mod m20261201_000008_create_imported_accounts;
mod m20261201_000009_create_browser_sessions;
mod m20261201_000010_create_client_apps;
mod m20261201_000020_user_types;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_devices::Migration),
            Box::new(m20261123_000003_create_oauth_nonces::Migration),
            Box::new(m20261124_000004_device_rotated_at::Migration),
            Box::new(m20261124_000005_unlock_token_sent_at::Migration),
            Box::new(m20261124_000006_mysql_binary_keys::Migration),
            Box::new(m20261130_000007_create_signing_keys::Migration),
            Box::new(m20261201_000008_create_imported_accounts::Migration),
            Box::new(m20261201_000009_create_browser_sessions::Migration),
            Box::new(m20261201_000010_create_client_apps::Migration),
            Box::new(m20261201_000020_user_types::Migration),
        ]
    }
}
