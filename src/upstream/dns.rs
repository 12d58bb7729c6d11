//! DNS cache. The control plane resolves provider hosts with the blocking
//! system resolver and publishes the answers; workers only read the snapshot,
//! so a slow resolver never stalls the data plane.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use arc_swap::ArcSwap;

#[derive(Default)]
pub struct DnsCache {
    answers: ArcSwap<HashMap<String, Arc<[IpAddr]>>>,
}

impl DnsCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Addresses for `host` (IP literals and `localhost` need no lookup).
    pub fn lookup(&self, host: &str, port: u16) -> Option<Vec<SocketAddr>> {
        if let Some(ip) = literal(host) {
            return Some(vec![SocketAddr::new(ip, port)]);
        }
        let answers = self.answers.load();
        let ips = answers.get(host)?;
        Some(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
    }

    /// Resolve every host (blocking) and publish the new answers. A host that
    /// fails keeps its previous answer. Returns the hosts that failed.
    pub fn refresh(&self, hosts: &[String]) -> Vec<(String, std::io::Error)> {
        let mut next: HashMap<String, Arc<[IpAddr]>> = (**self.answers.load()).clone();
        let mut failed = Vec::new();
        for host in hosts {
            if literal(host).is_some() {
                continue;
            }
            match (host.as_str(), 0u16).to_socket_addrs() {
                Ok(addrs) => {
                    let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                    // Prefer IPv4 first: loopback-only and v4-only hosts are common in containers.
                    ips.sort_by_key(|ip| ip.is_ipv6());
                    ips.dedup();
                    if !ips.is_empty() {
                        next.insert(host.clone(), ips.into());
                    }
                }
                Err(e) => failed.push((host.clone(), e)),
            }
        }
        self.answers.store(Arc::new(next));
        failed
    }
}

fn literal(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::from([127, 0, 0, 1]));
    }
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup_and_unknown_hosts_miss() {
        let dns = DnsCache::new();
        assert_eq!(
            dns.lookup("127.0.0.1", 80),
            Some(vec!["127.0.0.1:80".parse().unwrap()])
        );
        assert_eq!(
            dns.lookup("::1", 80),
            Some(vec!["[::1]:80".parse().unwrap()])
        );
        assert_eq!(
            dns.lookup("localhost", 9),
            Some(vec!["127.0.0.1:9".parse().unwrap()])
        );
        assert_eq!(dns.lookup("api.example.invalid", 443), None);
    }
}
