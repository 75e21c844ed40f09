use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Spent OAuth `state` nonces: a signed state works once, on whichever instance it returns to.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthNonces::Table)
                    .if_not_exists()
                    .col(string_len(OauthNonces::Nonce, 64).primary_key())
                    .col(big_integer(OauthNonces::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_oauth_nonces_on_expires_at")
                    .table(OauthNonces::Table)
                    .col(OauthNonces::ExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthNonces::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OauthNonces {
    Table,
    Nonce,
    ExpiresAt,
}
