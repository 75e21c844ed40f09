use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Browser sessions for static apps (docs/decisions.md D15): the cookie holds an opaque random id,
/// this table its SHA-256 digest. Each session is bound to a device row, so the device list,
/// `max_number_of_devices` and every way of signing a device out cover it: deleting the device
/// deletes the session.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BrowserSessions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(BrowserSessions::Id))
                    .col(string_len(BrowserSessions::TokenHash, 64))
                    .col(big_integer(BrowserSessions::UserId))
                    .col(big_integer(BrowserSessions::DeviceId))
                    // Unix seconds: the absolute and the idle lifetime run from these.
                    .col(big_integer(BrowserSessions::CreatedAt))
                    .col(big_integer(BrowserSessions::SeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_browser_sessions_user_id")
                            .from(BrowserSessions::Table, BrowserSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_browser_sessions_device_id")
                            .from(BrowserSessions::Table, BrowserSessions::DeviceId)
                            .to(Devices::Table, Devices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_browser_sessions_on_token_hash")
                    .table(BrowserSessions::Table)
                    .col(BrowserSessions::TokenHash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_browser_sessions_on_device_id")
                    .table(BrowserSessions::Table)
                    .col(BrowserSessions::DeviceId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_browser_sessions_on_user_id")
                    .table(BrowserSessions::Table)
                    .col(BrowserSessions::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BrowserSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum BrowserSessions {
    Table,
    Id,
    TokenHash,
    UserId,
    DeviceId,
    CreatedAt,
    SeenAt,
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
}
