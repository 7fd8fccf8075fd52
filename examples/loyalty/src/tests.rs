use wasmcc_sdk::mock::{MockLedger, TestIdentity};

use super::*;

const ADA: &str = r#"{"id":"ada","name":"Ada","tier":"Gold","points":10}"#;
const BO: &str = r#"{"id":"bo","name":"Bo","tier":"Bronze","points":0}"#;

fn ledger() -> MockLedger {
    let mut ledger = MockLedger::new();
    ledger.set_identity(&TestIdentity::new(SCHEME_MSP, "clerk").attribute("role", "auditor"));
    for member in [ADA, BO] {
        assert_eq!(ledger.invoke::<Loyalty>(&["Enroll", member]).status, 200);
    }
    ledger
}

fn ok(ledger: &mut MockLedger, args: &[&str]) -> String {
    let r = ledger.invoke::<Loyalty>(args);
    assert_eq!(r.status, 200, "{args:?}: {}", r.message);
    String::from_utf8(r.payload).unwrap()
}

fn err(ledger: &mut MockLedger, args: &[&str]) -> String {
    let r = ledger.invoke::<Loyalty>(args);
    assert_eq!(r.status, 500, "{args:?} should fail");
    r.message
}

#[test]
fn awards_follow_the_tier_and_are_announced() {
    let mut ledger = ledger();
    let ada = ok(&mut ledger, &["Award", "ada", "5"]);
    assert_eq!(ada, r#"{"id":"ada","name":"Ada","tier":"Gold","points":25}"#);
    assert_eq!(ledger.last_event(), Some(("points", ada.as_bytes())));
    assert_eq!(ok(&mut ledger, &["Points:Balance", "ada"]), "25");
    assert_eq!(ok(&mut ledger, &["Members", r#""Bronze""#]), format!("[{BO}]"));
    assert_eq!(ok(&mut ledger, &["Members", "null"]).matches("\"id\"").count(), 2);
}

#[test]
fn transfers_move_points_and_refuse_overdrafts() {
    let mut ledger = ledger();
    let both = ok(&mut ledger, &["Transfer", "ada", "bo", "4"]);
    assert!(both.starts_with(r#"[{"id":"ada","name":"Ada","tier":"Gold","points":6},"#), "{both}");
    assert_eq!(err(&mut ledger, &["Transfer", "bo", "ada", "5"]), "bo has only 4 points");
    assert_eq!(
        err(&mut ledger, &["Transfer", "bo", "ada", "-5"]),
        r#"Unable to validate parameter due to ["should be >= 0"]"#
    );
}

#[test]
fn rewards_are_redeemed_until_out_of_stock() {
    let mut ledger = ledger();
    ok(&mut ledger, &["Rewards:AddReward", r#"{"id":"mug","title":"A mug","cost":4,"stock":1}"#]);
    let r = ok(&mut ledger, &["Rewards:Redeem", "ada", "mug"]);
    assert_eq!(r, r#"{"member":"ada","reward":"mug","points_left":6}"#);
    assert_eq!(err(&mut ledger, &["Rewards:Redeem", "ada", "mug"]), "A mug is out of stock");
    assert_eq!(ok(&mut ledger, &["Rewards:ListRewards"]), r#"[{"id":"mug","title":"A mug","cost":4,"stock":0}]"#);
}

#[test]
fn hooks_guard_both_contracts() {
    let mut ledger = ledger();
    ledger.set_identity(&TestIdentity::new("Org2MSP", "stranger"));
    assert_eq!(err(&mut ledger, &["Balance", "ada"]), "Org2MSP is not part of the loyalty scheme");
    let reward = r#"{"id":"pen","title":"A pen","cost":1,"stock":null}"#;
    assert_eq!(err(&mut ledger, &["Rewards:AddReward", reward]), "only an auditor adds rewards");
    let unknown = "Points has no transaction Points:Spend; see org.hyperledger.fabric:GetMetadata";
    assert_eq!(err(&mut ledger, &["Points:Spend"]), unknown);
}

#[test]
fn typed_arguments_are_validated_against_their_schemas() {
    let mut ledger = ledger();
    let platinum = r#"{"id":"cy","name":"Cy","tier":"Platinum","points":0}"#;
    assert_eq!(
        err(&mut ledger, &["Enroll", platinum]),
        r#"Unable to validate parameter due to ["should be equal to one of the allowed values"]"#
    );
    assert_eq!(
        err(&mut ledger, &["Enroll", r#"{"id":"cy"}"#]),
        r#"Unable to validate parameter due to ["should have required property 'name'","should have required property 'points'","should have required property 'tier'"]"#
    );
    assert_eq!(err(&mut ledger, &["Members", "Platinum"]).matches("should").count(), 3);
}

#[test]
fn metadata_describes_both_contracts_and_their_types() {
    let mut ledger = ledger();
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&mut ledger, &["org.hyperledger.fabric:GetMetadata"])).unwrap();
    assert_eq!(doc["contracts"]["Points"]["info"]["title"], "Loyalty points");
    assert_eq!(doc["contracts"]["Rewards"]["transactions"][1]["name"], "Redeem");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Tier"]["enum"], serde_json::json!(["Bronze", "Silver", "Gold"]));
    assert_eq!(schemas["Member"]["properties"]["tier"], serde_json::json!({ "$ref": "Tier" }));
    assert_eq!(schemas["Reward"]["properties"]["stock"]["type"], serde_json::json!(["integer", "null"]));
}
