//! Limits per key (client IP, address) and who the client is when a reverse proxy stands between.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// A sliding-window limit: at most `max` events per key within `window`.
pub struct RateLimiter {
    max: usize,
    window: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// A limiter allowing `max` events per key per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: max as usize,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event for `key`; false if that goes over the limit.
    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 100_000 {
            seen.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let q = seen.entry(key.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max {
            return false;
        }
        q.push_back(now);
        true
    }
}

/// The reverse proxies whose forwarding headers are believed (`[web] trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `::1`, `192.0.2.7`; an error names the entry.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for e in entries {
            let (ip, bits) = match e.trim().split_once('/') {
                Some((ip, bits)) => (ip, Some(bits)),
                None => (e.trim(), None),
            };
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("`{e}` is not an IP address or CIDR range"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("`{e}`: the prefix length must be 0 to {max}"))?,
                None => max,
            };
            nets.push((ip, bits));
        }
        Ok(Self { nets })
    }

    /// True when `ip` is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets
            .iter()
            .any(|&(net, bits)| match (canonical(net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
                (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
                _ => false,
            })
    }

    /// The client's address: the peer itself, unless the peer is a trusted proxy; then the nearest
    /// address in `X-Forwarded-For` (or `Forwarded: for=`) that is not a trusted proxy, read from the
    /// right, since everything left of it was written by the client and proves nothing.
    pub fn client_ip(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.contains(peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for v in headers.get_all("x-forwarded-for").iter() {
            if let Ok(v) = v.to_str() {
                hops.extend(v.split(',').filter_map(|h| parse_hop(h.trim())));
            }
        }
        if hops.is_empty() {
            for v in headers.get_all("forwarded").iter() {
                if let Ok(v) = v.to_str() {
                    hops.extend(v.split(',').filter_map(|element| {
                        element.split(';').find_map(|pair| {
                            let (k, val) = pair.trim().split_once('=')?;
                            k.eq_ignore_ascii_case("for")
                                .then(|| parse_hop(val.trim_matches('"')))?
                        })
                    }));
                }
            }
        }
        hops.into_iter()
            .rev()
            .map(canonical)
            .find(|ip| !self.contains(*ip))
            .unwrap_or(peer)
    }
}

/// `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_hop(h: &str) -> Option<IpAddr> {
    if let Ok(ip) = h.parse() {
        return Some(ip);
    }
    if let Ok(sa) = h.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    h.strip_prefix('[')?.split_once(']')?.0.parse().ok()
}

/// IPv4 addresses mapped into IPv6 (`::ffff:192.0.2.1`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    a[..full] == b[..full]
        && (rest == 0 || {
            let mask = 0xFFu8 << (8 - rest);
            a[full] & mask == b[full] & mask
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let p = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()])
            .unwrap();
        let via_proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let direct: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let xff = headers(&[("X-Forwarded-For", "198.51.100.1, 192.0.2.44, 10.1.2.3")]);
        assert_eq!(p.client_ip(via_proxy, &xff).to_string(), "192.0.2.44");
        assert_eq!(
            p.client_ip(direct, &xff).to_string(),
            "203.0.113.9",
            "a stranger's header is ignored"
        );
        assert_eq!(
            p.client_ip(via_proxy, &HeaderMap::new()).to_string(),
            "127.0.0.1"
        );
        let fwd = headers(&[(
            "Forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.2",
        )]);
        assert_eq!(p.client_ip(via_proxy, &fwd).to_string(), "2001:db8::7");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:1".parse().unwrap();
        assert_eq!(p.client_ip(mapped, &xff).to_string(), "192.0.2.44");
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
        let none = TrustedProxies::default();
        assert_eq!(none.client_ip(via_proxy, &xff).to_string(), "127.0.0.1");
    }
}
