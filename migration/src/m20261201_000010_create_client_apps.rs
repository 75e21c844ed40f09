use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Registered client apps (docs/decisions.md D15): each static app's public id, name and approved
/// origins (a JSON array), managed with `toker apps`; and which apps each browser session has
/// been granted to, since a session is bound to the apps it was signed in for.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClientApps::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ClientApps::Id))
                    .col(string_len(ClientApps::AppId, 64))
                    .col(string_len(ClientApps::Name, 255))
                    .col(text(ClientApps::Origins))
                    .col(big_integer(ClientApps::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_client_apps_on_app_id")
                    .table(ClientApps::Table)
                    .col(ClientApps::AppId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BrowserSessionApps::Table)
                    .if_not_exists()
                    .col(big_pk_auto(BrowserSessionApps::Id))
                    .col(big_integer(BrowserSessionApps::BrowserSessionId))
                    .col(string_len(BrowserSessionApps::AppId, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_browser_session_apps_session_id")
                            .from(
                                BrowserSessionApps::Table,
                                BrowserSessionApps::BrowserSessionId,
                            )
                            .to(BrowserSessions::Table, BrowserSessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("index_browser_session_apps_on_session_and_app")
                    .table(BrowserSessionApps::Table)
                    .col(BrowserSessionApps::BrowserSessionId)
                    .col(BrowserSessionApps::AppId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BrowserSessionApps::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ClientApps::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ClientApps {
    Table,
    Id,
    AppId,
    Name,
    Origins,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BrowserSessionApps {
    Table,
    Id,
    BrowserSessionId,
    AppId,
}

#[derive(DeriveIden)]
enum BrowserSessions {
    Table,
    Id,
}
