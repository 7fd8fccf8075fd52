//! The contract layer on the mock ledger: routing, conversion, hooks and metadata.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::mock::MockLedger;
use crate::{contract, Context, Response};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Parcel {
    pub id: String,
    pub weight: u16,
    pub fragile: bool,
    pub colour: Option<Colour>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Colour {
    Red,
    Green,
}

pub struct Depot;

#[contract(name = "Depot", title = "Parcels", version = "2.1.0")]
impl Depot {
    #[transaction]
    pub fn store(ctx: &mut Context, parcel: Parcel) -> Result<(), String> {
        let json = serde_json::to_vec(&parcel).map_err(|e| e.to_string())?;
        Ok(ctx.stub().put_state(&parcel.id, &json)?)
    }

    #[transaction(evaluate)]
    pub fn fetch(ctx: &mut Context, id: String) -> Result<Parcel, String> {
        let bytes = ctx.stub().get_state(&id)?.ok_or_else(|| format!("no parcel {id}"))?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    #[transaction(evaluate, name = "Weigh")]
    pub fn total_weight(_ctx: &mut Context, weights: Vec<u16>, factor: f64) -> f64 {
        weights.iter().map(|w| f64::from(*w)).sum::<f64>() * factor
    }

    #[transaction(evaluate)]
    pub fn is_heavy(_ctx: &mut Context, weight: i64, strict: bool) -> bool {
        weight > 100 || (strict && weight > 50)
    }

    #[transaction(evaluate)]
    pub fn caller(ctx: &mut Context) -> Result<String, String> {
        Ok(ctx.client_identity()?.msp_id().to_owned())
    }

    #[transaction(evaluate)]
    pub fn secret(ctx: &mut Context) -> Option<String> {
        ctx.transient().get("secret").map(|s| String::from_utf8_lossy(s).into_owned())
    }
}

/// A second contract, the default one, with every hook.
pub struct Counter;

#[contract(default)]
impl Counter {
    #[transaction]
    pub fn bump(ctx: &mut Context, by: u32) -> Result<u32, String> {
        let now = read(ctx)? + by;
        ctx.stub().put_state("count", now.to_string().as_bytes())?;
        Ok(now)
    }

    #[before_transaction]
    fn before(ctx: &mut Context) -> Result<(), String> {
        if ctx.transient().contains_key("deny") {
            return Err("denied by the before hook".into());
        }
        let function = ctx.function().to_owned();
        Ok(ctx.stub().set_event("before", function.as_bytes())?)
    }

    #[after_transaction]
    fn after(ctx: &mut Context, payload: &[u8]) -> Result<(), crate::Error> {
        ctx.stub().put_state("last-payload", payload)
    }

    #[unknown_transaction]
    fn unknown(ctx: &mut Context) -> Result<(), String> {
        Err(format!("Counter has no {}", ctx.function()))
    }
}

fn read(ctx: &mut Context) -> Result<u32, String> {
    let bytes = ctx.stub().get_state("count")?.unwrap_or_else(|| b"0".to_vec());
    String::from_utf8_lossy(&bytes).parse().map_err(|_| "corrupt count".to_owned())
}

crate::chaincode!(pub TwoContracts = [Depot, Counter]);

fn call(ledger: &mut MockLedger, args: &[&str]) -> Response {
    ledger.invoke::<TwoContracts>(args)
}

fn error(ledger: &mut MockLedger, args: &[&str]) -> String {
    let r = call(ledger, args);
    assert_eq!(r.status, 500, "{args:?} should fail: {r:?}");
    r.message
}

#[test]
fn bare_names_go_to_the_default_contract_and_prefixed_names_to_theirs() {
    let mut ledger = MockLedger::new();
    assert_eq!(call(&mut ledger, &["Bump", "2"]).payload, b"2");
    assert_eq!(call(&mut ledger, &["Counter:Bump", "3"]).payload, b"5");
    assert_eq!(call(&mut ledger, &[":Bump", "1"]).payload, b"6");
    let parcel = r#"{"id":"p1","weight":7,"fragile":true,"colour":"Red"}"#;
    assert_eq!(call(&mut ledger, &["Depot:Store", parcel]).status, 200);
    assert_eq!(call(&mut ledger, &["Depot:Fetch", "p1"]).payload, parcel.as_bytes());
    assert_eq!(error(&mut ledger, &["Nope:Fetch", "p1"]), "Contract name is not known: Nope");
    assert_eq!(
        error(&mut ledger, &["Depot:Nope"]),
        "You've asked to invoke a function that does not exist: Depot:Nope"
    );
    assert_eq!(error(&mut ledger, &["Fetch", "p1"]), "Counter has no Fetch");
    let none = call(&mut ledger, &[]);
    assert_eq!((none.status, none.payload.as_slice()), (200, &b"Default initiator successful."[..]));
}

#[test]
fn init_routes_like_invoke() {
    let mut ledger = MockLedger::new();
    assert_eq!(ledger.init::<TwoContracts>(&["Bump", "4"]).payload, b"4");
}

#[test]
fn returns_are_written_as_the_node_serializer_writes_them() {
    let mut ledger = MockLedger::new();
    assert_eq!(call(&mut ledger, &["Depot:Weigh", "[1,2,3]", "1.5"]).payload, b"9");
    assert_eq!(call(&mut ledger, &["Depot:Weigh", "[1]", "0.25"]).payload, b"0.25");
    assert_eq!(call(&mut ledger, &["Depot:IsHeavy", "60", " TRUE "]).payload, b"true");
    assert_eq!(call(&mut ledger, &["Depot:IsHeavy", "1e3", "false"]).payload, b"true");
    assert_eq!(call(&mut ledger, &["Depot:Secret"]).payload, b"", "None is an empty payload");
}

#[test]
fn arguments_are_counted_converted_and_validated_with_fabric_contract_api_texts() {
    let mut ledger = MockLedger::new();
    let cases: &[(&[&str], &str)] = &[
        (&["Bump"], "Expected 1 parameters, but 0 have been supplied"),
        (&["Bump", "1", "2"], "Expected 1 parameters, but 2 have been supplied"),
        (&["Bump", "-1"], r#"Unable to validate parameter due to ["should be >= 0"]"#),
        (&["Bump", "abc"], r#"Unable to validate parameter due to ["should be integer"]"#),
        (&["Bump", "1.5"], r#"Unable to validate parameter due to ["should be integer"]"#),
        (&["Depot:IsHeavy", "1", "maybe"], "fromBuffer could not convert data to boolean"),
        (&["Depot:Weigh", "[1]", "x"], "fromBuffer could not convert data to number"),
        (&["Depot:Weigh", "[1,-1]", "1"], r#"Unable to validate parameter due to ["should be >= 0"]"#),
        (
            &["Depot:Store", r#"{"id":5,"weight":1}"#],
            r#"Unable to validate parameter due to ["should have required property 'fragile'","should be string"]"#,
        ),
        (
            &["Depot:Store", r#"{"id":"a","weight":1,"fragile":false,"colour":"Blue"}"#],
            r#"Unable to validate parameter due to ["should be equal to one of the allowed values","should be null","should match some schema in anyOf"]"#,
        ),
    ];
    for (args, expected) in cases {
        assert_eq!(error(&mut ledger, args), *expected, "{args:?}");
    }
    assert!(error(&mut ledger, &["Depot:Store", "not json"]).contains("expected"), "a JSON syntax error");
}

#[test]
fn hooks_run_around_the_transaction_and_can_refuse_it() {
    let mut ledger = MockLedger::new();
    assert_eq!(call(&mut ledger, &["Bump", "7"]).status, 200);
    assert_eq!(ledger.last_event(), Some(("before", &b"Bump"[..])));
    assert_eq!(ledger.state("last-payload"), Some(&b"7"[..]));
    // Conversion comes before the hook, as in fabric-contract-api.
    assert_eq!(error(&mut ledger, &["Bump", "x"]), r#"Unable to validate parameter due to ["should be integer"]"#);
}

#[test]
fn get_metadata_describes_every_contract_transaction_and_type() {
    let mut ledger = MockLedger::new();
    let r = call(&mut ledger, &["org.hyperledger.fabric:GetMetadata"]);
    assert_eq!(r.status, 200, "{r:?}");
    let doc: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(doc["$schema"], "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json");
    assert_eq!(doc["info"], json!({ "title": "wasmcc-sdk", "version": env!("CARGO_PKG_VERSION") }));
    let contracts = doc["contracts"].as_object().unwrap();
    assert_eq!(contracts.keys().collect::<Vec<_>>(), ["Counter", "Depot", "org.hyperledger.fabric"]);
    assert_eq!(doc["contracts"]["Counter"]["contractInstance"], json!({ "name": "Counter", "default": true }));
    assert_eq!(doc["contracts"]["Depot"]["contractInstance"], json!({ "name": "Depot" }));
    assert_eq!(doc["contracts"]["Depot"]["info"], json!({ "name": "Depot", "title": "Parcels", "version": "2.1.0" }));
    assert_eq!(doc["contracts"]["Counter"]["info"], json!({ "title": "", "version": "" }));
    let depot = &doc["contracts"]["Depot"]["transactions"];
    assert_eq!(
        depot[2],
        json!({
            "name": "Weigh",
            "tag": ["EVALUATE"],
            "parameters": [
                { "name": "weights", "description": "", "schema": { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 65535 } } },
                { "name": "factor", "description": "", "schema": { "type": "number" } },
            ],
            "returns": { "type": "number" },
        })
    );
    assert_eq!(depot[0]["tag"], json!(["SUBMIT", "submitTx"]));
    assert_eq!(depot[0]["parameters"][0]["schema"], json!({ "$ref": "#/components/schemas/Parcel" }));
    assert_eq!(depot[0].get("returns"), None, "Result<(), _> returns nothing");
    assert_eq!(depot[1]["returns"], json!({ "$ref": "#/components/schemas/Parcel" }));
    let parcel = &doc["components"]["schemas"]["Parcel"];
    assert_eq!(parcel["$id"], "Parcel");
    assert_eq!(parcel["required"], json!(["id", "weight", "fragile"]));
    assert_eq!(doc["components"]["schemas"]["Colour"]["enum"], json!(["Red", "Green"]));
    assert_eq!(
        doc["contracts"]["org.hyperledger.fabric"],
        json!({
            "name": "org.hyperledger.fabric",
            "contractInstance": { "name": "org.hyperledger.fabric" },
            "transactions": [{ "name": "GetMetadata" }],
            "info": { "title": "", "version": "" },
        })
    );
    let unknown = error(&mut ledger, &["org.hyperledger.fabric:Nope"]);
    assert_eq!(unknown, "You've asked to invoke a function that does not exist: org.hyperledger.fabric:Nope");
}

#[test]
fn transient_data_and_the_caller_reach_the_context() {
    let mut ledger = MockLedger::new();
    ledger.transient.insert("secret".into(), b"shh".to_vec());
    assert_eq!(call(&mut ledger, &["Depot:Secret"]).payload, b"shh");
    ledger.set_identity(&crate::mock::TestIdentity::new("Org7MSP", "ada"));
    assert_eq!(call(&mut ledger, &["Depot:Caller"]).payload, b"Org7MSP");
    // A hook reads the transient map too: this one refuses the transaction.
    ledger.transient.insert("deny".into(), Vec::new());
    assert_eq!(error(&mut ledger, &["Bump", "1"]), "denied by the before hook");
    assert_eq!(ledger.state("count"), None, "a refused transaction writes nothing");
}
