//! Who is on the other end: the socket peer, or, when that peer is a proxy named in
//! `GATEHOUSE_TRUSTED_PROXIES`, the address it (and any trusted proxy before it) recorded in
//! `X-Forwarded-For`. Anything a client could write itself is never believed.

use axum::{extract::ConnectInfo, http::HeaderMap, http::request::Parts};
use std::net::{IpAddr, SocketAddr};

/// Networks whose `X-Forwarded-For` is believed: addresses or CIDR blocks, IPv4 or IPv6.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses a comma-separated list such as `127.0.0.1, 10.0.0.0/8, ::1`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (item, None),
            };
            let addr: IpAddr = addr.parse().map_err(|_| format!("{item:?} is not an IP address or CIDR block"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(bits) => match bits.parse::<u8>() {
                    Ok(n) if n <= max => n,
                    _ => return Err(format!("{item:?} has a prefix length outside 0-{max}")),
                },
            };
            networks.push((addr, bits));
        }
        Ok(Self(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|(net, bits)| in_network(ip, canonical(*net), *bits))
    }

    /// The client of a request that reached us from `peer`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if self.is_empty() {
            return client;
        }
        // Walk the chain from the nearest hop outwards while each hop is a trusted proxy.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            if !self.contains(client) {
                break;
            }
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => client = canonical(ip),
                Err(_) => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

impl TrustedProxies {
    /// The client of a request: its socket peer, or what trusted proxies say it is.
    pub fn client_of(&self, parts: &Parts) -> IpAddr {
        self.client(peer(parts), &parts.headers)
    }
}

/// The socket peer recorded by the server (`into_make_service_with_connect_info`). Without
/// it every caller shares one unspecified address, which only makes limits stricter.
fn peer(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("127.0.0.1"), &forwarded(&["203.0.113.9"])), ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_spoofed_hops_are_ignored() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client wrote "1.2.3.4" itself; nginx appended the real address.
        let headers = forwarded(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("203.0.113.9"));
        // Two trusted hops, in two header lines.
        let headers = forwarded(&["1.2.3.4, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &headers), ip("198.51.100.7"));
        // An untrusted peer's header is not believed.
        assert_eq!(trusted.client(ip("192.0.2.1"), &headers), ip("192.0.2.1"));
        // Garbage stops the walk at the last address known.
        assert_eq!(trusted.client(ip("127.0.0.1"), &forwarded(&["nonsense"])), ip("127.0.0.1"));
    }

    #[test]
    fn networks_parse_and_match_both_families() {
        let t = TrustedProxies::parse("192.168.0.0/16,::1, fd00::/8").unwrap();
        assert!(t.contains(ip("192.168.44.1")) && !t.contains(ip("192.169.0.1")));
        assert!(t.contains(ip("::1")) && t.contains(ip("fd12::5")) && !t.contains(ip("fe80::1")));
        assert!(t.contains(ip("::ffff:192.168.1.1")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
