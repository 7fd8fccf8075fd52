//! Host names resolved like glibc's `hosts: files dns`, without glibc.
//!
//! The builder is a static glibc binary, which cannot load NSS modules, so `getaddrinfo` is out; the stock peer
//! image is Alpine, so there would be none to load anyway. A name listed in `/etc/hosts` is answered from there
//! alone, as NSS "files" does. hickory on its own consults the hosts file per record type and would still ask DNS
//! for the missing AAAA record of a name mapped to an IPv4 address, which stalls until the DNS timeout where no
//! server answers (a bare container, a chroot). Other names go to the DNS servers of `/etc/resolv.conf`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::TokioResolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

const HOSTS: &str = "/etc/hosts";

#[derive(Clone)]
pub struct Resolver {
    hosts: PathBuf,
    /// Built on first use, inside the runtime, and only if a name is not in the hosts file.
    dns: Arc<OnceLock<Result<TokioResolver, String>>>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver { hosts: PathBuf::from(HOSTS), dns: Arc::default() }
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str();
            // A missing or unreadable hosts file is an empty one, as for NSS.
            let listed = std::fs::read_to_string(&this.hosts).map(|text| hosts_lookup(&text, host)).unwrap_or_default();
            if !listed.is_empty() {
                return Ok(addrs(listed));
            }
            let dns = this.dns.get_or_init(|| {
                let mut builder = TokioResolver::builder_tokio()
                    .map_err(|e| format!("{host} is not in {HOSTS}, and the DNS configuration is unusable: {e}"))?;
                builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
                Ok(builder.build())
            });
            let dns = dns.as_ref().map_err(|e| e.clone())?;
            let found: Vec<IpAddr> = dns.lookup_ip(host).await?.iter().collect();
            Ok(addrs(found))
        })
    }
}

fn addrs(ips: Vec<IpAddr>) -> Addrs {
    Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)))
}

/// Every address `/etc/hosts` gives `name` (case-insensitive, a trailing dot ignored), in file order.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let name = name.trim_end_matches('.');
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        // A zone index ("fe80::1%eth0") cannot be dialled by name anyway: skip such lines.
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else { continue };
        if fields.any(|alias| alias.trim_end_matches('.').eq_ignore_ascii_case(name)) && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS_FILE: &str = "\
# comment
127.0.0.1\tlocalhost
::1 localhost ip6-localhost
10.0.0.5  wasmcc-host.test  wasmcc   # the host
10.0.0.6 other.test
not-an-ip wasmcc-host.test
10.0.0.7 WASMCC-HOST.test.
";

    #[test]
    fn hosts_file_answers_every_listed_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(hosts_lookup(HOSTS_FILE, "wasmcc-host.test"), [ip("10.0.0.5"), ip("10.0.0.7")]);
        assert_eq!(hosts_lookup(HOSTS_FILE, "wasmcc"), [ip("10.0.0.5")]);
        assert_eq!(hosts_lookup(HOSTS_FILE, "localhost."), [ip("127.0.0.1"), ip("::1")]);
        assert!(hosts_lookup(HOSTS_FILE, "comment").is_empty());
        assert!(hosts_lookup(HOSTS_FILE, "missing.test").is_empty());
    }

    #[tokio::test]
    async fn a_listed_name_never_reaches_dns() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "192.0.2.1 only-here.test\n").unwrap();
        let resolver = Resolver { hosts, dns: Arc::default() };
        let name: Name = "only-here.test".parse().unwrap();
        let found: Vec<_> = resolver.resolve(name).await.unwrap().collect();
        assert_eq!(found, [SocketAddr::from(([192, 0, 2, 1], 0))]);
        assert!(resolver.dns.get().is_none(), "DNS was never set up");
    }
}
