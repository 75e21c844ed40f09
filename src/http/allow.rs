//! `Allow` on every 405 (RFC 9110 §15.5.6): the methods the addressed resource does serve, as the
//! router matches paths (a literal segment before a `{parameter}`), so a client or a fuzzer
//! learns what to send instead.

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response,
    http::{HeaderValue, Method, StatusCode, header},
};

/// The order methods are listed in.
const ORDER: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter,
}

/// Path templates (`/auth/{provider}/token`) and the `Allow` value of each.
#[derive(Debug, Default)]
pub struct AllowedMethods {
    routes: Vec<(Vec<Segment>, HeaderValue, String)>,
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').skip(1)
}

impl AllowedMethods {
    /// From every (path template, method) served; `HEAD` comes with `GET`, as the router
    /// answers it.
    pub fn new<'a>(served: impl IntoIterator<Item = (&'a str, Method)>) -> AllowedMethods {
        let mut by_path: Vec<(&str, Vec<Method>)> = Vec::new();
        for (path, method) in served {
            let methods = match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, methods)) => methods,
                None => {
                    by_path.push((path, Vec::new()));
                    &mut by_path.last_mut().expect("just pushed").1
                }
            };
            if method == Method::GET {
                methods.push(Method::HEAD);
            }
            methods.push(method);
        }
        let routes = by_path
            .into_iter()
            .map(|(path, methods)| {
                let template = segments(path)
                    .map(|s| {
                        if s.starts_with('{') || s.starts_with(':') {
                            Segment::Parameter
                        } else {
                            Segment::Literal(s.to_string())
                        }
                    })
                    .collect();
                let listed: Vec<&str> = ORDER
                    .iter()
                    .filter(|m| methods.contains(m))
                    .map(Method::as_str)
                    .collect();
                let value = HeaderValue::from_str(&listed.join(", "))
                    .expect("method names are header-safe");
                (template, value, path.to_string())
            })
            .collect();
        AllowedMethods { routes }
    }

    /// The `Allow` value for a request path, when a route matches it.
    pub fn for_path(&self, path: &str) -> Option<&HeaderValue> {
        self.route(path).map(|(_, value, _)| value)
    }

    /// The template of the route a request path matches (`/auth/{provider}/token`): a label
    /// from a fixed set, whatever the path.
    pub fn template_for(&self, path: &str) -> Option<&str> {
        self.route(path).map(|(_, _, template)| template.as_str())
    }

    fn route(&self, path: &str) -> Option<&(Vec<Segment>, HeaderValue, String)> {
        let wanted: Vec<&str> = segments(path).collect();
        self.routes
            .iter()
            .filter(|(template, _, _)| {
                template.len() == wanted.len()
                    && template.iter().zip(&wanted).all(|(t, w)| match t {
                        Segment::Literal(l) => l == w,
                        Segment::Parameter => !w.is_empty(),
                    })
            })
            // Literal segments win over parameters, leftmost first, as in the router.
            .max_by_key(|(template, _, _)| {
                template
                    .iter()
                    .map(|s| matches!(s, Segment::Literal(_)))
                    .collect::<Vec<_>>()
            })
    }
}

/// Adds `Allow` to 405 answers that lack it.
pub struct AllowHeader(pub Arc<AllowedMethods>);

impl<E: Endpoint> Middleware<E> for AllowHeader {
    type Output = AllowHeaderEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        AllowHeaderEndpoint(ep, self.0.clone())
    }
}

pub struct AllowHeaderEndpoint<E>(E, Arc<AllowedMethods>);

impl<E: Endpoint> Endpoint for AllowHeaderEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_string();
        let mut resp = match self.0.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
                crate::error::to_json_error(err).await
            }
            Err(err) => return Err(err),
        };
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED
            && !resp.headers().contains_key(header::ALLOW)
            && let Some(allow) = self.1.for_path(&path)
        {
            resp.headers_mut().insert(header::ALLOW, allow.clone());
        }
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> AllowedMethods {
        AllowedMethods::new([
            ("/auth/sign_in", Method::POST),
            ("/auth/{provider}", Method::GET),
            ("/auth/{provider}", Method::POST),
            ("/auth/password", Method::POST),
            ("/auth/password", Method::PATCH),
            ("/auth/password", Method::PUT),
            ("/auth/{provider}/token", Method::POST),
        ])
    }

    #[test]
    fn methods_are_listed_in_a_fixed_order_with_head_beside_get() {
        let t = table();
        assert_eq!(t.for_path("/auth/github").unwrap(), "GET, HEAD, POST");
        assert_eq!(t.for_path("/auth/password").unwrap(), "POST, PUT, PATCH");
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let t = table();
        assert_eq!(t.for_path("/auth/sign_in").unwrap(), "POST");
        assert_eq!(t.for_path("/auth/sign_in/token").unwrap(), "POST");
    }

    #[test]
    fn unknown_paths_have_no_allow() {
        let t = table();
        assert!(t.for_path("/auth").is_none());
        assert!(t.for_path("/auth//token").is_none());
        assert!(t.for_path("/nothing/here/at/all").is_none());
    }
}
