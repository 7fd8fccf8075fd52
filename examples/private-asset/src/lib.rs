//! fabric-samples `asset-transfer-private-data` (chaincode-go) in Rust, as specified in docs/conformance.md
//! ("private-asset"): assets in the shared `assetCollection`, appraised values in each org's
//! `<MSP>PrivateCollection`, inputs through the transient map, a transfer agreed on private-data hashes, and a
//! state-based endorsement policy on the asset key (MEMBER of the owner's MSP).
//!
//! Its Node twin (tests/node/chaincode/private-asset.js, on Fabric's own `fabric-shim`) must answer byte for byte
//! the same; the conformance suite checks that. The sample's peer-org check is skipped: wasm has no peer MSP ID.
#![forbid(unsafe_code)]

use serde_json::{Map, Value};
use wasmcc_sdk::statebased::{KeyEndorsementPolicy, Role};
use wasmcc_sdk::{Chaincode, Error, Response, Stub};

pub struct PrivateAsset;

wasmcc_sdk::chaincode!(PrivateAsset);

pub const ASSET_COLLECTION: &str = "assetCollection";
const AGREEMENT: &str = "transferAgreement";
/// JavaScript's `Number.MAX_SAFE_INTEGER`: the largest integer both implementations read exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

/// Ok: the payload; Err: the message of a status-500 answer.
type Outcome = Result<Vec<u8>, String>;

impl Chaincode for PrivateAsset {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, args) = stub.function_and_parameters();
        let outcome = match function.as_str() {
            "CreateAsset" => create_asset(stub),
            "AgreeToTransfer" => agree_to_transfer(stub),
            "TransferAsset" => transfer_asset(stub),
            "DeleteAsset" => delete_asset(stub),
            "PurgeAsset" => purge_asset(stub),
            "DeleteTranferAgreement" => delete_transfer_agreement(stub),
            "ReadAsset" => read_asset_fn(stub, &args),
            "ReadAssetPrivateDetails" => read_asset_private_details(stub, &args),
            "ReadTransferAgreement" => read_transfer_agreement(stub, &args),
            "GetAssetByRange" => get_asset_by_range(stub, &args),
            _ => Err(format!("unknown function: {function}")),
        };
        match outcome {
            Ok(payload) => Response::success(payload),
            Err(message) => Response::error(message),
        }
    }
}

/// A stub error's text, as the Go shim's `err.Error()`.
fn text(e: Error) -> String {
    e.to_string()
}

/// An asset in `assetCollection`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    pub object_type: String,
    pub asset_id: String,
    pub color: String,
    pub size: i64,
    pub owner: String,
}

impl Asset {
    pub fn to_json(&self) -> Vec<u8> {
        format!(
            r#"{{"objectType":{},"assetID":{},"color":{},"size":{},"owner":{}}}"#,
            js(&self.object_type),
            js(&self.asset_id),
            js(&self.color),
            self.size,
            js(&self.owner)
        )
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Asset> {
        let m = object(bytes)?;
        Some(Asset {
            object_type: string(&m, "objectType")?,
            asset_id: string(&m, "assetID")?,
            color: string(&m, "color")?,
            size: integer(&m, "size")?,
            owner: string(&m, "owner")?,
        })
    }
}

/// A JSON string.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The value as a JSON object (decoded from its UTF-8 text, invalid sequences replaced as Node does).
fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_str(&String::from_utf8_lossy(bytes)) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// A string member: absent or null → "", a string → itself, anything else → None.
fn string(m: &Map<String, Value>, field: &str) -> Option<String> {
    match m.get(field) {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    }
}

/// An integer member: absent or null → 0; a number with an integral value of magnitude ≤ 2^53−1 → it; else None.
fn integer(m: &Map<String, Value>, field: &str) -> Option<i64> {
    match m.get(field) {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                (i.unsigned_abs() <= MAX_SAFE as u64).then_some(i)
            } else if n.is_u64() {
                None
            } else {
                let f = n.as_f64()?;
                (f.fract() == 0.0 && f.abs() <= MAX_SAFE as f64).then_some(f as i64)
            }
        }
        Some(_) => None,
    }
}

/// The committed value, `None` when absent (the peer cannot tell absent from empty).
fn present(value: Option<Vec<u8>>) -> Option<Vec<u8>> {
    value.filter(|v| !v.is_empty())
}

/// The submitting client's MSP ID: its org, and its ID as owner or buyer.
fn client_msp(stub: &Stub) -> Result<String, String> {
    let identity = stub.client_identity().map_err(|_| "failed to get verified MSPID".to_owned())?;
    Ok(identity.msp_id().to_string())
}

fn org_collection(msp: &str) -> String {
    format!("{msp}PrivateCollection")
}

/// MEMBER of `msp`, serialized.
fn member_policy(msp: &str) -> Result<Vec<u8>, String> {
    let mut ep = KeyEndorsementPolicy::new(None)?;
    ep.add_orgs(Role::Member, &[msp])?;
    Ok(ep.policy())
}

/// The transient entry `key` (as given) and its JSON object; `missing` when the map has no such key.
fn transient_input(stub: &Stub, key: &str, missing: &str) -> Result<(Vec<u8>, Map<String, Value>), String> {
    let value = stub.transient().remove(key).ok_or_else(|| missing.to_owned())?;
    let input = object(&value).ok_or("failed to unmarshal JSON")?;
    Ok((value, input))
}

fn field_str(m: &Map<String, Value>, field: &str) -> Result<String, String> {
    string(m, field).ok_or_else(|| "failed to unmarshal JSON".to_owned())
}

fn field_int(m: &Map<String, Value>, field: &str) -> Result<i64, String> {
    integer(m, field).ok_or_else(|| "failed to unmarshal JSON".to_owned())
}

/// The transfer agreement's key, once the ID passed the check both shims agree on.
fn agreement_key(stub: &Stub, id: &str) -> Result<String, String> {
    if id.is_empty() || id.contains(['\u{0}', '\u{10FFFF}']) {
        return Err(
            "failed to create composite key: assetID must be non-empty and must not contain U+0000 or U+10FFFF".into(),
        );
    }
    stub.create_composite_key(AGREEMENT, &[id]).map_err(|e| format!("failed to create composite key: {e}"))
}

/// The asset, `None` when absent.
fn read_asset(stub: &mut Stub, id: &str) -> Result<Option<Asset>, String> {
    let value = stub.get_private_data(ASSET_COLLECTION, id).map_err(|e| format!("failed to read asset: {e}"))?;
    match present(value) {
        None => Ok(None),
        Some(bytes) => Asset::decode(&bytes).map(Some).ok_or_else(|| "failed to unmarshal JSON".to_owned()),
    }
}

fn arity(args: &[String], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("Incorrect number of arguments. Expecting {n}"))
    }
}

fn non_empty(value: &str, what: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{what} must be a non-empty string"))
    } else {
        Ok(())
    }
}

fn create_asset(stub: &mut Stub) -> Outcome {
    let (_, input) = transient_input(stub, "asset_properties", "asset not found in the transient map input")?;
    let object_type = field_str(&input, "objectType")?;
    let id = field_str(&input, "assetID")?;
    let color = field_str(&input, "color")?;
    let size = field_int(&input, "size")?;
    let appraised_value = field_int(&input, "appraisedValue")?;
    non_empty(&object_type, "objectType field")?;
    non_empty(&id, "assetID field")?;
    non_empty(&color, "color field")?;
    if size <= 0 {
        return Err("size field must be a positive integer".into());
    }
    if appraised_value <= 0 {
        return Err("appraisedValue field must be a positive integer".into());
    }
    let existing = stub.get_private_data(ASSET_COLLECTION, &id).map_err(|e| format!("failed to get asset: {e}"))?;
    if present(existing).is_some() {
        return Err(format!("this asset already exists: {id}"));
    }
    let msp = client_msp(stub)?;
    let asset = Asset { object_type, asset_id: id.clone(), color, size, owner: msp.clone() };
    stub.put_private_data(ASSET_COLLECTION, &id, &asset.to_json())
        .map_err(|e| format!("failed to put asset into private data collection: {e}"))?;
    let details = format!(r#"{{"assetID":{},"appraisedValue":{appraised_value}}}"#, js(&id));
    stub.put_private_data(&org_collection(&msp), &id, details.as_bytes())
        .map_err(|e| format!("failed to put asset private details: {e}"))?;
    set_endorsement(stub, &id, &msp)?;
    Ok(Vec::new())
}

fn set_endorsement(stub: &mut Stub, id: &str, msp: &str) -> Result<(), String> {
    let policy = member_policy(msp).map_err(|e| format!("failed to set asset endorsement policy: {e}"))?;
    stub.set_private_data_validation_parameter(ASSET_COLLECTION, id, &policy)
        .map_err(|e| format!("failed to set asset endorsement policy: {e}"))
}

fn agree_to_transfer(stub: &mut Stub) -> Outcome {
    let msp = client_msp(stub)?;
    let (value, input) = transient_input(stub, "asset_value", "asset_value key not found in the transient map")?;
    let id = field_str(&input, "assetID")?;
    let appraised_value = field_int(&input, "appraisedValue")?;
    non_empty(&id, "assetID field")?;
    if appraised_value <= 0 {
        return Err("appraisedValue field must be a positive integer".into());
    }
    if read_asset(stub, &id).map_err(|e| format!("error reading asset: {e}"))?.is_none() {
        return Err(format!("{id} does not exist"));
    }
    stub.put_private_data(&org_collection(&msp), &id, &value).map_err(|e| format!("failed to put asset bid: {e}"))?;
    let key = agreement_key(stub, &id)?;
    stub.put_private_data(ASSET_COLLECTION, &key, msp.as_bytes())
        .map_err(|e| format!("failed to put asset bid: {e}"))?;
    Ok(Vec::new())
}

fn transfer_asset(stub: &mut Stub) -> Outcome {
    let (_, input) = transient_input(stub, "asset_owner", "asset owner not found in the transient map")?;
    let id = field_str(&input, "assetID")?;
    let buyer_msp = field_str(&input, "buyerMSP")?;
    non_empty(&id, "assetID field")?;
    non_empty(&buyer_msp, "buyerMSP field")?;
    let mut asset = read_asset(stub, &id)
        .map_err(|e| format!("error reading asset: {e}"))?
        .ok_or_else(|| format!("{id} does not exist"))?;

    let owner_collection = verify_agreement(stub, &id, &asset.owner, &buyer_msp)
        .map_err(|e| format!("failed transfer verification: {e}"))?;

    let key = agreement_key(stub, &id)?;
    let buyer = stub
        .get_private_data(ASSET_COLLECTION, &key)
        .map_err(|e| format!("failed ReadTransferAgreement to find buyerID: failed to read TransferAgreement: {e}"))?;
    let buyer = present(buyer).ok_or_else(|| format!("BuyerID not found in TransferAgreement for {id}"))?;
    asset.owner = String::from_utf8_lossy(&buyer).into_owned();
    stub.put_private_data(ASSET_COLLECTION, &id, &asset.to_json()).map_err(text)?;
    stub.del_private_data(&owner_collection, &id).map_err(text)?;
    stub.del_private_data(ASSET_COLLECTION, &key).map_err(text)?;
    set_endorsement(stub, &id, &buyer_msp)?;
    Ok(Vec::new())
}

/// The caller owns the asset and both orgs hold the same appraised value; returns the owner's collection.
fn verify_agreement(stub: &mut Stub, id: &str, owner: &str, buyer_msp: &str) -> Result<String, String> {
    let msp = client_msp(stub)?;
    if msp != owner {
        return Err("error: submitting client identity does not own asset".into());
    }
    let owner_collection = org_collection(&msp);
    let owner_hash = stub
        .get_private_data_hash(&owner_collection, id)
        .map_err(|e| format!("failed to get hash of appraised value from owners collection {owner_collection}: {e}"))?;
    let owner_hash = present(owner_hash)
        .ok_or_else(|| format!("hash of appraised value for {id} does not exist in collection {owner_collection}"))?;
    let buyer_collection = org_collection(buyer_msp);
    let buyer_hash = stub
        .get_private_data_hash(&buyer_collection, id)
        .map_err(|e| format!("failed to get hash of appraised value from buyer collection {buyer_collection}: {e}"))?;
    let buyer_hash = present(buyer_hash).ok_or_else(|| {
        format!(
            "hash of appraised value for {id} does not exist in collection {buyer_collection}. AgreeToTransfer must be \
             called by the buyer first"
        )
    })?;
    if owner_hash != buyer_hash {
        return Err(format!(
            "hash for appraised value for owner {} does not value for seller {}",
            hex(&owner_hash),
            hex(&buyer_hash)
        ));
    }
    Ok(owner_collection)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn delete_asset(stub: &mut Stub) -> Outcome {
    let (_, input) = transient_input(stub, "asset_delete", "asset to delete not found in the transient map")?;
    let id = field_str(&input, "assetID")?;
    non_empty(&id, "assetID field")?;
    let asset = stub.get_private_data(ASSET_COLLECTION, &id).map_err(|e| format!("failed to read asset: {e}"))?;
    if present(asset).is_none() {
        return Err(format!("asset not found: {id}"));
    }
    let owner_collection = org_collection(&client_msp(stub)?);
    let details = stub
        .get_private_data(&owner_collection, &id)
        .map_err(|e| format!("failed to read asset from owner's Collection: {e}"))?;
    if present(details).is_none() {
        return Err(format!("asset not found in owner's private Collection {owner_collection}: {id}"));
    }
    stub.del_private_data(ASSET_COLLECTION, &id).map_err(|e| format!("failed to delete state: {e}"))?;
    stub.del_private_data(&owner_collection, &id).map_err(text)?;
    Ok(Vec::new())
}

fn purge_asset(stub: &mut Stub) -> Outcome {
    let (_, input) = transient_input(stub, "asset_purge", "asset to purge not found in the transient map")?;
    let id = field_str(&input, "assetID")?;
    non_empty(&id, "assetID field")?;
    let owner_collection = org_collection(&client_msp(stub)?);
    stub.purge_private_data(ASSET_COLLECTION, &id)
        .map_err(|e| format!("failed to purge state from asset collection: {e}"))?;
    stub.purge_private_data(&owner_collection, &id)
        .map_err(|e| format!("failed to purge state from owner collection: {e}"))?;
    Ok(Vec::new())
}

fn delete_transfer_agreement(stub: &mut Stub) -> Outcome {
    let (_, input) = transient_input(stub, "agreement_delete", "asset to delete not found in the transient map")?;
    let id = field_str(&input, "assetID")?;
    non_empty(&id, "transient input ID field")?;
    let collection = org_collection(&client_msp(stub)?);
    let key = agreement_key(stub, &id)?;
    let agreement =
        stub.get_private_data(ASSET_COLLECTION, &key).map_err(|e| format!("failed to read transfer_agreement: {e}"))?;
    if present(agreement).is_none() {
        return Err(format!("asset's transfer_agreement does not exist: {id}"));
    }
    stub.del_private_data(&collection, &id).map_err(text)?;
    stub.del_private_data(ASSET_COLLECTION, &key).map_err(text)?;
    Ok(Vec::new())
}

fn read_asset_fn(stub: &mut Stub, args: &[String]) -> Outcome {
    arity(args, 1)?;
    non_empty(&args[0], "assetID")?;
    let value = stub.get_private_data(ASSET_COLLECTION, &args[0]).map_err(|e| format!("failed to read asset: {e}"))?;
    Ok(value.unwrap_or_default())
}

fn read_asset_private_details(stub: &mut Stub, args: &[String]) -> Outcome {
    arity(args, 2)?;
    non_empty(&args[0], "collection")?;
    non_empty(&args[1], "assetID")?;
    let value = stub.get_private_data(&args[0], &args[1]).map_err(|e| format!("failed to read asset details: {e}"))?;
    Ok(value.unwrap_or_default())
}

fn read_transfer_agreement(stub: &mut Stub, args: &[String]) -> Outcome {
    arity(args, 1)?;
    let id = &args[0];
    non_empty(id, "assetID")?;
    let key = agreement_key(stub, id)?;
    let buyer =
        stub.get_private_data(ASSET_COLLECTION, &key).map_err(|e| format!("failed to read TransferAgreement: {e}"))?;
    Ok(match present(buyer) {
        None => Vec::new(),
        Some(buyer) => {
            format!(r#"{{"assetID":{},"buyerID":{}}}"#, js(id), js(&String::from_utf8_lossy(&buyer))).into_bytes()
        }
    })
}

fn simple_key(key: &str) -> Result<(), String> {
    if key.starts_with('\u{0}') {
        Err(format!("first character of the key [{key}] contains a null character which is not allowed"))
    } else {
        Ok(())
    }
}

fn get_asset_by_range(stub: &mut Stub, args: &[String]) -> Outcome {
    arity(args, 2)?;
    simple_key(&args[0])?;
    simple_key(&args[1])?;
    let mut iter = stub.get_private_data_by_range(ASSET_COLLECTION, &args[0], &args[1]).map_err(text)?;
    let values: Result<Vec<_>, String> = iter.by_ref().map(|r| r.map(|kv| kv.value).map_err(text)).collect();
    iter.close();
    let values = values?;
    let mut out = b"[".to_vec();
    out.extend_from_slice(&values.join(&b","[..]));
    out.push(b']');
    Ok(out)
}

#[cfg(test)]
mod tests;
