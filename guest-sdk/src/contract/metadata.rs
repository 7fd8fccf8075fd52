//! The document `org.hyperledger.fabric:GetMetadata` answers, shaped as fabric-contract-api builds it from a Node
//! contract's decorators, so client tooling written for Fabric reads a wasm chaincode the same way.

use serde_json::{json, Map, Value};

use super::__private::Descriptor;
use super::schema::Schemas;

/// The contract that answers `GetMetadata`, and its one transaction.
pub(crate) const SYSTEM_CONTRACT: &str = "org.hyperledger.fabric";
pub(crate) const GET_METADATA: &str = "GetMetadata";
/// fabric-contract-api's `$schema` for the document.
const SCHEMA_URL: &str = "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json";

/// `#[contract(title = .., version = ..)]`: fabric-contract-api's `@Info`.
pub struct ContractInfo {
    /// The Rust type's name (`@Info` records the class name).
    pub type_name: &'static str,
    pub title: Option<&'static str>,
    pub version: Option<&'static str>,
}

/// One transaction function, as `@Transaction`, `@Param` and `@Returns` describe it.
pub struct Transaction {
    pub name: &'static str,
    /// `#[transaction]` (submit) or `#[transaction(evaluate)]`.
    pub submit: bool,
    /// Name and schema of each parameter after the context.
    pub parameters: Vec<(&'static str, Value)>,
    /// The return type's schema; `None` for `()`.
    pub returns: Option<Value>,
}

/// The whole document: `title` and `version` are the chaincode crate's name and version (a Node chaincode's
/// package.json name and version).
pub(crate) fn document(contracts: &[&Descriptor], default: &str, title: &str, version: &str) -> Value {
    let mut schemas = Schemas::new();
    let mut described = Map::new();
    for contract in contracts {
        let transactions: Vec<Value> = (contract.transactions)(&mut schemas).iter().map(transaction).collect();
        let mut instance = json!({ "name": contract.name });
        if contract.name == default {
            instance["default"] = Value::Bool(true);
        }
        let info = match &contract.info {
            Some(i) => {
                let mut info = json!({ "name": i.type_name, "version": i.version.unwrap_or("") });
                if let Some(title) = i.title {
                    info["title"] = title.into();
                }
                info
            }
            None => json!({ "title": "", "version": "" }),
        };
        described.insert(
            contract.name.into(),
            json!({ "name": contract.name, "contractInstance": instance, "transactions": transactions, "info": info }),
        );
    }
    described.insert(
        SYSTEM_CONTRACT.into(),
        json!({
            "name": SYSTEM_CONTRACT,
            "contractInstance": { "name": SYSTEM_CONTRACT },
            "transactions": [{ "name": GET_METADATA }],
            "info": { "title": "", "version": "" },
        }),
    );
    json!({
        "$schema": SCHEMA_URL,
        "contracts": described,
        "info": { "title": title, "version": version },
        "components": { "schemas": schemas.components() },
    })
}

fn transaction(t: &Transaction) -> Value {
    let tag: &[&str] = if t.submit { &["SUBMIT", "submitTx"] } else { &["EVALUATE"] };
    let parameters: Vec<Value> = t
        .parameters
        .iter()
        .map(|(name, schema)| json!({ "name": name, "description": "", "schema": schema }))
        .collect();
    let mut out = json!({ "name": t.name, "tag": tag, "parameters": parameters });
    if let Some(returns) = &t.returns {
        out["returns"] = returns.clone();
    }
    out
}
