//! Counts and times every request for `/metrics`, labelled by the route template it matched
//! (`/auth/{provider}/token`), never by the raw path: any path outside toker's routes is
//! `other`, so a client sending random paths cannot grow the number of series. A gateway
//! route (and the forward-auth endpoint) is labelled by its prefix, whatever lies below it.

use std::{sync::Arc, time::Instant};

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::{config::gateway::covers, http::allow::AllowedMethods, metrics::Metrics};

/// The label of a path no route matches.
pub const OTHER_ROUTE: &str = "other";

/// Outermost middleware; with metrics off it only passes requests on.
pub struct RequestMetrics {
    metrics: Metrics,
    routes: Arc<Routes>,
}

/// Path prefixes served whole (gateway routes, longest first), then route templates.
struct Routes {
    prefixes: Vec<String>,
    templates: AllowedMethods,
}

impl Routes {
    fn label(&self, path: &str) -> &str {
        self.prefixes
            .iter()
            .find(|prefix| covers(prefix, path))
            .map(String::as_str)
            .or_else(|| self.templates.template_for(path))
            .unwrap_or(OTHER_ROUTE)
    }
}

impl RequestMetrics {
    /// `templates`: the served route templates as clients address them (configured
    /// prefixes); `prefixes`: paths served with everything below them (gateway routes).
    pub fn new(
        metrics: Metrics,
        templates: AllowedMethods,
        mut prefixes: Vec<String>,
    ) -> RequestMetrics {
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        RequestMetrics {
            metrics,
            routes: Arc::new(Routes {
                prefixes,
                templates,
            }),
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
    routes: Arc<Routes>,
}

impl<E: Endpoint> Endpoint for RequestMetricsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if !self.metrics.is_on() {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        }
        let started = Instant::now();
        let route = self.routes.label(req.uri().path()).to_string();
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
