//! Fabric's asset-transfer-basic sample (fabric-samples `asset-transfer-basic/chaincode-go`) on wasmcc.
//!
//! Same functions, same JSON, same error texts as the Go chaincode, so the sample's applications work
//! unchanged. `GetAllAssets` waits for range queries in the SDK.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use wasmcc_sdk::{Chaincode, Response, Stub};

/// An asset. Fields in alphabetical order, as in the Go sample: serde writes them in declaration order, so
/// the JSON bytes (and so the write sets) are identical to the Go chaincode's on every endorser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    #[serde(rename = "AppraisedValue")]
    pub appraised_value: i64,
    #[serde(rename = "Color")]
    pub color: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Owner")]
    pub owner: String,
    #[serde(rename = "Size")]
    pub size: i64,
}

pub struct AssetTransfer;

wasmcc_sdk::chaincode!(AssetTransfer);

/// Errors are the texts a Go contract returns; fabric-contract-api turns them into status 500 with the text.
type Result<T> = std::result::Result<T, String>;

impl Chaincode for AssetTransfer {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        let p = |n: usize| expect_params(&params, n);
        let result = match function.as_str() {
            "InitLedger" => p(0).and_then(|_| init_ledger(stub)).map(|_| Vec::new()),
            "CreateAsset" => p(5).and_then(|_| create_asset(stub, &asset_from_params(&params)?)).map(|_| Vec::new()),
            "ReadAsset" => p(1).and_then(|_| read_asset(stub, &params[0])).and_then(|a| to_json(&a)),
            "UpdateAsset" => p(5).and_then(|_| update_asset(stub, &asset_from_params(&params)?)).map(|_| Vec::new()),
            "DeleteAsset" => p(1).and_then(|_| delete_asset(stub, &params[0])).map(|_| Vec::new()),
            "AssetExists" => p(1).and_then(|_| asset_exists(stub, &params[0])).map(|e| e.to_string().into_bytes()),
            "TransferAsset" => p(2).and_then(|_| transfer_asset(stub, &params[0], &params[1])).map(String::into_bytes),
            // fabric-contract-api's text for an unknown function of the default contract.
            _ => Err(format!("Function {function} not found in contract SmartContract")),
        };
        Response::from_result(result)
    }
}

/// Adds the sample's six assets.
pub fn init_ledger(stub: &mut Stub) -> Result<()> {
    let assets = [
        ("asset1", "blue", 5, "Tomoko", 300),
        ("asset2", "red", 5, "Brad", 400),
        ("asset3", "green", 10, "Jin Soo", 500),
        ("asset4", "yellow", 10, "Max", 600),
        ("asset5", "black", 15, "Adriana", 700),
        ("asset6", "white", 15, "Michel", 800),
    ];
    for (id, color, size, owner, appraised_value) in assets {
        let asset = Asset { id: id.into(), color: color.into(), size, owner: owner.into(), appraised_value };
        stub.put_state(id, &to_json(&asset)?).map_err(|e| format!("failed to put to world state. {e}"))?;
    }
    Ok(())
}

pub fn create_asset(stub: &mut Stub, asset: &Asset) -> Result<()> {
    if asset_exists(stub, &asset.id)? {
        return Err(format!("the asset {} already exists", asset.id));
    }
    put_asset(stub, asset)
}

pub fn read_asset(stub: &mut Stub, id: &str) -> Result<Asset> {
    let bytes = stub.get_state(id).map_err(|e| format!("failed to read from world state: {e}"))?;
    let bytes = bytes.ok_or_else(|| format!("the asset {id} does not exist"))?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

pub fn update_asset(stub: &mut Stub, asset: &Asset) -> Result<()> {
    if !asset_exists(stub, &asset.id)? {
        return Err(format!("the asset {} does not exist", asset.id));
    }
    put_asset(stub, asset)
}

pub fn delete_asset(stub: &mut Stub, id: &str) -> Result<()> {
    if !asset_exists(stub, id)? {
        return Err(format!("the asset {id} does not exist"));
    }
    Ok(stub.del_state(id)?)
}

pub fn asset_exists(stub: &mut Stub, id: &str) -> Result<bool> {
    let bytes = stub.get_state(id).map_err(|e| format!("failed to read from world state: {e}"))?;
    Ok(bytes.is_some())
}

/// Sets a new owner and returns the old one.
pub fn transfer_asset(stub: &mut Stub, id: &str, new_owner: &str) -> Result<String> {
    let mut asset = read_asset(stub, id)?;
    let old_owner = std::mem::replace(&mut asset.owner, new_owner.to_owned());
    put_asset(stub, &asset)?;
    Ok(old_owner)
}

fn put_asset(stub: &mut Stub, asset: &Asset) -> Result<()> {
    Ok(stub.put_state(&asset.id, &to_json(asset)?)?)
}

fn to_json(asset: &Asset) -> Result<Vec<u8>> {
    serde_json::to_vec(asset).map_err(|e| e.to_string())
}

/// fabric-contract-api's check and text for the argument count.
fn expect_params(params: &[String], n: usize) -> Result<()> {
    if params.len() == n {
        Ok(())
    } else {
        Err(format!("Incorrect number of params. Expected {n}, received {}", params.len()))
    }
}

/// `id color size owner appraisedValue`, as `CreateAsset` and `UpdateAsset` take them.
fn asset_from_params(p: &[String]) -> Result<Asset> {
    Ok(Asset {
        id: p[0].clone(),
        color: p[1].clone(),
        size: parse_int(&p[2], 2)?,
        owner: p[3].clone(),
        appraised_value: parse_int(&p[4], 4)?,
    })
}

/// fabric-contract-api's conversion of an `int` parameter: "" is 0, anything else must parse.
fn parse_int(value: &str, index: usize) -> Result<i64> {
    if value.is_empty() {
        return Ok(0);
    }
    value.parse().map_err(|_| {
        format!("Error managing parameter param{index}. Conversion error. Cannot convert passed value {value} to int")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_sdk::mock::MockLedger;

    fn ledger_with_assets() -> MockLedger {
        let mut ledger = MockLedger::new();
        assert_eq!(ledger.invoke::<AssetTransfer>(&["InitLedger"]).status, 200);
        ledger
    }

    fn asset(ledger: &MockLedger, id: &str) -> Asset {
        serde_json::from_slice(ledger.state(id).expect("asset in state")).unwrap()
    }

    #[test]
    fn init_ledger_writes_six_assets_as_the_go_sample() {
        let ledger = ledger_with_assets();
        assert_eq!(ledger.public_state().count(), 6);
        // Byte-identical to Go's json.Marshal of the sample's struct.
        assert_eq!(
            ledger.state("asset1").unwrap(),
            br#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#
        );
    }

    #[test]
    fn create_read_update_delete() {
        let mut ledger = MockLedger::new();
        let r = ledger.invoke::<AssetTransfer>(&["CreateAsset", "a1", "blue", "5", "Tom", "300"]);
        assert_eq!((r.status, r.payload.len()), (200, 0));
        let r = ledger.invoke::<AssetTransfer>(&["ReadAsset", "a1"]);
        assert_eq!(r.status, 200);
        let a: Asset = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(
            (a.id.as_str(), a.color.as_str(), a.size, a.owner.as_str(), a.appraised_value),
            ("a1", "blue", 5, "Tom", 300)
        );

        let r = ledger.invoke::<AssetTransfer>(&["UpdateAsset", "a1", "red", "6", "Ann", "400"]);
        assert_eq!(r.status, 200);
        assert_eq!(asset(&ledger, "a1").color, "red");
        assert_eq!(ledger.invoke::<AssetTransfer>(&["AssetExists", "a1"]).payload, b"true");

        assert_eq!(ledger.invoke::<AssetTransfer>(&["DeleteAsset", "a1"]).status, 200);
        assert_eq!(ledger.state("a1"), None);
        assert_eq!(ledger.invoke::<AssetTransfer>(&["AssetExists", "a1"]).payload, b"false");
    }

    #[test]
    fn error_texts_match_the_go_sample() {
        let mut ledger = ledger_with_assets();
        let cases: [(&[&str], &str); 6] = [
            (&["CreateAsset", "asset1", "blue", "5", "Tom", "300"], "the asset asset1 already exists"),
            (&["ReadAsset", "nope"], "the asset nope does not exist"),
            (&["UpdateAsset", "nope", "red", "1", "Ann", "1"], "the asset nope does not exist"),
            (&["DeleteAsset", "nope"], "the asset nope does not exist"),
            (&["TransferAsset", "nope", "Ann"], "the asset nope does not exist"),
            (&["ReadAsset"], "Incorrect number of params. Expected 1, received 0"),
        ];
        for (args, message) in cases {
            let r = ledger.invoke::<AssetTransfer>(args);
            assert_eq!((r.status, r.message.as_str()), (500, message), "{args:?}");
        }
    }

    #[test]
    fn transfer_returns_the_old_owner() {
        let mut ledger = ledger_with_assets();
        let r = ledger.invoke::<AssetTransfer>(&["TransferAsset", "asset2", "Ann"]);
        assert_eq!((r.status, r.payload.as_slice()), (200, &b"Brad"[..]));
        assert_eq!(asset(&ledger, "asset2").owner, "Ann");
    }

    #[test]
    fn unknown_function_and_bad_int_are_errors() {
        let mut ledger = MockLedger::new();
        let r = ledger.invoke::<AssetTransfer>(&["GetAllAssetz"]);
        assert_eq!((r.status, r.message.as_str()), (500, "Function GetAllAssetz not found in contract SmartContract"));
        let r = ledger.invoke::<AssetTransfer>(&["CreateAsset", "a", "blue", "big", "Tom", "1"]);
        assert_eq!(
            r.message,
            "Error managing parameter param2. Conversion error. Cannot convert passed value big to int"
        );
        assert_eq!(ledger.public_state().count(), 0);
    }

    #[test]
    fn a_failed_transaction_writes_nothing() {
        let mut ledger = ledger_with_assets();
        let before = ledger.state("asset1").unwrap().to_vec();
        // Rejected: asset1 exists. Nothing of it may reach the ledger.
        ledger.invoke::<AssetTransfer>(&["CreateAsset", "asset1", "pink", "1", "X", "1"]);
        assert_eq!(ledger.state("asset1").unwrap(), before.as_slice());
    }
}
