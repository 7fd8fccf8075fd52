//! Scenarios for the contract API: `asset-transfer` on the SDK's `#[contract]` against the same contract written with
//! Fabric's Node `fabric-contract-api` (tests/node/chaincode/asset-transfer.js). Routing, argument conversion and
//! its errors, payload formats and the metadata document come from each side's own contract layer.

use super::{Kind, Run, Scenario, Step};

fn t(args: &[&str]) -> Step {
    Step::new("asset-transfer", Kind::Submit, args)
}

fn t_eval(args: &[&str]) -> Step {
    Step::new("asset-transfer", Kind::Evaluate, args)
}

fn scenario(name: &'static str, steps: Vec<Step>, expect: fn(&Run)) -> Scenario {
    Scenario { name, steps, expect }
}

const ASSET1: &str = r#"{"AppraisedValue":300,"Color":"blue","ID":"asset1","Owner":"Tomoko","Size":5}"#;

/// `CreateAsset a blue <size> Tom <value>`.
fn create(size: &str, value: &str) -> Step {
    t(&["CreateAsset", "a", "blue", size, "Tom", value])
}

fn should_be_integer(run: &Run, i: usize) {
    assert_eq!(run.err(i), r#"Unable to validate parameter due to ["should be integer"]"#);
}

pub fn contracts() -> Vec<Scenario> {
    vec![
        scenario(
            "contract-asset-transfer-every-transaction",
            vec![
                t(&["InitLedger"]),
                t_eval(&["ReadAsset", "asset1"]),
                t(&["CreateAsset", "a9", "pink", "3", "Ada", "90"]),
                t(&["UpdateAsset", "a9", "red", "4", "Ann", "95"]),
                t_eval(&["AssetExists", "a9"]),
                t(&["TransferAsset", "asset2", "Bo"]),
                t(&["DeleteAsset", "a9"]),
                t_eval(&["AssetExists", "a9"]),
                t_eval(&["GetAllAssets"]),
            ],
            |r| {
                assert_eq!(r.ok(0), "");
                assert_eq!(r.ok(1), ASSET1);
                assert_eq!(r.ok(4), "true");
                assert_eq!(r.ok(5), "Brad");
                assert_eq!(r.ok(7), "false");
                let all = r.json(8);
                assert_eq!(all.as_array().unwrap().len(), 6);
                assert_eq!(all[1]["Owner"], "Bo");
            },
        ),
        scenario("contract-get-all-assets-empty", vec![t_eval(&["GetAllAssets"])], |r| assert_eq!(r.ok(0), "[]")),
        scenario(
            "contract-init-routes-like-invoke",
            vec![Step::new("asset-transfer", Kind::Init, &["InitLedger"])],
            |r| assert_eq!(r.ok(0), ""),
        ),
        scenario(
            "contract-routing",
            vec![
                t(&[]),
                t(&["InitLedger"]),
                t_eval(&["SmartContract:ReadAsset", "asset1"]),
                t_eval(&[":ReadAsset", "asset1"]),
                t_eval(&["Nope:ReadAsset", "asset1"]),
                t(&["Foo"]),
                t(&["SmartContract:"]),
                t(&["SmartContract:ReadAsset:x", "asset1"]),
                t(&["GetMetadata"]),
                t(&["org.hyperledger.fabric:Foo"]),
            ],
            |r| {
                assert_eq!(r.ok(0), "Default initiator successful.");
                assert_eq!((r.ok(2), r.ok(3)), (ASSET1.to_owned(), ASSET1.to_owned()));
                assert_eq!(r.err(4), "Contract name is not known: Nope");
                assert_eq!(r.err(5), "You've asked to invoke a function that does not exist: Foo");
                assert_eq!(r.err(6), "You've asked to invoke a function that does not exist: SmartContract:");
                assert_eq!(
                    r.err(7),
                    "You've asked to invoke a function that does not exist: SmartContract:ReadAsset:x"
                );
                assert_eq!(r.err(8), "You've asked to invoke a function that does not exist: GetMetadata");
                let text = "You've asked to invoke a function that does not exist: org.hyperledger.fabric:Foo";
                assert_eq!(r.err(9), text);
            },
        ),
        scenario(
            "contract-argument-counts",
            vec![
                t(&["InitLedger", "x"]),
                t_eval(&["ReadAsset"]),
                t_eval(&["ReadAsset", "a", "b"]),
                t(&["CreateAsset", "a"]),
            ],
            |r| {
                assert_eq!(r.err(0), "Expected 0 parameters, but 1 have been supplied");
                assert_eq!(r.err(1), "Expected 1 parameters, but 0 have been supplied");
                assert_eq!(r.err(2), "Expected 1 parameters, but 2 have been supplied");
                assert_eq!(r.err(3), "Expected 5 parameters, but 1 have been supplied");
            },
        ),
        scenario(
            "contract-integer-arguments-refused",
            vec![
                create("abc", "5"),
                create("", "5"),
                create("5.5", "5"),
                create("0x10", "5"),
                create("true", "5"),
                create("5", "2.5"),
            ],
            |r| (0..6).for_each(|i| should_be_integer(r, i)),
        ),
        scenario(
            "contract-integer-arguments-accepted",
            vec![
                create(" 7", "5"),
                t(&["DeleteAsset", "a"]),
                create("1e3", "5"),
                t(&["DeleteAsset", "a"]),
                create("1.0", "-3"),
                t_eval(&["ReadAsset", "a"]),
            ],
            |r| {
                let a = r.json(5);
                assert_eq!((a["Size"].as_i64(), a["AppraisedValue"].as_i64()), (Some(1), Some(-3)));
            },
        ),
        scenario(
            "contract-sample-errors",
            vec![
                t(&["InitLedger"]),
                t(&["CreateAsset", "asset1", "blue", "5", "Tom", "300"]),
                t(&["UpdateAsset", "nope", "red", "6", "Ann", "400"]),
                t(&["DeleteAsset", "nope"]),
                t(&["TransferAsset", "nope", "Ann"]),
                t_eval(&["ReadAsset", "nope"]),
            ],
            |r| {
                assert_eq!(r.err(1), "the asset asset1 already exists");
                (2..6).for_each(|i| assert_eq!(r.err(i), "the asset nope does not exist"));
            },
        ),
        scenario(
            "contract-get-metadata",
            vec![
                t_eval(&["org.hyperledger.fabric:GetMetadata"]).json_payload(),
                t_eval(&["org.hyperledger.fabric:GetMetadata", "extra"]).json_payload(),
            ],
            |r| {
                let doc = r.json(0);
                assert_eq!(doc["info"]["title"], "asset-transfer");
                let tx = &doc["contracts"]["SmartContract"]["transactions"];
                assert_eq!(tx.as_array().unwrap().len(), 8);
                assert_eq!(tx[7]["returns"]["items"]["$ref"], "#/components/schemas/Asset");
                assert_eq!(doc["components"]["schemas"]["Asset"]["$id"], "Asset");
                assert_eq!(r.json(1), doc);
            },
        ),
    ]
}
