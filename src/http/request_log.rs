//! One log line per request: method, path (never the query, which may hold credentials),
//! status, latency, the client's address, the user id once known and the app a browser-session
//! request names. Never a token, password or
//! credential header.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::{
    http::{
        auth::LogUser,
        client_ip::{ClientIp, FromTrustedProxy, peer_is_trusted, resolve},
    },
    proxies::TrustedProxies,
};

/// Outermost: it also settles the client's address (`ClientIp`) for everything below.
pub struct RequestLog(TrustedProxies);

impl RequestLog {
    pub fn new(proxies: TrustedProxies) -> RequestLog {
        RequestLog(proxies)
    }
}

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestLogEndpoint(ep, self.0.clone())
    }
}

pub struct RequestLogEndpoint<E>(E, TrustedProxies);

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        // The registered app the request names (`Authorization: Session <APP_ID>`): requests are
        // attributed to their app (docs/decisions.md D15). Only a plain id is logged.
        let app = crate::http::session::app_of(req.headers())
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        let user = LogUser::default();
        req.extensions_mut().insert(user.clone());
        let client_ip = resolve(&self.1, &req);
        req.extensions_mut().insert(ClientIp(client_ip));
        if peer_is_trusted(&self.1, &req) {
            req.extensions_mut().insert(FromTrustedProxy);
        }
        let resp = match self.0.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => crate::error::to_json_error(err).await,
        };
        // A number (to 0.01 ms), so a JSON log carries `"latency_ms":1.23` for a collector to
        // aggregate rather than a string.
        let latency_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
        let status = resp.status().as_u16();
        match user.get() {
            Some(user_id) => tracing::info!(
                target: "toker::request",
                %method, path, status, latency_ms, %client_ip, user_id, app = app.as_deref(),
                "request"
            ),
            None => tracing::info!(
                target: "toker::request",
                %method, path, status, latency_ms, %client_ip, app = app.as_deref(),
                "request"
            ),
        }
        Ok(resp)
    }
}
