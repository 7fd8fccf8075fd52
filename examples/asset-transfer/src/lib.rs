//! Fabric's asset-transfer-basic sample (fabric-samples `asset-transfer-basic`) as a wasmcc contract.
//!
//! Every transaction of the sample, with the same names, JSON and error texts, so the sample's applications run
//! unchanged against it; arguments are converted and checked by the contract layer as fabric-contract-api does.
#![forbid(unsafe_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wasmcc_sdk::{contract, Context};

/// An asset. Fields in alphabetical order, as in the Go sample: serde writes them in declaration order, so
/// the JSON bytes (and so the write sets) are identical to the Go chaincode's on every endorser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// The sample's one contract; its name is the Go sample's.
pub struct SmartContract;

wasmcc_sdk::chaincode!(
    /// The chaincode the host runs: [`SmartContract`] alone.
    pub AssetTransfer = [SmartContract]
);

/// Errors are the texts the sample returns; the contract layer turns them into status 500 with the text.
type Result<T> = std::result::Result<T, String>;

#[contract]
impl SmartContract {
    /// Adds the sample's six assets.
    #[transaction]
    pub fn init_ledger(ctx: &mut Context) -> Result<()> {
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
            ctx.stub().put_state(id, &to_json(&asset)?).map_err(|e| format!("failed to put to world state. {e}"))?;
        }
        Ok(())
    }

    #[transaction]
    pub fn create_asset(
        ctx: &mut Context,
        id: String,
        color: String,
        size: i64,
        owner: String,
        appraised_value: i64,
    ) -> Result<()> {
        if Self::asset_exists(ctx, id.clone())? {
            return Err(format!("the asset {id} already exists"));
        }
        put_asset(ctx, &Asset { id, color, size, owner, appraised_value })
    }

    #[transaction(evaluate)]
    pub fn read_asset(ctx: &mut Context, id: String) -> Result<Asset> {
        let bytes = ctx.stub().get_state(&id).map_err(|e| format!("failed to read from world state: {e}"))?;
        let bytes = bytes.ok_or_else(|| format!("the asset {id} does not exist"))?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    #[transaction]
    pub fn update_asset(
        ctx: &mut Context,
        id: String,
        color: String,
        size: i64,
        owner: String,
        appraised_value: i64,
    ) -> Result<()> {
        if !Self::asset_exists(ctx, id.clone())? {
            return Err(format!("the asset {id} does not exist"));
        }
        put_asset(ctx, &Asset { id, color, size, owner, appraised_value })
    }

    #[transaction]
    pub fn delete_asset(ctx: &mut Context, id: String) -> Result<()> {
        if !Self::asset_exists(ctx, id.clone())? {
            return Err(format!("the asset {id} does not exist"));
        }
        Ok(ctx.stub().del_state(&id)?)
    }

    #[transaction(evaluate)]
    pub fn asset_exists(ctx: &mut Context, id: String) -> Result<bool> {
        let bytes = ctx.stub().get_state(&id).map_err(|e| format!("failed to read from world state: {e}"))?;
        Ok(bytes.is_some())
    }

    /// Sets a new owner and returns the old one.
    #[transaction]
    pub fn transfer_asset(ctx: &mut Context, id: String, new_owner: String) -> Result<String> {
        let mut asset = Self::read_asset(ctx, id)?;
        let old_owner = std::mem::replace(&mut asset.owner, new_owner);
        put_asset(ctx, &asset)?;
        Ok(old_owner)
    }

    /// Every asset: a range query over the whole namespace, as the sample does.
    #[transaction(evaluate)]
    pub fn get_all_assets(ctx: &mut Context) -> Result<Vec<Asset>> {
        let mut assets = Vec::new();
        for kv in ctx.stub().get_state_by_range("", "")? {
            assets.push(serde_json::from_slice(&kv?.value).map_err(|e| e.to_string())?);
        }
        Ok(assets)
    }
}

fn put_asset(ctx: &mut Context, asset: &Asset) -> Result<()> {
    Ok(ctx.stub().put_state(&asset.id, &to_json(asset)?)?)
}

fn to_json(asset: &Asset) -> Result<Vec<u8>> {
    serde_json::to_vec(asset).map_err(|e| e.to_string())
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
    fn error_texts_match_the_sample() {
        let mut ledger = ledger_with_assets();
        let cases: [(&[&str], &str); 6] = [
            (&["CreateAsset", "asset1", "blue", "5", "Tom", "300"], "the asset asset1 already exists"),
            (&["ReadAsset", "nope"], "the asset nope does not exist"),
            (&["UpdateAsset", "nope", "red", "1", "Ann", "1"], "the asset nope does not exist"),
            (&["DeleteAsset", "nope"], "the asset nope does not exist"),
            (&["TransferAsset", "nope", "Ann"], "the asset nope does not exist"),
            (&["ReadAsset"], "Expected 1 parameters, but 0 have been supplied"),
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
        let unknown = "You've asked to invoke a function that does not exist: GetAllAssetz";
        assert_eq!((r.status, r.message.as_str()), (500, unknown));
        let r = ledger.invoke::<AssetTransfer>(&["CreateAsset", "a", "blue", "big", "Tom", "1"]);
        assert_eq!(r.message, r#"Unable to validate parameter due to ["should be integer"]"#);
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

    #[test]
    fn get_all_assets_lists_the_ledger_in_key_order() {
        let mut ledger = MockLedger::new();
        assert_eq!(ledger.invoke::<AssetTransfer>(&["GetAllAssets"]).payload, b"[]");
        ledger.invoke::<AssetTransfer>(&["InitLedger"]);
        let r = ledger.invoke::<AssetTransfer>(&["GetAllAssets"]);
        let all: Vec<Asset> = serde_json::from_slice(&r.payload).unwrap();
        let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["asset1", "asset2", "asset3", "asset4", "asset5", "asset6"]);
        assert!(r
            .payload
            .starts_with(br#"[{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5},"#));
    }

    #[test]
    fn metadata_lists_the_sample_s_transactions() {
        let mut ledger = MockLedger::new();
        let r = ledger.invoke::<AssetTransfer>(&["org.hyperledger.fabric:GetMetadata"]);
        let doc: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        let names: Vec<&str> = doc["contracts"]["SmartContract"]["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let expected = ["InitLedger", "CreateAsset", "ReadAsset", "UpdateAsset", "DeleteAsset", "AssetExists"];
        assert_eq!(names[..6], expected);
        assert_eq!(names[6..], ["TransferAsset", "GetAllAssets"]);
        let params = &doc["contracts"]["SmartContract"]["transactions"][1]["parameters"];
        assert_eq!(params[4]["name"], "appraisedValue");
        assert_eq!(params[4]["schema"], serde_json::json!({ "type": "integer" }));
    }
}
