//! The client's address, settled once per request by the request log (`trusted_proxies`,
//! docs/decisions.md D16) and read by whatever needs it: the abuse limits, the device row and
//! trackable's sign-in columns, and the log line, which therefore always agree.

use std::net::{IpAddr, Ipv4Addr};

use poem::{Request, http::HeaderName};

use crate::proxies::TrustedProxies;

/// The client's address, as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Present when the connection's peer is one of our `trusted_proxies`: what that proxy says about
/// the original request (`X-Forwarded-*`) may then be passed on instead of replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FromTrustedProxy;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The peer, or what our proxies say the client was. `X-Forwarded-For` is read only when the
/// peer is a trusted proxy, so with no `trusted_proxies` (the default) it costs nothing.
pub fn resolve(proxies: &TrustedProxies, req: &Request) -> IpAddr {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    if proxies.is_empty() {
        return crate::proxies::canonical(peer);
    }
    proxies.client(
        peer,
        req.headers()
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .map(|v| v.as_bytes()),
    )
}

/// Whether the peer of this request's connection is one of our proxies.
pub fn peer_is_trusted(proxies: &TrustedProxies, req: &Request) -> bool {
    !proxies.is_empty()
        && req
            .remote_addr()
            .as_socket_addr()
            .is_some_and(|a| proxies.trusts(a.ip()))
}

/// The address `resolve` settled for this request (the peer when none was, as in a request
/// built by hand).
pub fn client_ip(req: &Request) -> IpAddr {
    match req.extensions().get::<ClientIp>() {
        Some(ClientIp(ip)) => *ip,
        None => resolve(&TrustedProxies::default(), req),
    }
}
