use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// When a device's token last rotated, apart from when it was last touched: the token two
/// rotations back is accepted only within the batch window after the rotation that pushed it
/// there (docs/decisions.md D3), and batch touches must not keep that window open.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Devices::Table)
                    .add_column(big_integer(Devices::RotatedAt).default(0))
                    .to_owned(),
            )
            .await?;
        // The last touch is the best bound an existing row has: no later than its rotation.
        manager
            .get_connection()
            .execute_unprepared("UPDATE devices SET rotated_at = touched_at")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Devices::Table)
                    .drop_column(Devices::RotatedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Devices {
    Table,
    RotatedAt,
}
