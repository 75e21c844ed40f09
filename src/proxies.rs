//! Which address a request comes from (`trusted_proxies`, docs/decisions.md D16). The peer of
//! the TCP connection, unless that peer is one of our own proxies: then `X-Forwarded-For`, read
//! from the right, where each proxy appended the address it was connected from. The first entry
//! that is not a proxy of ours is the client; everything left of it was written by the client
//! and proves nothing.

use std::net::IpAddr;

use ipnet::IpNet;

/// More hops than any real proxy chain; a longer header is not walked further.
const MAX_HOPS: usize = 32;

/// The configured proxies.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Validates `trusted_proxies`: each entry a CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a
    /// single address. A block that covers every address is refused: it would let any client
    /// choose the address it is counted under.
    pub fn new(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.trim();
            let net = match text.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match text.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(canonical(ip)),
                    Err(_) => {
                        return Err(format!(
                            "`{text}` is not an address or CIDR block like 10.0.0.0/8"
                        ));
                    }
                },
            };
            if net.prefix_len() == 0 {
                return Err(format!(
                    "`{text}` trusts every address, so any client could pick the address it is \
                     counted under; list your proxies"
                ));
            }
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of our proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer`, or, when `peer` is a trusted proxy, the right-most
    /// `X-Forwarded-For` entry (over all the header's lines, in order) that is not. When every
    /// entry is trusted, or an entry does not parse, the last trusted hop is the answer.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl Iterator<Item = &'a [u8]>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if self.0.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let lines: Vec<&[u8]> = forwarded_for.collect();
        let entries = lines
            .iter()
            .rev()
            .flat_map(|line| line.rsplit(|b| *b == b','))
            .take(MAX_HOPS);
        let mut client = peer;
        for entry in entries {
            let Some(ip) = parse_entry(entry) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:443`), or a bracketed IPv6 address.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<IpAddr>().ok())
        })?;
    Some(canonical(ip))
}

/// IPv4 addresses that reach a dual-stack socket as `::ffff:a.b.c.d` are IPv4 addresses.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn client(p: &TrustedProxies, peer: &str, xff: &[&str]) -> String {
        p.client(peer.parse().unwrap(), xff.iter().map(|s| s.as_bytes()))
            .to_string()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = proxies(&[]);
        assert_eq!(
            client(&none, "198.51.100.7", &["203.0.113.9"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client(&p, "198.51.100.7", &["10.0.0.1, 203.0.113.9"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        // The client wrote "1.1.1.1"; the proxies appended what they saw.
        assert_eq!(
            client(&p, "10.1.1.1", &["1.1.1.1, 203.0.113.9, 192.0.2.1"]),
            "203.0.113.9"
        );
        // Several header lines read as one list, in order.
        assert_eq!(
            client(&p, "10.1.1.1", &["1.1.1.1", "203.0.113.9", "10.2.2.2"]),
            "203.0.113.9"
        );
        assert_eq!(client(&p, "10.1.1.1", &[]), "10.1.1.1");
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&p, "10.1.1.1", &["<script>"]), "10.1.1.1");
        assert_eq!(
            client(&p, "10.1.1.1", &["203.0.113.9, nonsense, 10.3.3.3"]),
            "10.3.3.3"
        );
        assert_eq!(client(&p, "10.1.1.1", &["unknown"]), "10.1.1.1");
        assert_eq!(client(&p, "10.1.1.1", &[" , "]), "10.1.1.1");
        assert_eq!(client(&p, "10.1.1.1", &["\u{ff}\u{fe}"]), "10.1.1.1");
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_understood() {
        let p = proxies(&["10.0.0.0/8", "::ffff:10.0.0.0/104"]);
        assert_eq!(client(&p, "10.1.1.1", &["203.0.113.9:4711"]), "203.0.113.9");
        assert_eq!(
            client(&p, "10.1.1.1", &["[2001:db8::1]:443"]),
            "2001:db8::1"
        );
        assert_eq!(client(&p, "10.1.1.1", &["[2001:db8::2]"]), "2001:db8::2");
        assert_eq!(
            client(&p, "::ffff:10.1.1.1", &["::ffff:203.0.113.9"]),
            "203.0.113.9"
        );
    }

    #[test]
    fn a_huge_header_is_walked_only_so_far() {
        let p = proxies(&["10.0.0.0/8"]);
        let hops = vec!["10.9.9.9"; 10_000].join(",");
        let xff = format!("203.0.113.9,{hops}");
        assert_eq!(client(&p, "10.1.1.1", &[&xff]), "10.9.9.9");
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry_named() {
        for bad in [
            "10.0.0.0/33",
            "example.com",
            "",
            "0.0.0.0/0",
            "::/0",
            "10.0.0.1/8/8",
        ] {
            let err = TrustedProxies::new(&[bad.to_string()]).unwrap_err();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
        let host_bits = proxies(&["10.1.2.3/8"]);
        assert_eq!(
            client(&host_bits, "10.200.0.1", &["203.0.113.9"]),
            "203.0.113.9"
        );
    }
}
