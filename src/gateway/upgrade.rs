//! Protocol switches (WebSocket) through a route (docs/gateway.md §4): once the upstream has
//! answered 101, the client gets the upstream's 101 and the two upgraded connections are joined
//! byte for byte until either side closes.

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use poem::{
    OnUpgrade, Response,
    http::{StatusCode, header},
};

use super::headers;
use crate::contract::headers::HeaderNames;

/// The client's 101, while a task joins the connections.
pub fn splice(
    client: OnUpgrade,
    upstream: &mut hyper::Response<Incoming>,
    names: &HeaderNames,
) -> Response {
    let upgrade = upstream.headers().get(header::UPGRADE).cloned();
    let upstream_upgrade = hyper::upgrade::on(&mut *upstream);
    tokio::spawn(async move {
        let (client, upstream) =
            match tokio::try_join!(async { client.await.map_err(|e| e.to_string()) }, async {
                upstream_upgrade.await.map_err(|e| e.to_string())
            },)
            {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("upgrade through the gateway failed: {e}");
                    return;
                }
            };
        let mut client = client;
        let mut upstream = TokioIo::new(upstream);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!("upgraded connection ended: {e}");
        }
    });
    let mut out_headers = upstream.headers().clone();
    headers::clean_response(&mut out_headers, names);
    if let Some(upgrade) = upgrade {
        headers::restore_upgrade(&mut out_headers, upgrade);
    }
    let mut resp = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .finish();
    *resp.headers_mut() = out_headers;
    resp
}
