//! Which hop of a request is the client, given the proxies we trust.
//!
//! Behind a load balancer the TCP peer is the balancer, so one attacker would share a
//! throttle with every user. The client is the right-most hop of
//! `x-forwarded-for…, peer` that is **not** a configured trusted proxy: hops added by
//! proxies we run (or Google's front ends) are skipped, and anything a client wrote
//! further left is never believed. With no trusted proxies (the default) the peer is
//! the client and `x-forwarded-for` is ignored.

use std::net::IpAddr;

/// One CIDR block (`10.0.0.0/8`, `2001:db8::/32`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
        };
        Ok(Cidr { network, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose `x-forwarded-for` is believed (`PULSEPOINT_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// Parses CIDR blocks or addresses; the error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| Cidr::parse(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Trust nobody: the TCP peer is the client.
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    /// The client address of a request that came from `peer` carrying these
    /// `x-forwarded-for` header values (in the order they appear).
    pub fn client_addr<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        // Every header in order, each a comma-separated list whose last entry was
        // added last; walked right-most (nearest) first.
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                // Garbage a client wrote: the last proxy we trust saw the real client.
                return client;
            };
            let ip = ip.to_canonical();
            client = ip;
            if !self.is_trusted(ip) {
                return ip;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(values: &'a [&'a str]) -> Vec<&'a str> {
        values.to_vec()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8"]).expect("parse");
        let spoofed = headers(&["1.2.3.4"]);
        assert_eq!(
            proxies.client_addr(ip("203.0.113.9"), spoofed.clone()),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::none().client_addr(ip("10.1.1.1"), spoofed.clone()),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        // GKE Ingress: "<client>, <lb ip>" arriving from a Google front end.
        let proxies = TrustedProxies::parse(&["35.191.0.0/16", "130.211.0.0/22", "34.120.1.1"])
            .expect("parse");
        let chain = headers(&["6.6.6.6, 198.51.100.7, 34.120.1.1"]);
        assert_eq!(
            proxies.client_addr(ip("35.191.3.4"), chain),
            ip("198.51.100.7"),
            "the attacker-written 6.6.6.6 further left is ignored"
        );
        // Several headers count as one list, in order.
        let split = headers(&["6.6.6.6", "198.51.100.7, 34.120.1.1"]);
        assert_eq!(
            proxies.client_addr(ip("35.191.3.4"), split),
            ip("198.51.100.7")
        );
        // Only trusted hops: the left-most is the best we know.
        let all_trusted = headers(&["34.120.1.1"]);
        assert_eq!(
            proxies.client_addr(ip("130.211.0.9"), all_trusted),
            ip("34.120.1.1")
        );
        // Garbage stops the walk at the last trusted hop.
        let garbage = headers(&["not-an-ip"]);
        assert_eq!(
            proxies.client_addr(ip("35.191.3.4"), garbage),
            ip("35.191.3.4")
        );
    }

    #[test]
    fn ipv4_mapped_and_ipv6_blocks() {
        let proxies = TrustedProxies::parse(&["127.0.0.1", "fd00::/8"]).expect("parse");
        assert!(proxies.is_trusted(ip("::ffff:127.0.0.1")));
        assert!(proxies.is_trusted(ip("fd12::1")));
        assert!(!proxies.is_trusted(ip("fe80::1")));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["example.com"]).is_err());
        assert!(
            TrustedProxies::parse(&["0.0.0.0/0"])
                .expect("any")
                .is_trusted(ip("8.8.8.8"))
        );
    }
}
