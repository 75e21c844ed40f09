use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// When the unlock link was mailed, so that it expires (`unlock_within`): the link signs a new
/// device in, so an old unlock mail must not stay a way into the account forever.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::UnlockTokenSentAt))
                    .to_owned(),
            )
            .await?;
        // Links mailed before this column existed count from the lock they answered.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE users SET unlock_token_sent_at = COALESCE(locked_at, updated_at) \
                 WHERE unlock_token IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::UnlockTokenSentAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    UnlockTokenSentAt,
}
