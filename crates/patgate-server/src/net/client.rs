//! Who the client is: the socket's peer, or, when the peer is one of the operator's trusted
//! reverse proxies, the address that proxy says it forwarded for (`Forwarded` or
//! `X-Forwarded-For`). Throttles key on this address, so that clients behind one proxy do not
//! share one budget, while a client talking to patgate directly cannot claim another address.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use ipnet::IpNet;

/// A list of addresses and networks, as the operator writes it: `10.0.0.7, ::1, 10.0.0.0/8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Networks(Vec<IpNet>);

impl FromStr for Networks {
    type Err = String;

    /// A comma-separated list of addresses (`10.0.0.7`, `::1`) and networks (`10.0.0.0/8`).
    fn from_str(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("{item:?} is neither an IP address nor a network"))?,
            };
            nets.push(net);
        }
        Ok(Networks(nets))
    }
}

impl Networks {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The operator's reverse proxies (addresses or networks), whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Networks);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        list.parse().map(TrustedProxies)
    }
}

impl TrustedProxies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(ip)
    }

    /// The client's address. A request from an untrusted peer is the peer's, whatever its
    /// headers say. From a trusted proxy, the forwarding chain is read from the right (the hop
    /// nearest to patgate) and the first address that is not itself a trusted proxy is the
    /// client; an unreadable hop stops the walk at the last trusted one.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) => {
                    client = ip.to_canonical();
                    if !self.contains(client) {
                        return client;
                    }
                }
                None => return client,
            }
        }
        client
    }
}

/// The `for` addresses of the forwarding headers, leftmost (the original client) first; `None`
/// for a hop that names no usable address (`unknown`, an obfuscated `_name`, garbage).
/// `Forwarded` (RFC 7239) wins over `X-Forwarded-For` when a request carries both.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| line.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| parse_node(value.trim().trim_matches('"')))
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = node.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(inside, _)| inside.parse::<IpAddr>().ok())
}

/// The client's address, as [`TrustedProxies::client_of`] resolved it for this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The request's client: as resolved by the edge middleware (`net/edge.rs`), else the socket's peer, else
    /// the unspecified address (a request that did not come over a socket, as in tests).
    pub fn of(parts: &axum::http::request::Parts) -> ClientIp {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return *ip;
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(ClientIp(IpAddr::from([0, 0, 0, 0])), |c| {
                ClientIp(c.0.ip().to_canonical())
            })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::of(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn lists_of_addresses_and_networks_parse_and_bad_entries_are_named() {
        let p: TrustedProxies = "10.0.0.0/8, 192.168.1.7,::1".parse().expect("parses");
        assert!(p.contains(ip("10.1.2.3")));
        assert!(p.contains(ip("192.168.1.7")));
        assert!(!p.contains(ip("192.168.1.8")));
        assert!(p.contains(ip("::1")));
        assert!(
            p.contains(ip("::ffff:10.9.9.9")),
            "IPv4-mapped addresses match"
        );
        assert!("".parse::<TrustedProxies>().expect("empty").is_empty());
        let err = "10.0.0.0/8, proxy.local"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let p: TrustedProxies = "10.0.0.1".parse().expect("parses");
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(p.client_of(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        let none = TrustedProxies::default();
        assert_eq!(none.client_of(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() {
        let p: TrustedProxies = "10.0.0.0/24".parse().expect("parses");
        let proxy = ip("10.0.0.1");
        // The client made up the leftmost entry; the proxy appended what it saw.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7")]);
        assert_eq!(p.client_of(proxy, &h), ip("198.51.100.7"));
        // Two trusted hops.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 10.0.0.2")]);
        assert_eq!(p.client_of(proxy, &h), ip("198.51.100.7"));
        // Several header lines are one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "10.0.0.3"),
        ]);
        assert_eq!(p.client_of(proxy, &h), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(p.client_of(proxy, &HeaderMap::new()), proxy);
        // Garbage at the nearest hop: stop at the trusted proxy.
        let h = headers(&[("x-forwarded-for", "198.51.100.7, nonsense")]);
        assert_eq!(p.client_of(proxy, &h), proxy);
    }

    #[test]
    fn the_forwarded_header_is_read_as_rfc_7239_writes_it() {
        let p: TrustedProxies = "10.0.0.1".parse().expect("parses");
        let proxy = ip("10.0.0.1");
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#,
        )]);
        assert_eq!(p.client_of(proxy, &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080")]);
        assert_eq!(p.client_of(proxy, &h), ip("192.0.2.60"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=192.0.2.61"),
            ("x-forwarded-for", "192.0.2.62"),
        ]);
        assert_eq!(p.client_of(proxy, &h), ip("192.0.2.61"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(p.client_of(proxy, &h), proxy);
    }
}
