//! Scenarios for the contract API: `asset-transfer` and `loyalty` on the SDK's `#[contract]` against the same
//! contracts written with Fabric's Node `fabric-contract-api` (tests/node/chaincode/asset-transfer.js, loyalty.js).
//! Routing, argument conversion and its errors, hooks, payload formats and the metadata document come from each
//! side's own contract layer.

use super::{Kind, Run, Scenario, Signer, Step};

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
    let mut all = asset_transfer();
    all.extend(loyalty());
    all
}

fn asset_transfer() -> Vec<Scenario> {
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

// ---- loyalty: two contracts (Points, the default, and Rewards), hooks, struct and enum parameters ------------------

fn l(args: &[&str]) -> Step {
    Step::new("loyalty", Kind::Submit, args)
}

fn l_eval(args: &[&str]) -> Step {
    Step::new("loyalty", Kind::Evaluate, args)
}

const ADA: &str = r#"{"id":"ada","name":"Ada","tier":"Gold","points":10}"#;
const BO: &str = r#"{"id":"bo","name":"Bo","tier":"Bronze","points":0}"#;
const CY: &str = r#"{"id":"cy","name":"Cy","tier":"Silver","points":1}"#;
const MUG: &str = r#"{"id":"mug","title":"A mug","cost":4,"stock":1}"#;
/// No `stock`: unlimited (`None`), stored as `null`.
const PEN: &str = r#"{"id":"pen","title":"A pen","cost":1}"#;

/// Ada (Gold, 10 points) and Bo (Bronze, 0 points) enrolled, then `more`.
fn enrolled(more: Vec<Step>) -> Vec<Step> {
    let mut steps = vec![l(&["Enroll", ADA]), l(&["Enroll", BO])];
    steps.extend(more);
    steps
}

/// The `points` event of step `i`, which Points' after hook sets with the transaction's payload.
fn points_event(run: &Run, i: usize) -> Vec<u8> {
    let e = run.results[i].event.as_ref().unwrap_or_else(|| panic!("{} step {i}: no event", run.target));
    assert_eq!(e.event_name, "points", "{} step {i}", run.target);
    e.payload.clone()
}

fn no_event(run: &Run, i: usize) {
    assert!(run.results[i].event.is_none(), "{} step {i}: unexpected event", run.target);
}

fn loyalty() -> Vec<Scenario> {
    vec![
        scenario(
            "loyalty-awards-follow-the-tier",
            enrolled(vec![
                l(&["Enroll", CY]),
                l(&["Award", "ada", "5"]),
                l(&["Points:Award", "bo", "3"]),
                l(&["Award", "cy", "2"]),
                l_eval(&["Points:Balance", "ada"]),
                l_eval(&["Balance", "cy"]),
                l(&["Enroll", ADA]),
                l(&["Award", "zz", "1"]),
                l_eval(&["Balance", "zz"]),
            ]),
            |r| {
                // Enroll answers nothing; the after hook still announces it, with the empty payload.
                assert_eq!(r.ok(0), "");
                assert_eq!(points_event(r, 0), b"");
                let ada = r#"{"id":"ada","name":"Ada","tier":"Gold","points":25}"#;
                assert_eq!(r.ok(3), ada);
                assert_eq!(points_event(r, 3), ada.as_bytes());
                assert_eq!(r.ok(4), r#"{"id":"bo","name":"Bo","tier":"Bronze","points":3}"#);
                assert_eq!(r.ok(5), r#"{"id":"cy","name":"Cy","tier":"Silver","points":5}"#);
                assert_eq!((r.ok(6), points_event(r, 6)), ("25".to_owned(), b"25".to_vec()));
                assert_eq!(r.ok(7), "5");
                assert_eq!(r.err(8), "member ada is already enrolled");
                assert_eq!(r.err(9), "no member zz");
                assert_eq!(r.err(10), "no member zz");
                (8..11).for_each(|i| no_event(r, i));
                assert!(r.results[3].is_committed() && !r.results[8].is_committed());
            },
        ),
        scenario(
            "loyalty-members-by-tier",
            enrolled(vec![
                l(&["Enroll", CY]),
                l_eval(&["Members", r#""Bronze""#]),
                l_eval(&["Members", "null"]),
                l_eval(&["Members", "Silver"]),
                l_eval(&["Points:Members", r#""Gold""#]),
                l_eval(&["Members", "Platinum"]),
                l_eval(&["Members", "5"]),
                l_eval(&["Members"]),
            ]),
            |r| {
                assert_eq!(r.ok(3), format!("[{BO}]"));
                assert_eq!(points_event(r, 3), format!("[{BO}]").into_bytes());
                // null: no tier, so every member, in key order.
                assert_eq!(r.ok(4), format!("[{ADA},{BO},{CY}]"));
                // A bare word is not JSON: it is taken as the string itself.
                assert_eq!(r.ok(5), format!("[{CY}]"));
                assert_eq!(r.ok(6), format!("[{ADA}]"));
                assert_eq!(
                    r.err(7),
                    r#"Unable to validate parameter due to ["should be equal to one of the allowed values","should be null","should match some schema in anyOf"]"#
                );
                assert_eq!(
                    r.err(8),
                    r#"Unable to validate parameter due to ["should be string","should be equal to one of the allowed values","should be null","should match some schema in anyOf"]"#
                );
                assert_eq!(r.err(9), "Expected 1 parameters, but 0 have been supplied");
                (7..10).for_each(|i| no_event(r, i));
            },
        ),
        scenario(
            "loyalty-transfers",
            enrolled(vec![
                l(&["Transfer", "ada", "bo", "4"]),
                l(&["Transfer", "bo", "ada", "5"]),
                l(&["Transfer", "bo", "ada", "-5"]),
                l(&["Transfer", "ada", "ada", "1"]),
                l(&["Transfer", "ada", "nope", "1"]),
                l(&["Transfer", "nope", "ada", "1"]),
                l(&["Transfer", "bo", "ada", "abc"]),
                l(&["Transfer", "bo", "ada", "4"]),
                l_eval(&["Balance", "bo"]),
                l_eval(&["Balance", "ada"]),
            ]),
            |r| {
                let both = r#"[{"id":"ada","name":"Ada","tier":"Gold","points":6},{"id":"bo","name":"Bo","tier":"Bronze","points":4}]"#;
                assert_eq!(r.ok(2), both);
                assert_eq!(points_event(r, 2), both.as_bytes());
                assert_eq!(r.err(3), "bo has only 4 points");
                assert_eq!(r.err(4), r#"Unable to validate parameter due to ["should be >= 0"]"#);
                assert_eq!(r.err(5), "cannot transfer to the same member");
                assert_eq!(r.err(6), "no member nope");
                assert_eq!(r.err(7), "no member nope");
                assert_eq!(r.err(8), r#"Unable to validate parameter due to ["should be integer"]"#);
                (3..9).for_each(|i| no_event(r, i));
                assert_eq!(r.json(9)[1]["points"], 10);
                assert_eq!((r.ok(10), r.ok(11)), ("0".to_owned(), "10".to_owned()));
            },
        ),
        scenario(
            "loyalty-rewards-redeemed-until-out-of-stock",
            enrolled(vec![
                l(&["Rewards:AddReward", MUG]),
                l(&["Rewards:Redeem", "ada", "mug"]),
                l(&["Rewards:Redeem", "ada", "mug"]),
                l(&["Rewards:AddReward", PEN]),
                l(&["Rewards:Redeem", "bo", "pen"]),
                l(&["Rewards:Redeem", "ada", "pen"]),
                l(&["Rewards:Redeem", "ada", "nope"]),
                l(&["Rewards:Redeem", "zz", "mug"]),
                l_eval(&["Rewards:ListRewards"]),
                l_eval(&["Balance", "ada"]),
            ]),
            |r| {
                assert_eq!(r.ok(2), "");
                assert_eq!(r.ok(3), r#"{"member":"ada","reward":"mug","points_left":6}"#);
                assert_eq!(r.err(4), "A mug is out of stock");
                assert_eq!(r.ok(5), "");
                assert_eq!(r.err(6), "A pen needs 1 points, bo has 0");
                assert_eq!(r.ok(7), r#"{"member":"ada","reward":"pen","points_left":5}"#);
                assert_eq!(r.err(8), "no reward nope");
                assert_eq!(r.err(9), "no member zz");
                assert_eq!(
                    r.ok(10),
                    r#"[{"id":"mug","title":"A mug","cost":4,"stock":0},{"id":"pen","title":"A pen","cost":1,"stock":null}]"#
                );
                assert_eq!(r.ok(11), "5");
                // Rewards has no after hook: nothing is announced.
                (2..11).for_each(|i| no_event(r, i));
            },
        ),
        scenario(
            "loyalty-hooks-guard-both-contracts",
            enrolled(vec![
                l_eval(&["Balance", "ada"]).signer(Signer::Org2),
                l(&["Points:Award", "ada", "1"]).signer(Signer::Org2),
                l(&["Transfer", "bo", "ada", "-5"]).signer(Signer::Org2),
                l(&["Rewards:AddReward", PEN]).signer(Signer::Org2),
                l_eval(&["Rewards:ListRewards"]).signer(Signer::Org2),
                l(&["Rewards:Redeem", "ada", "nope"]).signer(Signer::Org2),
                l(&["Rewards:AddReward", PEN]),
                l(&["Rewards:Redeem", "ada", "pen"]).signer(Signer::Org2),
                l_eval(&["Balance", "ada"]),
            ]),
            |r| {
                let refused = "Org2MSP is not part of the loyalty scheme";
                assert_eq!((r.err(2), r.err(3)), (refused.to_owned(), refused.to_owned()));
                // The arguments are converted and checked before the before hook runs.
                assert_eq!(r.err(4), r#"Unable to validate parameter due to ["should be >= 0"]"#);
                // Rewards has no before hook: Org2 reaches its functions, but only an auditor adds rewards.
                assert_eq!(r.err(5), "only an auditor adds rewards");
                assert_eq!(r.ok(6), "[]");
                assert_eq!(r.err(7), "no reward nope");
                assert_eq!(r.ok(8), "");
                assert_eq!(r.ok(9), r#"{"member":"ada","reward":"pen","points_left":9}"#);
                assert_eq!(r.ok(10), "9");
                (2..6).for_each(|i| no_event(r, i));
            },
        ),
        scenario(
            "loyalty-unknown-functions",
            vec![
                l(&["Points:Spend"]).signer(Signer::Org2),
                l(&["Spend", "x"]),
                l(&["Rewards:Spend"]),
                l(&["Nope:Spend"]),
                l(&["Points:"]),
                l(&["GetMetadata"]),
            ],
            |r| {
                let hint = |f: &str| format!("Points has no transaction {f}; see org.hyperledger.fabric:GetMetadata");
                // The unknown hook runs without the before hook: Org2 gets the hint, not a refusal.
                assert_eq!(r.err(0), hint("Points:Spend"));
                assert_eq!(r.err(1), hint("Spend"));
                assert_eq!(r.err(2), "You've asked to invoke a function that does not exist: Rewards:Spend");
                assert_eq!(r.err(3), "Contract name is not known: Nope");
                assert_eq!(r.err(4), hint("Points:"));
                assert_eq!(r.err(5), hint("GetMetadata"));
                (0..6).for_each(|i| no_event(r, i));
            },
        ),
        scenario(
            "loyalty-bad-members",
            vec![
                l(&["Enroll", r#"{"id":"cy","name":"Cy","tier":"Platinum","points":0}"#]),
                l(&["Enroll", r#"{"id":"cy"}"#]),
                l(&["Enroll", r#"{"id":5,"tier":"Platinum"}"#]),
                l(&["Enroll", r#"{"id":"cy","name":"Cy","tier":"Gold","points":-1}"#]),
                l(&["Enroll", r#"{"id":"cy","name":"Cy","tier":"Gold","points":"3"}"#]),
                l(&["Enroll", CY, "x"]),
                l(&["Rewards:AddReward", r#"{"id":"pen","title":"A pen","cost":1,"stock":-1}"#]),
                l(&["Award", "cy", "abc"]),
                // Extra members are dropped and the document is stored in field order.
                l(&["Enroll", r#"{"points":3,"extra":true,"tier":"Silver","name":"Cy","id":"cy"}"#]),
                l_eval(&["Members", "null"]),
            ],
            |r| {
                let invalid = |errors: &str| format!("Unable to validate parameter due to [{errors}]");
                assert_eq!(r.err(0), invalid(r#""should be equal to one of the allowed values""#));
                assert_eq!(
                    r.err(1),
                    invalid(
                        r#""should have required property 'name'","should have required property 'points'","should have required property 'tier'""#
                    )
                );
                assert_eq!(
                    r.err(2),
                    invalid(
                        r#""should be string","should have required property 'name'","should have required property 'points'","should be equal to one of the allowed values""#
                    )
                );
                assert_eq!(r.err(3), invalid(r#""should be >= 0""#));
                assert_eq!(r.err(4), invalid(r#""should be integer""#));
                assert_eq!(r.err(5), "Expected 1 parameters, but 2 have been supplied");
                assert_eq!(r.err(6), invalid(r#""should be >= 0""#));
                assert_eq!(r.err(7), invalid(r#""should be integer""#));
                assert_eq!(r.ok(8), "");
                assert_eq!(r.ok(9), r#"[{"id":"cy","name":"Cy","tier":"Silver","points":3}]"#);
            },
        ),
        scenario("loyalty-get-metadata", vec![l_eval(&["org.hyperledger.fabric:GetMetadata"]).json_payload()], |r| {
            use serde_json::json;
            let doc = r.json(0);
            assert_eq!(doc["info"], json!({"title": "loyalty", "version": "0.1.0"}));
            let points = &doc["contracts"]["Points"];
            assert_eq!(points["info"], json!({"name": "Points", "title": "Loyalty points", "version": "1.0.0"}));
            assert_eq!(points["contractInstance"], json!({"name": "Points", "default": true}));
            let names = |c: &serde_json::Value| -> Vec<String> {
                c["transactions"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
            };
            assert_eq!(names(points), ["Enroll", "Award", "Transfer", "Balance", "Members"]);
            let tx = &points["transactions"];
            assert_eq!(tx[0]["tag"], json!(["SUBMIT", "submitTx"]));
            assert_eq!(tx[0]["parameters"][0]["schema"], json!({"$ref": "#/components/schemas/Member"}));
            assert!(tx[0].get("returns").is_none());
            assert_eq!(tx[1]["parameters"][0]["name"], "memberId");
            assert_eq!(tx[1]["parameters"][1]["schema"], json!({"type": "integer", "minimum": 0}));
            assert_eq!(tx[2]["returns"], json!({"type": "array", "items": {"$ref": "#/components/schemas/Member"}}));
            assert_eq!(tx[3]["tag"], json!(["EVALUATE"]));
            assert_eq!(tx[3]["returns"], json!({"type": "integer", "minimum": 0}));
            let tier = json!({"anyOf": [{"$ref": "#/components/schemas/Tier"}, {"type": "null"}]});
            assert_eq!(tx[4]["parameters"][0], json!({"name": "tier", "description": "", "schema": tier}));
            let rewards = &doc["contracts"]["Rewards"];
            assert_eq!(rewards["info"], json!({"title": "", "version": ""}));
            assert_eq!(rewards["contractInstance"], json!({"name": "Rewards"}));
            assert_eq!(names(rewards), ["AddReward", "Redeem", "ListRewards"]);
            assert_eq!(rewards["transactions"][1]["returns"], json!({"$ref": "#/components/schemas/Redemption"}));
            assert_eq!(rewards["transactions"][2]["parameters"], json!([]));
            let schemas = &doc["components"]["schemas"];
            let mut kinds: Vec<&String> = schemas.as_object().unwrap().keys().collect();
            kinds.sort();
            assert_eq!(kinds, ["Member", "Redemption", "Reward", "Tier"]);
            assert_eq!(schemas["Tier"]["enum"], json!(["Bronze", "Silver", "Gold"]));
            assert_eq!(schemas["Tier"]["$id"], "Tier");
            assert_eq!(schemas["Member"]["properties"]["tier"], json!({"$ref": "Tier"}));
            assert_eq!(schemas["Member"]["required"], json!(["id", "name", "tier", "points"]));
            assert_eq!(schemas["Reward"]["properties"]["stock"]["type"], json!(["integer", "null"]));
            assert_eq!(schemas["Reward"]["required"], json!(["id", "title", "cost"]));
            assert_eq!(schemas["Redemption"]["properties"]["points_left"]["minimum"], 0);
        }),
    ]
}
