use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Devices::Id))
                    .col(big_integer(Devices::UserId))
                    .col(string_len(Devices::Client, 64))
                    .col(string_len(Devices::TokenHash, 64))
                    .col(string_len_null(Devices::PreviousTokenHash, 64))
                    .col(string_len_null(Devices::LastTokenHash, 64))
                    .col(big_integer(Devices::Expiry))
                    .col(big_integer(Devices::TouchedAt))
                    .col(big_integer(Devices::Version).default(0))
                    .col(string_null(Devices::UserAgent))
                    .col(string_len_null(Devices::Ip, 64))
                    .col(timestamp_with_time_zone(Devices::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_devices_user_id")
                            .from(Devices::Table, Devices::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The token lookup: one indexed read by (user, client).
        manager
            .create_index(
                Index::create()
                    .name("index_devices_on_user_id_and_client")
                    .table(Devices::Table)
                    .col(Devices::UserId)
                    .col(Devices::Client)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Devices::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    Id,
    UserId,
    Client,
    TokenHash,
    PreviousTokenHash,
    LastTokenHash,
    Expiry,
    TouchedAt,
    Version,
    UserAgent,
    Ip,
    CreatedAt,
}
