use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// MySQL and MariaDB compare strings with the column's collation, by default case- and
/// trailing-space-insensitive: `uid = 'abc'` would find an OAuth account whose provider id is
/// `ABC`, and a reset-token digest would match in any letter case. The columns that identify
/// an account or hold a secret's digest compare byte for byte instead, as on SQLite and
/// PostgreSQL, with a binary collation that does not pad (`utf8mb4_bin` still ignores trailing
/// spaces). Other backends need nothing.
const KEYS: &[(&str, &str, &str)] = &[
    ("users", "provider", "VARCHAR(191) NOT NULL DEFAULT 'email'"),
    ("users", "uid", "VARCHAR(191) NOT NULL DEFAULT ''"),
    ("users", "email", "VARCHAR(191) NULL"),
    ("users", "unconfirmed_email", "VARCHAR(255) NULL"),
    ("users", "reset_password_token", "VARCHAR(191) NULL"),
    ("users", "confirmation_token", "VARCHAR(191) NULL"),
    ("users", "unlock_token", "VARCHAR(191) NULL"),
    ("devices", "client", "VARCHAR(64) NOT NULL"),
    ("devices", "token_hash", "VARCHAR(64) NOT NULL"),
    ("devices", "previous_token_hash", "VARCHAR(64) NULL"),
    ("devices", "last_token_hash", "VARCHAR(64) NULL"),
];

/// The binary, no-pad collation of this server: MariaDB's `utf8mb4_nopad_bin`, MySQL 8's
/// `utf8mb4_0900_bin`.
async fn binary_collation(manager: &SchemaManager<'_>) -> Result<&'static str, DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
    let db = manager.get_connection();
    let version: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT VERSION() AS version",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("SELECT VERSION() returned nothing".into()))?
        .try_get("", "version")?;
    Ok(if version.contains("MariaDB") {
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
    } else {
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin"
    })
}

async fn modify(manager: &SchemaManager<'_>, collation: &str) -> Result<(), DbErr> {
    for table in ["users", "devices"] {
        let columns: Vec<String> = KEYS
            .iter()
            .filter(|(t, _, _)| *t == table)
            .map(|(_, column, definition)| {
                let (ty, rest) = definition.split_at(definition.find(' ').unwrap_or(0));
                format!("MODIFY `{column}` {ty} {collation}{rest}")
            })
            .collect();
        manager
            .get_connection()
            .execute_unprepared(&format!("ALTER TABLE `{table}` {}", columns.join(", ")))
            .await?;
    }
    Ok(())
}

fn is_mysql(manager: &SchemaManager<'_>) -> bool {
    manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::MySql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_mysql(manager) {
            return Ok(());
        }
        modify(manager, binary_collation(manager).await?).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_mysql(manager) {
            return Ok(());
        }
        // Back to the table's default collation.
        modify(manager, "").await
    }
}
