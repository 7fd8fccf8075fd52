//! Installed is committed: every chaincode the host's registry serves is callable through the gateway under its
//! label, as if its definition had been approved and committed on the channel at once. Installs and removals (from
//! `wasmcc install`, `--chaincode` or `--watch`) take effect as they happen; a new package of a label already served
//! replaces the old one, which is removed from the host.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use wasmcc_host::registry::Registry;
use wasmcc_peer::{ChaincodeDefinition, CollectionConfig, ConnectOptions, GatewayService, PeerSim};

/// What the command line says of chaincode definitions, by chaincode name.
#[derive(Default)]
pub struct Definitions {
    /// Definitions with `--init-required`: the first transaction must be an Init.
    pub init_required: HashSet<String>,
    /// Private data collections, read from Fabric collection configuration files.
    pub collections: BTreeMap<String, Vec<(String, CollectionConfig)>>,
}

/// The definition version: a development channel has one version per chaincode name, so an Init runs once per
/// ledger, not once per rebuild.
const VERSION: &str = "1";

impl Definitions {
    /// Reads `NAME=FILE` collection configurations.
    pub fn read_collections(&mut self, specs: &[String]) -> anyhow::Result<()> {
        for spec in specs {
            let (name, file) = spec.split_once('=').context("--collections takes NAME=FILE")?;
            let path = PathBuf::from(file);
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let collections = CollectionConfig::from_fabric_json(&text)
                .map_err(|e| anyhow::anyhow!("collection configuration {}: {e}", path.display()))?;
            self.collections.insert(name.to_owned(), collections);
        }
        Ok(())
    }

    /// Defines the collections on the peer.
    pub fn define_collections(&self, peer: &PeerSim) {
        for (name, collections) in &self.collections {
            for (collection, config) in collections {
                peer.define_collection(name, collection, config.clone());
            }
        }
    }

    fn connect_options(&self, name: &str) -> ConnectOptions {
        let definition = if self.init_required.contains(name) {
            ChaincodeDefinition::init_required(VERSION)
        } else {
            ChaincodeDefinition::new(VERSION)
        };
        ConnectOptions { namespace: Some(name.to_owned()), definition: Some(definition), ..ConnectOptions::default() }
    }
}

/// Keeps the gateway's chaincodes in step with the registry.
pub struct Committer {
    registry: Arc<Registry>,
    gateway: GatewayService,
    peer: PeerSim,
    definitions: Definitions,
    /// The CCID served under each chaincode name.
    serving: HashMap<String, String>,
    channel: String,
}

impl Committer {
    pub fn new(
        registry: Arc<Registry>,
        gateway: GatewayService,
        peer: PeerSim,
        definitions: Definitions,
        channel: String,
    ) -> Committer {
        Committer { registry, gateway, peer, definitions, serving: HashMap::new(), channel }
    }

    /// Brings the gateway in step with the registry now.
    pub async fn sync(&mut self) -> anyhow::Result<()> {
        let mut by_label: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for record in self.registry.records() {
            by_label.entry(record.label).or_default().push(record.ccid);
        }
        for (label, ccids) in &by_label {
            let current = self.serving.get(label);
            // The newest is the one not served yet (installs arrive one at a time); with none served, any.
            let newest = ccids.iter().find(|c| Some(*c) != current).unwrap_or(&ccids[0]).clone();
            for old in ccids.iter().filter(|c| **c != newest) {
                self.registry.remove(old).await.with_context(|| format!("removing {old}"))?;
                println!("chaincode {label}: {old} replaced");
            }
            let alive = self.gateway.is_serving(label);
            if current != Some(&newest) || !alive {
                self.connect(label, &newest).await?;
            }
        }
        let gone: Vec<String> = self.serving.keys().filter(|l| !by_label.contains_key(*l)).cloned().collect();
        for label in gone {
            self.gateway.remove_chaincode(&label);
            self.serving.remove(&label);
            println!("chaincode {label} removed from {}", self.channel);
        }
        Ok(())
    }

    async fn connect(&mut self, label: &str, ccid: &str) -> anyhow::Result<()> {
        let addr = self.registry.listen_addr(ccid).with_context(|| format!("{ccid} has no listener"))?;
        let options = self.definitions.connect_options(label);
        let connection = self
            .peer
            .connect_with(&addr.to_string(), ccid, options)
            .await
            .with_context(|| format!("connecting to {ccid}"))?;
        self.gateway.add_chaincode(connection);
        let init = if self.definitions.init_required.contains(label) { " (init required)" } else { "" };
        println!("chaincode {label} committed on {}{init}: {ccid}", self.channel);
        self.serving.insert(label.to_owned(), ccid.to_owned());
        Ok(())
    }

    /// Follows the registry until the process ends: at every install or removal, and every few seconds to redial a
    /// connection that ended.
    pub async fn follow(mut self) {
        let mut changes = self.registry.subscribe();
        loop {
            if let Err(e) = self.sync().await {
                eprintln!("wasmcc dev: {e:#}");
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }
}
