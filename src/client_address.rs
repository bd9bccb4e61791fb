//! The client's address, decided once per request and used everywhere it is needed: sign-in
//! throttling, audit rows and logs.
//!
//! The connection's peer is the client unless it is one of the configured trusted proxies
//! ([`crate::config::TrustedProxies`], `TOKENDESK_TRUSTED_PROXIES`). Only then are the
//! forwarding headers read — `Forwarded` (RFC 7239) if present, else `X-Forwarded-For` — from
//! the right, skipping trusted proxies: the first hop that is not a trusted proxy is the
//! client. Hops to its left were written by whoever sent the request and are ignored. A hop
//! that is not an address (`unknown`, an obfuscated name, garbage) ends the walk at the last
//! trusted hop, since nothing to its left can be believed.

use std::net::{IpAddr, SocketAddr};

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::{web, HttpMessage, HttpRequest};

use crate::config::{canonical, Config, TrustedProxies};

/// What is recorded when the peer is not known (an in-process test request).
pub const UNKNOWN: &str = "unknown";

/// The client address of a request, kept in its extensions once decided.
#[derive(Debug, Clone)]
struct ClientAddress(String);

/// The client of a connection from `peer` that sent `headers`.
pub fn resolve(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_hops(headers).into_iter().rev() {
        match hop {
            Some(addr) => {
                client = canonical(addr);
                if !trusted.contains(&client) {
                    return Some(client);
                }
            }
            None => return Some(client),
        }
    }
    Some(client)
}

/// The hops named by `Forwarded` (its `for=` parameters) or, without it, by
/// `X-Forwarded-For`, left to right; `None` for a hop that is not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let joined = |name: HeaderName| -> Option<String> {
        let values: Vec<&str> = headers
            .get_all(name)
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined(actix_web::http::header::FORWARDED) {
        return forwarded
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_hop(v))
            })
            .collect();
    }
    match joined(HeaderName::from_static("x-forwarded-for")) {
        Some(xff) => xff.split(',').map(parse_hop).collect(),
        None => Vec::new(),
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let text = raw.trim().trim_matches('"');
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(inside, _)| inside.parse().ok())
}

fn decide(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    config: Option<&web::Data<Config>>,
) -> String {
    let empty = TrustedProxies::default();
    let trusted = config.map(|c| &c.trusted_proxies).unwrap_or(&empty);
    resolve(peer.map(|p| p.ip()), headers, trusted)
        .map(|a| a.to_string())
        .unwrap_or_else(|| UNKNOWN.to_string())
}

/// The client address of a request entering the middleware chain (decided here, then kept).
pub fn of_service_request(req: &ServiceRequest) -> String {
    if let Some(known) = req.extensions().get::<ClientAddress>() {
        return known.0.clone();
    }
    let address = decide(
        req.peer_addr(),
        req.headers(),
        req.app_data::<web::Data<Config>>(),
    );
    req.extensions_mut().insert(ClientAddress(address.clone()));
    address
}

/// The client address of a request being handled.
pub fn of_request(req: &HttpRequest) -> String {
    if let Some(known) = req.extensions().get::<ClientAddress>() {
        return known.0.clone();
    }
    let address = decide(
        req.peer_addr(),
        req.headers(),
        req.app_data::<web::Data<Config>>(),
    );
    req.extensions_mut().insert(ClientAddress(address.clone()));
    address
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn client(peer: &str, trusted: &str, pairs: &[(&'static str, &str)]) -> String {
        let trusted = TrustedProxies::parse(trusted).unwrap();
        resolve(Some(peer.parse().unwrap()), &headers(pairs), &trusted)
            .unwrap()
            .to_string()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let xff = [("x-forwarded-for", "198.51.100.7")];
        assert_eq!(client("203.0.113.9", "", &xff), "203.0.113.9");
        assert_eq!(client("203.0.113.9", "10.0.0.0/8", &xff), "203.0.113.9");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let xff = [("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.2")];
        assert_eq!(client("10.0.0.1", "10.0.0.0/8", &xff), "198.51.100.7");
        // Two header lines read as one list.
        let two = [
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(client("10.0.0.1", "10.0.0.0/8", &two), "198.51.100.7");
        // Every hop trusted: the leftmost.
        let all = [("x-forwarded-for", "10.9.9.9, 10.0.0.2")];
        assert_eq!(client("10.0.0.1", "10.0.0.0/8", &all), "10.9.9.9");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let h = [
            (
                "forwarded",
                "for=1.1.1.1, for=\"[2001:db8::7]:4711\";proto=https",
            ),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(client("::1", "::1", &h), "2001:db8::7");
        let h = [("forwarded", "for=192.0.2.60:8080;by=10.0.0.1")];
        assert_eq!(client("127.0.0.1", "127.0.0.1", &h), "192.0.2.60");
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop() {
        let h = [("x-forwarded-for", "10.1.1.1 request_id=forged staff=ada")];
        assert_eq!(client("127.0.0.1", "127.0.0.1", &h), "127.0.0.1");
        let h = [("forwarded", "for=unknown, for=10.0.0.5")];
        assert_eq!(
            client("127.0.0.1", "127.0.0.0/8, 10.0.0.0/8", &h),
            "10.0.0.5"
        );
        assert_eq!(client("::ffff:127.0.0.1", "127.0.0.1", &[]), "127.0.0.1");
    }
}
