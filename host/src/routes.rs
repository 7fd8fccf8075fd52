//! Routes: how a peer reaches a chaincode (its own port, or its TLS server name on the shared port), how those
//! are named and chosen, and which CCID each route of this data directory was given to — for good.
//!
//! A peer writes a chaincode's connection.json once, when the chaincode is installed on it, and never rewrites it:
//! installing the same package again is refused as "already installed". If the route it holds ever led to another
//! chaincode, the peer's next proposal would reach that one, which REGISTERs a CCID the peer does not expect; the
//! peer then waits `chaincode.startuptimeout` (300 s by default) holding the channel's ledger lock, stalling every
//! block commit. So a route, once given to a CCID, is never given to another: removing a chaincode keeps its
//! routes reserved, and installing it again gives them back, which also makes the peers' old connection.json work
//! again.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

/// A route that already belongs to another chaincode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteTaken {
    #[error("port {port} was given to chaincode {owner}; a port is never given to another chaincode, because peers that installed {owner} keep dialling it")]
    Port { port: u16, owner: String },
    #[error("TLS server name {name} was given to chaincode {owner}; a name is never given to another chaincode, because peers that installed {owner} keep asking for it")]
    SniName { name: String, owner: String },
}

/// The reservations, kept durably in the data directory (`routes.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteBook {
    #[serde(default)]
    ports: BTreeMap<u16, String>,
    #[serde(default)]
    sni_names: BTreeMap<String, String>,
}

impl RouteBook {
    /// The CCID a port was given to, if any.
    pub fn port_owner(&self, port: u16) -> Option<&str> {
        self.ports.get(&port).map(String::as_str)
    }

    /// The ports given to a CCID, lowest first (more than one only when an operator pinned another).
    pub fn ports_of<'a>(&'a self, ccid: &'a str) -> impl Iterator<Item = u16> + 'a {
        self.ports.iter().filter(move |(_, owner)| *owner == ccid).map(|(port, _)| *port)
    }

    /// Gives `port` to `ccid`; `Ok(true)` when that is new.
    pub fn reserve_port(&mut self, port: u16, ccid: &str) -> Result<bool, RouteTaken> {
        reserve(&mut self.ports, port, ccid).map_err(|owner| RouteTaken::Port { port, owner })
    }

    /// Gives a TLS server name to `ccid`; `Ok(true)` when that is new.
    pub fn reserve_sni_name(&mut self, name: &str, ccid: &str) -> Result<bool, RouteTaken> {
        reserve(&mut self.sni_names, name.to_string(), ccid)
            .map_err(|owner| RouteTaken::SniName { name: name.into(), owner })
    }

    /// Whether `ccid` could take `port` and `sni_name` (both checked before either is reserved).
    pub fn check(&self, ccid: &str, port: Option<u16>, sni_name: Option<&str>) -> Result<(), RouteTaken> {
        if let Some((port, owner)) = port.and_then(|p| Some((p, self.ports.get(&p)?))).filter(|(_, o)| *o != ccid) {
            return Err(RouteTaken::Port { port, owner: owner.clone() });
        }
        if let Some(name) = sni_name {
            if let Some(owner) = self.sni_names.get(name).filter(|o| *o != ccid) {
                return Err(RouteTaken::SniName { name: name.into(), owner: owner.clone() });
            }
        }
        Ok(())
    }
}

fn reserve<K: Ord>(map: &mut BTreeMap<K, String>, key: K, ccid: &str) -> Result<bool, String> {
    match map.get(&key) {
        Some(owner) if owner == ccid => Ok(false),
        Some(owner) => Err(owner.clone()),
        None => {
            map.insert(key, ccid.to_string());
            Ok(true)
        }
    }
}

/// Hex digits of the package hash in an SNI name: 48 bits, so two packages with the same label practically never
/// share a name, while the name stays short and readable in logs and certificates.
const SNI_HASH_DIGITS: usize = 12;

/// A DNS label is at most 63 bytes; the label part keeps room for `-` and the hash digits.
const SNI_LABEL_MAX: usize = 63 - 1 - SNI_HASH_DIGITS;

/// DNS names compare case-insensitively and may carry a root dot; resolvers see one spelling.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The TLS server name of a chaincode on a shared port: `<label>-<first 12 hex of the package hash>.<suffix>`.
///
/// One DNS label before the suffix, so a single wildcard certificate `*.<suffix>` covers every chaincode (a
/// wildcard matches exactly one label). The label is lowercased and every character outside `[a-z0-9-]` (Fabric
/// labels may hold `_ . +`) becomes `-`; it is cut to fit the 63-byte DNS label limit and never starts or ends with
/// `-`. The hash part keeps two packages of one label apart, and the name stays the same for the same package
/// across restarts and hosts. This is what connection.json `domain` should hold for that chaincode.
pub fn sni_name(label: &str, ccid_hash: &str, suffix: &str) -> String {
    let mut name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(SNI_LABEL_MAX)
        .collect();
    name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        name.push_str("cc");
    }
    let hash: String = ccid_hash
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .take(SNI_HASH_DIGITS)
        .collect();
    format!("{name}-{hash}.{}", normalize(suffix.trim_start_matches('.')))
}

/// [`sni_name`] for a CCID `label:hash`; `None` when the CCID has no `:`.
pub fn sni_name_for_ccid(ccid: &str, suffix: &str) -> Option<String> {
    let (label, hash) = ccid.rsplit_once(':')?;
    Some(sni_name(label, hash, suffix))
}

/// Why no port could be chosen for a chaincode.
#[derive(Debug, thiserror::Error)]
pub enum PortChoice {
    #[error(transparent)]
    Taken(#[from] RouteTaken),
    #[error("port {port} cannot be used: {reason}")]
    Unavailable { port: u16, reason: String },
    #[error("no free port in {0}..={1}")]
    Exhausted(u16, u16),
}

impl RouteBook {
    /// The port a chaincode installs on: the pinned one, if no other CCID ever had it; else none when the host gives
    /// chaincodes no ports of their own (`range` is `None`: the shared port only); else the first of its own
    /// reserved ports that can be bound; else the lowest port of `range` that was never given to anyone. `shared`
    /// is the shared port (never a chaincode's own); `bind` tries a port, and what it bound comes back with the port,
    /// for the caller to hold until it serves there. `sni_name` is checked either way.
    pub fn choose_port<L>(
        &self,
        ccid: &str,
        pinned: Option<u16>,
        sni_name: Option<&str>,
        range: Option<(u16, u16)>,
        shared: Option<u16>,
        bind: impl Fn(u16) -> io::Result<L>,
    ) -> Result<Option<(u16, L)>, PortChoice> {
        if let Some(port) = pinned {
            self.check(ccid, Some(port), sni_name)?;
            if port == 0 || Some(port) == shared {
                let reason = if port == 0 { "a chaincode needs a fixed port" } else { "it is the shared port" };
                return Err(PortChoice::Unavailable { port, reason: reason.into() });
            }
            let bound = bind(port).map_err(|e| PortChoice::Unavailable { port, reason: e.to_string() })?;
            return Ok(Some((port, bound)));
        }
        self.check(ccid, None, sni_name)?;
        let Some((lo, hi)) = range else { return Ok(None) };
        for port in self.ports_of(ccid) {
            match bind(port) {
                Ok(bound) => return Ok(Some((port, bound))),
                Err(e) => {
                    tracing::warn!(%ccid, port, "the chaincode's reserved port cannot be bound ({e}): another one is given")
                }
            }
        }
        (lo..=hi)
            .filter(|p| self.port_owner(*p).is_none() && Some(*p) != shared)
            .find_map(|p| bind(p).ok().map(|bound| Some((p, bound))))
            .ok_or(PortChoice::Exhausted(lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_stays_with_its_first_ccid() {
        let mut book = RouteBook::default();
        assert_eq!(book.reserve_port(9104, "p:1"), Ok(true));
        assert_eq!(book.reserve_port(9104, "p:1"), Ok(false));
        let err = book.reserve_port(9104, "f:2").unwrap_err();
        assert_eq!(err, RouteTaken::Port { port: 9104, owner: "p:1".into() });
        assert!(err.to_string().contains("never given to another chaincode"));
        assert_eq!(book.port_owner(9104), Some("p:1"));
        assert_eq!(book.ports_of("p:1").collect::<Vec<_>>(), vec![9104]);
    }

    #[test]
    fn names_are_checked_with_ports_before_either_is_taken() {
        let mut book = RouteBook::default();
        book.reserve_port(9104, "p:1").unwrap();
        book.reserve_sni_name("p-1.cc", "p:1").unwrap();
        assert!(book.check("p:1", Some(9104), Some("p-1.cc")).is_ok());
        assert!(matches!(book.check("f:2", Some(9105), Some("p-1.cc")), Err(RouteTaken::SniName { .. })));
        assert!(matches!(book.check("f:2", None, Some("p-1.cc")), Err(RouteTaken::SniName { .. })));
        assert!(matches!(book.check("f:2", Some(9104), None), Err(RouteTaken::Port { .. })));
        assert!(book.check("f:2", Some(9105), Some("f-2.cc")).is_ok());
    }

    #[test]
    fn the_book_round_trips_through_json() {
        let mut book = RouteBook::default();
        book.reserve_port(9104, "p:1").unwrap();
        book.reserve_sni_name("p-1.cc", "p:1").unwrap();
        let json = serde_json::to_string(&book).unwrap();
        assert_eq!(serde_json::from_str::<RouteBook>(&json).unwrap(), book);
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn sni_names_are_single_dns_labels_under_the_suffix() {
        assert_eq!(sni_name("basic_1.0", HASH, "cc.example.com"), "basic-1-0-9f86d081884c.cc.example.com");
        assert_eq!(sni_name("My+CC", &HASH.to_uppercase(), ".CC.Example.com."), "my-cc-9f86d081884c.cc.example.com");
        assert_eq!(sni_name("_", HASH, "x"), "cc-9f86d081884c.x");
        let long = sni_name(&"a".repeat(100), HASH, "x");
        assert_eq!(long.split('.').next().unwrap().len(), 63);
        let cut_at_dash = sni_name(&format!("{}_b", "a".repeat(SNI_LABEL_MAX - 1)), HASH, "x");
        assert!(!cut_at_dash.contains("--"), "{cut_at_dash}");
    }

    #[test]
    fn sni_name_for_ccid_splits_at_the_last_colon() {
        let ccid = format!("basic_1.0:{HASH}");
        assert_eq!(sni_name_for_ccid(&ccid, "cc.test").unwrap(), "basic-1-0-9f86d081884c.cc.test");
        assert!(sni_name_for_ccid("nocolon", "cc.test").is_none());
    }

    #[test]
    fn a_chaincode_gets_its_pinned_port_its_own_port_or_the_lowest_never_given() {
        let mut book = RouteBook::default();
        book.reserve_port(9101, "a:1").unwrap();
        let any = |_: u16| Ok(());
        assert_eq!(book.choose_port("b:2", None, None, Some((9100, 9110)), Some(9100), any).unwrap(), Some((9102, ())));
        assert_eq!(book.choose_port("a:1", None, None, Some((9100, 9110)), None, any).unwrap(), Some((9101, ())));
        assert_eq!(book.choose_port("b:2", Some(9105), None, Some((9100, 9110)), None, any).unwrap(), Some((9105, ())));
        assert!(matches!(
            book.choose_port("b:2", Some(9101), None, Some((9100, 9110)), None, any),
            Err(PortChoice::Taken(_))
        ));
        assert!(matches!(
            book.choose_port("b:2", Some(9100), None, Some((9100, 9110)), Some(9100), any),
            Err(PortChoice::Unavailable { port: 9100, .. })
        ));
        let busy = |_: u16| Err::<(), _>(io::Error::from(io::ErrorKind::AddrInUse));
        assert!(matches!(
            book.choose_port("b:2", None, None, Some((9100, 9110)), None, busy),
            Err(PortChoice::Exhausted(9100, 9110))
        ));
        // Without ports of their own only a pinned port is given, and a name of another chaincode is still refused.
        assert_eq!(book.choose_port("a:1", None, None, None, Some(9100), any).unwrap(), None);
        assert_eq!(book.choose_port("c:3", Some(9107), None, None, None, any).unwrap(), Some((9107, ())));
        book.reserve_sni_name("a-1.cc", "a:1").unwrap();
        assert!(matches!(book.choose_port("c:3", None, Some("a-1.cc"), None, None, any), Err(PortChoice::Taken(_))));
    }
}
