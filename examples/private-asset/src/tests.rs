//! Native unit tests on the SDK's mock ledger: two orgs trade an asset.

use super::*;
use wasmcc_sdk::mock::MockLedger;

/// A self-signed certificate: the SDK parses the creator's PEM certificate for its MSP ID and attributes.
const CERT_PEM: &str = concat!(
    "-----BEGIN CERTIFICATE-----\n",
    "MIIBljCCATugAwIBAgIUYdTbPzD6v1VNZ1s2F2AkOXV5YDIwCgYIKoZIzj0EAwIw\n",
    "HzEOMAwGA1UEAwwFdXNlcjExDTALBgNVBAoMBE9yZzEwIBcNMjYxMTI0MTQwMDA5\n",
    "WhgPMjEyNjEwMzExNDAwMDlaMB8xDjAMBgNVBAMMBXVzZXIxMQ0wCwYDVQQKDARP\n",
    "cmcxMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3UAPKS/ovc7RAwN2efhcZ9Yl\n",
    "TmhsDFwx04skqFrja50bf+DinzyNc0u4it5lbEf6PmuiYDdlAa/oJB9oYFpy8KNT\n",
    "MFEwHQYDVR0OBBYEFInjhBp8hrjxiQ36e7v8klu7l3meMB8GA1UdIwQYMBaAFInj\n",
    "hBp8hrjxiQ36e7v8klu7l3meMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n",
    "SQAwRgIhAMcxQAv1Nd55Yxga36XogIBHQWxWeS+3dkGYEVvUoqhtAiEAtZm9mXeP\n",
    "ORR/ZhVzKCPC3osBAr7s6FDJ6xsncOleotM=\n",
    "-----END CERTIFICATE-----\n",
);

/// `msp.SerializedIdentity {1 mspid, 2 id_bytes}`.
fn creator(msp: &str) -> Vec<u8> {
    let mut out = vec![0x0a, msp.len() as u8];
    out.extend_from_slice(msp.as_bytes());
    out.push(0x12);
    let mut n = CERT_PEM.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(CERT_PEM.as_bytes());
    out
}

/// Runs `args` as a member of `msp` with one transient entry (none when `transient` is empty).
fn call(ledger: &mut MockLedger, msp: &str, args: &[&str], transient: &[(&str, &str)]) -> Response {
    ledger.creator = creator(msp);
    ledger.transient = transient.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
    ledger.invoke::<PrivateAsset>(args)
}

fn ok(r: Response) -> String {
    assert_eq!(r.status, 200, "{}", r.message);
    String::from_utf8(r.payload).unwrap()
}

fn err(r: Response) -> String {
    assert_eq!(r.status, 500, "succeeded: {}", String::from_utf8_lossy(&r.payload));
    r.message
}

const ASSET1: &str = r#"{"objectType":"asset","assetID":"asset1","color":"green","size":20,"appraisedValue":100}"#;
const VALUE1: &str = r#"{"assetID":"asset1","appraisedValue":100}"#;

fn created() -> MockLedger {
    let mut ledger = MockLedger::new();
    ok(call(&mut ledger, "Org1MSP", &["CreateAsset"], &[("asset_properties", ASSET1)]));
    ledger
}

#[test]
fn create_writes_asset_details_and_endorsement() {
    let mut ledger = created();
    assert_eq!(
        ledger.private_data(ASSET_COLLECTION, "asset1"),
        Some(&br#"{"objectType":"asset","assetID":"asset1","color":"green","size":20,"owner":"Org1MSP"}"#[..])
    );
    assert_eq!(ledger.private_data("Org1MSPPrivateCollection", "asset1"), Some(VALUE1.as_bytes()));
    assert_eq!(
        ledger.validation_parameter(ASSET_COLLECTION, "asset1"),
        Some(member_policy("Org1MSP").unwrap().as_slice())
    );
    assert_eq!(
        ok(call(&mut ledger, "Org2MSP", &["ReadAsset", "asset1"], &[])),
        r#"{"objectType":"asset","assetID":"asset1","color":"green","size":20,"owner":"Org1MSP"}"#
    );
    assert_eq!(
        ok(call(&mut ledger, "Org1MSP", &["ReadAssetPrivateDetails", "Org1MSPPrivateCollection", "asset1"], &[])),
        VALUE1
    );
    assert_eq!(ok(call(&mut ledger, "Org1MSP", &["ReadAsset", "nope"], &[])), "");
    assert_eq!(
        err(call(&mut ledger, "Org1MSP", &["CreateAsset"], &[("asset_properties", ASSET1)])),
        "this asset already exists: asset1"
    );
}

#[test]
fn create_checks_its_input() {
    let mut ledger = MockLedger::new();
    let create = |ledger: &mut MockLedger, json: &str| {
        err(call(ledger, "Org1MSP", &["CreateAsset"], &[("asset_properties", json)]))
    };
    assert_eq!(err(call(&mut ledger, "Org1MSP", &["CreateAsset"], &[])), "asset not found in the transient map input");
    assert_eq!(create(&mut ledger, ""), "failed to unmarshal JSON");
    assert_eq!(create(&mut ledger, "[]"), "failed to unmarshal JSON");
    assert_eq!(create(&mut ledger, r#"{"size":"20"}"#), "failed to unmarshal JSON");
    assert_eq!(create(&mut ledger, r#"{"assetID":"a"}"#), "objectType field must be a non-empty string");
    assert_eq!(
        create(&mut ledger, r#"{"objectType":"t","assetID":"a","color":"c","size":0}"#),
        "size field must be a positive integer"
    );
    assert_eq!(
        create(&mut ledger, r#"{"objectType":"t","assetID":"a","color":"c","size":1,"appraisedValue":-1}"#),
        "appraisedValue field must be a positive integer"
    );
    ledger.creator = Vec::new();
    ledger.transient.clear();
    assert_eq!(err(ledger.invoke::<PrivateAsset>(&["CreateAsset"])), "asset not found in the transient map input");
    ledger.transient = [("asset_properties".to_string(), ASSET1.as_bytes().to_vec())].into();
    assert_eq!(err(ledger.invoke::<PrivateAsset>(&["CreateAsset"])), "failed to get verified MSPID");
    assert_eq!(err(call(&mut ledger, "Org1MSP", &["Frob"], &[])), "unknown function: Frob");
}

#[test]
fn agree_and_transfer() {
    let mut ledger = created();
    assert_eq!(
        err(call(
            &mut ledger,
            "Org1MSP",
            &["TransferAsset"],
            &[("asset_owner", r#"{"assetID":"asset1","buyerMSP":"Org2MSP"}"#)]
        )),
        "failed transfer verification: hash of appraised value for asset1 does not exist in collection \
         Org2MSPPrivateCollection. AgreeToTransfer must be called by the buyer first"
    );
    ok(call(&mut ledger, "Org2MSP", &["AgreeToTransfer"], &[("asset_value", VALUE1)]));
    assert_eq!(ledger.private_data("Org2MSPPrivateCollection", "asset1"), Some(VALUE1.as_bytes()));
    let key = "\u{0}transferAgreement\u{0}asset1\u{0}";
    assert_eq!(ledger.private_data(ASSET_COLLECTION, key), Some(&b"Org2MSP"[..]));
    assert_eq!(
        ok(call(&mut ledger, "Org2MSP", &["ReadTransferAgreement", "asset1"], &[])),
        r#"{"assetID":"asset1","buyerID":"Org2MSP"}"#
    );
    let transfer = [("asset_owner", r#"{"assetID":"asset1","buyerMSP":"Org2MSP"}"#)];
    assert_eq!(
        err(call(&mut ledger, "Org2MSP", &["TransferAsset"], &transfer)),
        "failed transfer verification: error: submitting client identity does not own asset"
    );
    ok(call(&mut ledger, "Org1MSP", &["TransferAsset"], &transfer));
    assert_eq!(
        ledger.private_data(ASSET_COLLECTION, "asset1"),
        Some(&br#"{"objectType":"asset","assetID":"asset1","color":"green","size":20,"owner":"Org2MSP"}"#[..])
    );
    assert_eq!(ledger.private_data("Org1MSPPrivateCollection", "asset1"), None);
    assert_eq!(ledger.private_data(ASSET_COLLECTION, key), None);
    assert_eq!(
        ledger.validation_parameter(ASSET_COLLECTION, "asset1"),
        Some(member_policy("Org2MSP").unwrap().as_slice())
    );
}

#[test]
fn different_values_do_not_transfer() {
    let mut ledger = created();
    ok(call(
        &mut ledger,
        "Org2MSP",
        &["AgreeToTransfer"],
        &[("asset_value", r#"{"assetID":"asset1","appraisedValue":99}"#)],
    ));
    let message = err(call(
        &mut ledger,
        "Org1MSP",
        &["TransferAsset"],
        &[("asset_owner", r#"{"assetID":"asset1","buyerMSP":"Org2MSP"}"#)],
    ));
    assert!(message.starts_with("failed transfer verification: hash for appraised value for owner "), "{message}");
    assert_eq!(
        err(call(
            &mut ledger,
            "Org2MSP",
            &["AgreeToTransfer"],
            &[("asset_value", r#"{"assetID":"nope","appraisedValue":1}"#)]
        )),
        "nope does not exist"
    );
    ok(call(&mut ledger, "Org2MSP", &["DeleteTranferAgreement"], &[("agreement_delete", r#"{"assetID":"asset1"}"#)]));
    assert_eq!(ledger.private_data("Org2MSPPrivateCollection", "asset1"), None);
    assert_eq!(
        err(call(
            &mut ledger,
            "Org2MSP",
            &["DeleteTranferAgreement"],
            &[("agreement_delete", r#"{"assetID":"asset1"}"#)]
        )),
        "asset's transfer_agreement does not exist: asset1"
    );
}

#[test]
fn range_delete_and_purge() {
    let mut ledger = created();
    let asset2 = r#"{"objectType":"asset","assetID":"asset2","color":"red","size":5,"appraisedValue":7}"#;
    ok(call(&mut ledger, "Org2MSP", &["CreateAsset"], &[("asset_properties", asset2)]));
    assert_eq!(
        ok(call(&mut ledger, "Org1MSP", &["GetAssetByRange", "", ""], &[])),
        concat!(
            r#"[{"objectType":"asset","assetID":"asset1","color":"green","size":20,"owner":"Org1MSP"},"#,
            r#"{"objectType":"asset","assetID":"asset2","color":"red","size":5,"owner":"Org2MSP"}]"#
        )
    );
    assert_eq!(
        err(call(&mut ledger, "Org1MSP", &["GetAssetByRange", "\u{0}a", ""], &[])),
        "first character of the key [\u{0}a] contains a null character which is not allowed"
    );
    assert_eq!(
        err(call(&mut ledger, "Org1MSP", &["DeleteAsset"], &[("asset_delete", r#"{"assetID":"asset2"}"#)])),
        "asset not found in owner's private Collection Org1MSPPrivateCollection: asset2"
    );
    ok(call(&mut ledger, "Org2MSP", &["DeleteAsset"], &[("asset_delete", r#"{"assetID":"asset2"}"#)]));
    assert_eq!(ledger.private_data(ASSET_COLLECTION, "asset2"), None);
    assert_eq!(ledger.private_data("Org2MSPPrivateCollection", "asset2"), None);
    ok(call(&mut ledger, "Org1MSP", &["PurgeAsset"], &[("asset_purge", r#"{"assetID":"asset1"}"#)]));
    assert_eq!(ledger.private_data(ASSET_COLLECTION, "asset1"), None);
    assert_eq!(ledger.private_data("Org1MSPPrivateCollection", "asset1"), None);
    assert_eq!(ok(call(&mut ledger, "Org1MSP", &["GetAssetByRange", "", ""], &[])), "[]");
}
