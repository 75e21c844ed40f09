use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(string_len(Users::Provider, 191).default("email"))
                    .col(string_len(Users::Uid, 191).default(""))
                    .col(string(Users::EncryptedPassword).default(""))
                    .col(string_len_null(Users::ResetPasswordToken, 191))
                    .col(timestamp_with_time_zone_null(Users::ResetPasswordSentAt))
                    .col(boolean(Users::AllowPasswordChange).default(false))
                    .col(timestamp_with_time_zone_null(Users::RememberCreatedAt))
                    .col(string_len_null(Users::ConfirmationToken, 191))
                    .col(timestamp_with_time_zone_null(Users::ConfirmedAt))
                    .col(timestamp_with_time_zone_null(Users::ConfirmationSentAt))
                    .col(string_null(Users::UnconfirmedEmail))
                    .col(integer(Users::FailedAttempts).default(0))
                    .col(string_len_null(Users::UnlockToken, 191))
                    .col(timestamp_with_time_zone_null(Users::LockedAt))
                    .col(integer(Users::SignInCount).default(0))
                    .col(timestamp_with_time_zone_null(Users::CurrentSignInAt))
                    .col(timestamp_with_time_zone_null(Users::LastSignInAt))
                    .col(string_null(Users::CurrentSignInIp))
                    .col(string_null(Users::LastSignInIp))
                    .col(string_null(Users::Name))
                    .col(string_null(Users::Nickname))
                    .col(string_null(Users::Image))
                    .col(string_len_null(Users::Email, 191))
                    .col(text_null(Users::Extra))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // DTA's unique (uid, provider); its unique `email` index is deliberately not copied: it
        // makes an e-mail user and an OAuth user with one address collide (docs/contract.md §6 #11).
        for (name, cols, unique) in [
            (
                "index_users_on_uid_and_provider",
                vec![Users::Uid, Users::Provider],
                true,
            ),
            ("index_users_on_email", vec![Users::Email], false),
            (
                "index_users_on_reset_password_token",
                vec![Users::ResetPasswordToken],
                true,
            ),
            (
                "index_users_on_confirmation_token",
                vec![Users::ConfirmationToken],
                true,
            ),
            (
                "index_users_on_unlock_token",
                vec![Users::UnlockToken],
                true,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Users::Table).if_not_exists();
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Provider,
    Uid,
    EncryptedPassword,
    ResetPasswordToken,
    ResetPasswordSentAt,
    AllowPasswordChange,
    RememberCreatedAt,
    ConfirmationToken,
    ConfirmedAt,
    ConfirmationSentAt,
    UnconfirmedEmail,
    FailedAttempts,
    UnlockToken,
    LockedAt,
    SignInCount,
    CurrentSignInAt,
    LastSignInAt,
    CurrentSignInIp,
    LastSignInIp,
    Name,
    Nickname,
    Image,
    Email,
    Extra,
    CreatedAt,
    UpdatedAt,
}
