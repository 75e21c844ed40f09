use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Several user types in one table (devise_token_auth's several mounts): each user belongs to
/// one type, named by the `user_types` setting; every existing row is the default type `User`.
/// The same uid (and so the same e-mail address) may then exist once per type, so the unique
/// (uid, provider) index becomes (uid, provider, user_type), and the e-mail index gains the type
/// as its second column. The token-digest indexes stay unique across types: a digest is
/// random, and a link is looked up by it alone before its type is checked.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = is_mysql(manager);
        if mysql {
            // Byte-for-byte comparison like the other key columns (m20261124_000006); MySQL
            // and MariaDB change the table in one statement, rows keeping the default.
            let collation = binary_collation(manager).await?;
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE `users` ADD COLUMN `user_type` VARCHAR(64) {collation} \
                     NOT NULL DEFAULT 'User'"
                ))
                .await?;
        } else {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(string_len(UserTypes::UserType, 64).default("User"))
                        .to_owned(),
                )
                .await?;
        }
        // The new unique index first, then the old one dropped: a uid+provider pair that is
        // unique is unique with its type too, so no row can make this fail.
        manager
            .create_index(
                Index::create()
                    .name("index_users_on_uid_provider_and_user_type")
                    .table(Users::Table)
                    .col(Users::Uid)
                    .col(Users::Provider)
                    .col(UserTypes::UserType)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_users_on_email_and_user_type")
                    .table(Users::Table)
                    .col(Users::Email)
                    .col(UserTypes::UserType)
                    .to_owned(),
            )
            .await?;
        for old in ["index_users_on_uid_and_provider", "index_users_on_email"] {
            manager
                .drop_index(Index::drop().name(old).table(Users::Table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Only possible while no uid exists under two types.
        manager
            .create_index(
                Index::create()
                    .name("index_users_on_uid_and_provider")
                    .table(Users::Table)
                    .col(Users::Uid)
                    .col(Users::Provider)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_users_on_email")
                    .table(Users::Table)
                    .col(Users::Email)
                    .to_owned(),
            )
            .await?;
        for new in [
            "index_users_on_uid_provider_and_user_type",
            "index_users_on_email_and_user_type",
        ] {
            manager
                .drop_index(Index::drop().name(new).table(Users::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(UserTypes::UserType)
                    .to_owned(),
            )
            .await
    }
}

fn is_mysql(manager: &SchemaManager<'_>) -> bool {
    manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::MySql
}

/// MariaDB's `utf8mb4_nopad_bin`, MySQL 8's `utf8mb4_0900_bin`, as m20261124_000006 chose.
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

#[derive(DeriveIden)]
enum UserTypes {
    UserType,
}
