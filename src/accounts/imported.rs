//! Devices imported from devise_token_auth (`toker import dta`) still hold DTA's bcrypt token
//! hashes. The first request presenting such a token has it checked with bcrypt, once, on the
//! bounded hashing pool, and the device's chain upgraded to SHA-256 digests
//! (docs/decisions.md D2). Only a token that no digest of the chain matches, on a device that
//! still holds a bcrypt hash, comes here: other devices never pay for it.

use super::{Accounts, events};
use crate::{
    store::{Device, StoreResult},
    tokens::{self, Accepted, Refused},
};

impl Accounts {
    /// Checks `token` against the bcrypt links of `device` and, when one matches and the
    /// upgraded chain accepts the token, writes the upgrade (compare-and-swap on the device's
    /// version). Returns the device as the rest of the request should see it, or why the token
    /// was refused.
    pub async fn upgrade_imported_device(
        &self,
        device: &Device,
        user_id: i64,
        token: &str,
        now_ms: i64,
    ) -> StoreResult<Result<(Device, Accepted), Refused>> {
        let chain = crate::store::chain_of(device);
        let links = chain.bcrypt_links();
        let matched = match self.hasher.verify_imported_token(token, links).await {
            Ok(matched) => matched,
            Err(e) => {
                tracing::error!(error = %e, "could not check an imported token");
                None
            }
        };
        let Some(link) = matched else {
            return Ok(Err(Refused::Unknown));
        };
        let upgraded = chain.upgraded(link, tokens::digest(token));
        let accepted = match tokens::check(&self.policy, &upgraded, token, now_ms) {
            Ok(accepted) => accepted,
            Err(refused) => return Ok(Err(refused)),
        };
        let mut device = device.clone();
        // Lost to a parallel request (which upgraded or rotated first): the token was still
        // good when read, and this request's own rotation will find the row moved on and
        // answer as a batch request.
        if self
            .store
            .rotate_device(device.id, device.version, &upgraded)
            .await?
        {
            device.token_hash = upgraded.token_hash;
            device.previous_token_hash = upgraded.previous_token_hash;
            device.last_token_hash = upgraded.last_token_hash;
            device.version += 1;
            events::imported_token_upgraded(user_id, device.id);
        }
        Ok(Ok((device, accepted)))
    }
}
