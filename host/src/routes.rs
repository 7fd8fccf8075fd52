//! Which CCID each route (listen port, TLS server name) of this data directory was given to — for good.
//!
//! A peer writes a chaincode's connection.json once, when the chaincode is installed on it, and never rewrites it:
//! installing the same package again is refused as "already installed". If the route it holds ever led to another
//! chaincode, the peer's next proposal would reach that one, which REGISTERs a CCID the peer does not expect; the
//! peer then waits `chaincode.startuptimeout` (300 s by default) holding the channel's ledger lock, stalling every
//! block commit. So a route, once given to a CCID, is never given to another: removing a chaincode keeps its
//! routes reserved, and installing it again gives them back, which also makes the peers' old connection.json work
//! again.

use std::collections::BTreeMap;

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
}
