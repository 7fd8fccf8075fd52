//! Private data collections: which exist, and who may read and write them (the peer's collection store and
//! `errorIfCreatorHasNo{Read,Write}Permission` in `core/chaincode/handler.go`).
//!
//! A namespace with no defined collection accepts any collection name, open to everyone, so tests need no setup.
//! Once a namespace has a defined collection (see `PeerSim::define_collection`), only defined names and
//! the implicit per-organisation collections exist. Implicit collections (`_implicit_org_<MSPID>`) always exist and,
//! as on a peer (their `memberOnlyRead`/`memberOnlyWrite` are false), anyone may read and write them.

use std::collections::{BTreeMap, HashMap};

/// The prefix of an organisation's implicit collection: `_implicit_org_Org1MSP`.
pub const IMPLICIT_COLLECTION_PREFIX: &str = "_implicit_org_";

/// A collection definition: its member organisations and access flags (a `StaticCollectionConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionConfig {
    /// MSP IDs of the member organisations (the member orgs policy, as an "any member of" list).
    pub members: Vec<String>,
    /// Only members may read (`memberOnlyRead`).
    pub member_only_read: bool,
    /// Only members may write (`memberOnlyWrite`).
    pub member_only_write: bool,
}

impl CollectionConfig {
    /// Members `members`, member-only reads, writes open to all: the usual sample configuration.
    pub fn new<I, S>(members: I) -> CollectionConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CollectionConfig {
            members: members.into_iter().map(Into::into).collect(),
            member_only_read: true,
            member_only_write: false,
        }
    }

    pub fn member_only_read(mut self, yes: bool) -> CollectionConfig {
        self.member_only_read = yes;
        self
    }

    pub fn member_only_write(mut self, yes: bool) -> CollectionConfig {
        self.member_only_write = yes;
        self
    }

    /// (may read, may write) for a creator of `mspid` (`RetrieveReadWritePermission`).
    fn permission(&self, mspid: &str) -> (bool, bool) {
        if self.members.iter().any(|m| m == mspid) {
            return (true, true);
        }
        (!self.member_only_read, !self.member_only_write)
    }
}

impl CollectionConfig {
    /// The static collections of a Fabric collection configuration file (the JSON `peer lifecycle chaincode
    /// approveformyorg --collections-config` takes): name, the member organisations named in `policy`
    /// (`OR('Org1MSP.member', 'Org2MSP.member')`), `memberOnlyRead` and `memberOnlyWrite` (false when absent, as in
    /// Fabric). Peer counts, `blockToLive` and collection endorsement policies are not modelled.
    pub fn from_fabric_json(text: &str) -> Result<Vec<(String, CollectionConfig)>, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let entries = value.as_array().ok_or("not a JSON array of collections")?;
        entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let field = |name: &str| entry.get(name).and_then(serde_json::Value::as_str);
                let name = field("name").filter(|n| !n.is_empty()).ok_or(format!("collection {i} has no name"))?;
                let policy = field("policy").ok_or(format!("collection {name} has no policy"))?;
                // The principals are the quoted 'MSPID.role' strings of the signature policy.
                let members: Vec<String> = policy
                    .split('\'')
                    .skip(1)
                    .step_by(2)
                    .filter_map(|principal| principal.split_once('.').map(|(msp, _)| msp.to_owned()))
                    .collect();
                if members.is_empty() {
                    return Err(format!("collection {name}: no 'MSPID.role' principal in policy {policy:?}"));
                }
                let flag = |key: &str| entry.get(key).and_then(serde_json::Value::as_bool).unwrap_or(false);
                let config = CollectionConfig {
                    members,
                    member_only_read: flag("memberOnlyRead"),
                    member_only_write: flag("memberOnlyWrite"),
                };
                Ok((name.to_owned(), config))
            })
            .collect()
    }
}

/// Collection definitions by namespace.
#[derive(Debug, Default)]
pub struct Collections {
    by_namespace: HashMap<String, BTreeMap<String, CollectionConfig>>,
}

/// What a transaction asks of a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Collections {
    pub fn define(&mut self, namespace: &str, name: &str, config: CollectionConfig) {
        self.by_namespace.entry(namespace.to_owned()).or_default().insert(name.to_owned(), config);
    }

    /// Whether the collection exists for the ledger (`validateCollName`).
    pub fn exists(&self, namespace: &str, name: &str) -> bool {
        if name.is_empty() {
            return false;
        }
        match self.by_namespace.get(namespace) {
            None => true,
            Some(defined) => defined.contains_key(name) || name.starts_with(IMPLICIT_COLLECTION_PREFIX),
        }
    }

    /// The handler's access check for a creator of `mspid`, with the peer's error texts.
    pub fn check(&self, channel: &str, namespace: &str, name: &str, mspid: &str, access: Access) -> Result<(), String> {
        let (read, write) = match self.by_namespace.get(namespace) {
            _ if name.starts_with(IMPLICIT_COLLECTION_PREFIX) => (true, true),
            None => (true, true),
            Some(defined) => match defined.get(name) {
                Some(config) => config.permission(mspid),
                // privdata.NoSuchCollectionError
                None => return Err(format!("collection {channel}/{namespace}/{name} could not be found")),
            },
        };
        match access {
            Access::Read if !read => Err(format!(
                "tx creator does not have read access permission on privatedata in chaincodeName:{namespace} \
                 collectionName: {name}"
            )),
            Access::Write if !write => Err(format!(
                "tx creator does not have write access permission on privatedata in chaincodeName:{namespace} \
                 collectionName: {name}"
            )),
            _ => Ok(()),
        }
    }
}

/// The ledger's error for an operation on a collection that is not defined (`ledger.InvalidCollNameError`).
pub fn undefined_collection(namespace: &str, name: &str) -> String {
    format!("collection [{name}] not defined in the collection config for chaincode [{namespace}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_namespaces_accept_any_collection() {
        let collections = Collections::default();
        assert!(collections.exists("cc", "anything"));
        assert!(!collections.exists("cc", ""));
        assert_eq!(collections.check("ch", "cc", "anything", "Org9MSP", Access::Read), Ok(()));
    }

    #[test]
    fn member_only_read_refuses_other_orgs_with_the_peer_text() {
        let mut collections = Collections::default();
        collections.define("cc", "org1only", CollectionConfig::new(["Org1MSP"]));
        assert_eq!(collections.check("ch", "cc", "org1only", "Org1MSP", Access::Read), Ok(()));
        assert_eq!(collections.check("ch", "cc", "org1only", "Org2MSP", Access::Write), Ok(()), "writes are open");
        assert_eq!(
            collections.check("ch", "cc", "org1only", "Org2MSP", Access::Read).unwrap_err(),
            "tx creator does not have read access permission on privatedata in chaincodeName:cc collectionName: \
             org1only"
        );
        collections.define("cc", "strict", CollectionConfig::new(["Org1MSP"]).member_only_write(true));
        assert_eq!(
            collections.check("ch", "cc", "strict", "Org2MSP", Access::Write).unwrap_err(),
            "tx creator does not have write access permission on privatedata in chaincodeName:cc collectionName: strict"
        );
        let open = CollectionConfig::new(["Org1MSP"]).member_only_read(false);
        collections.define("cc", "open", open);
        assert_eq!(collections.check("ch", "cc", "open", "Org2MSP", Access::Read), Ok(()));
    }

    #[test]
    fn defined_namespaces_know_only_their_collections_and_the_implicit_ones() {
        let mut collections = Collections::default();
        collections.define("cc", "c1", CollectionConfig::new(["Org1MSP"]));
        assert!(!collections.exists("cc", "c2"));
        assert!(collections.exists("cc", "_implicit_org_Org2MSP"));
        assert_eq!(collections.check("ch", "cc", "_implicit_org_Org2MSP", "Org1MSP", Access::Read), Ok(()));
        assert_eq!(
            collections.check("ch", "cc", "c2", "Org1MSP", Access::Read).unwrap_err(),
            "collection ch/cc/c2 could not be found"
        );
        assert_eq!(
            undefined_collection("cc", ""),
            "collection [] not defined in the collection config for chaincode [cc]"
        );
    }

    #[test]
    fn a_fabric_collection_configuration_reads_as_its_members_and_flags() {
        let text = r#"[{"name":"assetCollection","policy":"OR('Org1MSP.member', 'Org2MSP.member')",
            "requiredPeerCount":1,"maxPeerCount":1,"blockToLive":1000000,"memberOnlyRead":true,"memberOnlyWrite":true},
            {"name":"Org1MSPPrivateCollection","policy":"OR('Org1MSP.member')","memberOnlyRead":true}]"#;
        let read = CollectionConfig::from_fabric_json(text).unwrap();
        assert_eq!(read[0].0, "assetCollection");
        assert_eq!(read[0].1, CollectionConfig::new(["Org1MSP", "Org2MSP"]).member_only_write(true));
        assert_eq!(read[1].1, CollectionConfig::new(["Org1MSP"]));
        assert!(CollectionConfig::from_fabric_json(r#"[{"name":"x","policy":"OR()"}]"#)
            .unwrap_err()
            .contains("principal"));
        assert!(CollectionConfig::from_fabric_json("{}").unwrap_err().contains("array"));
    }
}
