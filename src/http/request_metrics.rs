//! Counts and times every request for `/metrics`, labelled by the route template it matched
//! (`/auth/{provider}/token`), never by the raw path: any path outside toker's routes is
//! `other`, so a client sending random paths cannot grow the number of series.

use std::{sync::Arc, time::Instant};

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::{http::allow::AllowedMethods, metrics::Metrics};

/// The label of a path no route matches.
pub const OTHER_ROUTE: &str = "other";

/// Outermost middleware; with metrics off it only passes requests on.
pub struct RequestMetrics {
    metrics: Metrics,
    routes: Arc<AllowedMethods>,
}

impl RequestMetrics {
    /// `routes`: the served route templates, as clients address them (configured prefixes).
    pub fn new(metrics: Metrics, routes: AllowedMethods) -> RequestMetrics {
        RequestMetrics {
            metrics,
            routes: Arc::new(routes),
        }
    }
}

impl<E: Endpoint> Middleware<E> for RequestMetrics {
    type Output = RequestMetricsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestMetricsEndpoint {
            inner: ep,
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

pub struct RequestMetricsEndpoint<E> {
    inner: E,
    metrics: Metrics,
    routes: Arc<AllowedMethods>,
}

impl<E: Endpoint> Endpoint for RequestMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if !self.metrics.is_on() {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let started = Instant::now();
        let route = self
            .routes
            .template_for(req.uri().path())
            .unwrap_or(OTHER_ROUTE)
            .to_string();
        let method = req.method().clone();
        let result = self.inner.call(req).await.map(IntoResponse::into_response);
        let status = match &result {
            Ok(resp) => resp.status(),
            Err(e) => e.status(),
        };
        self.metrics
            .request(&route, method.as_str(), status.as_u16(), started.elapsed());
        result
    }
}
