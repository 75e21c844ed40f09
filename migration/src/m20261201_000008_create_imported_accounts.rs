use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Which toker user each imported devise_token_auth row became (`toker import dta`): a re-run
/// finds the same user again even when the row's uid changed in the old app meanwhile (an
/// e-mail change), and skips rows whose `updated_at` has not moved since the last run.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImportedAccounts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ImportedAccounts::Id))
                    .col(string_len(ImportedAccounts::Source, 128))
                    .col(string_len(ImportedAccounts::SourceId, 64))
                    .col(big_integer(ImportedAccounts::UserId))
                    .col(string_len_null(ImportedAccounts::SourceUpdatedAt, 64))
                    .col(timestamp_with_time_zone(ImportedAccounts::ImportedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_imported_accounts_user_id")
                            .from(ImportedAccounts::Table, ImportedAccounts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_imported_accounts_on_source_and_source_id")
                    .table(ImportedAccounts::Table)
                    .col(ImportedAccounts::Source)
                    .col(ImportedAccounts::SourceId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_imported_accounts_on_user_id")
                    .table(ImportedAccounts::Table)
                    .col(ImportedAccounts::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImportedAccounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImportedAccounts {
    Table,
    Id,
    Source,
    SourceId,
    UserId,
    SourceUpdatedAt,
    ImportedAt,
}
