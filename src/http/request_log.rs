//! One log line per request: method, path (never the query, which may hold credentials),
//! status, latency and the user id once known. Never a token, password or credential header.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::http::auth::LogUser;

pub struct RequestLog;

impl<E: Endpoint> Middleware<E> for RequestLog {
    type Output = RequestLogEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestLogEndpoint(ep)
    }
}

pub struct RequestLogEndpoint<E>(E);

impl<E: Endpoint> Endpoint for RequestLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let user = LogUser::default();
        req.extensions_mut().insert(user.clone());
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
                %method, path, status, latency_ms, user_id,
                "request"
            ),
            None => tracing::info!(
                target: "toker::request",
                %method, path, status, latency_ms,
                "request"
            ),
        }
        Ok(resp)
    }
}
