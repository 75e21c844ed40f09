//! `signing_keys`: generated keys signing gateway assertions (docs/decisions.md D14).

use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    /// The JWK thumbprint (RFC 7638), also the JWT `kid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// `ES256`.
    pub algorithm: String,
    /// Base64 of the PKCS#8 document.
    pub private_key: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds from which this key signs (it is published before that).
    pub signs_from: i64,
}

/// The private key never prints.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
