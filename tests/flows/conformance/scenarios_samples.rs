//! Scenarios for the fabric-samples chaincodes: `marbles` and `private-asset` (docs/conformance.md).

use super::{Kind, Run, Scenario, Signer, Step};

fn m(args: &[&str]) -> Step {
    Step::new("marbles", Kind::Submit, args)
}

fn m_eval(args: &[&str]) -> Step {
    Step::new("marbles", Kind::Evaluate, args)
}

fn a(args: &[&str]) -> Step {
    Step::new("private-asset", Kind::Submit, args)
}

fn a_eval(args: &[&str]) -> Step {
    Step::new("private-asset", Kind::Evaluate, args)
}

fn scenario(name: &'static str, steps: Vec<Step>, expect: fn(&Run)) -> Scenario {
    Scenario { name, steps, expect }
}

const A1: &str = r#"{"objectType":"asset","assetID":"a1","color":"green","size":20,"appraisedValue":100}"#;
const A1_VALUE: &str = r#"{"assetID":"a1","appraisedValue":100}"#;

fn create_a1() -> Step {
    a(&["CreateAsset"]).transient("asset_properties", A1)
}

fn three_marbles() -> Vec<Step> {
    vec![
        m(&["initMarble", "m1", "blue", "35", "tom"]),
        m(&["initMarble", "m2", "blue", "50", "tom"]),
        m(&["initMarble", "m3", "red", "10", "ann"]),
    ]
}

fn with(mut steps: Vec<Step>, more: Vec<Step>) -> Vec<Step> {
    steps.extend(more);
    steps
}

fn record_keys(run: &Run, i: usize) -> Vec<String> {
    let v = run.json(i);
    let items = if v.is_array() { v } else { v["Results"].clone() };
    items.as_array().unwrap().iter().map(|r| r["Key"].as_str().unwrap().to_owned()).collect()
}

pub fn samples() -> Vec<Scenario> {
    let mut all = marbles();
    all.extend(private_asset());
    all
}

fn marbles() -> Vec<Scenario> {
    vec![
        scenario(
            "marbles-init-and-read",
            vec![m(&["initMarble", "m1", "Blue", "35", "Tom"]), m_eval(&["readMarble", "m1"])],
            |r| {
                assert_eq!(r.ok(1), r#"{"docType":"marble","name":"m1","color":"blue","size":35,"owner":"tom"}"#);
                assert!(r.results[0].is_committed());
            },
        ),
        scenario(
            "marbles-duplicate",
            vec![m(&["initMarble", "m1", "blue", "35", "tom"]), m(&["initMarble", "m1", "red", "1", "x"])],
            |r| {
                assert_eq!(r.err(1), "This marble already exists: m1");
            },
        ),
        scenario(
            "marbles-bad-arguments",
            vec![
                m(&["initMarble", "m1", "blue", "big", "tom"]),
                m(&["initMarble", "m1"]),
                m_eval(&["readMarble", "nosuch"]),
            ],
            |r| {
                assert_eq!(r.err(0), "3rd argument must be a numeric string");
                assert_eq!(r.err(1), "Incorrect number of arguments. Expecting 4");
                assert_eq!(r.err(2), r#"{"Error":"Marble does not exist: nosuch"}"#);
            },
        ),
        scenario(
            "marbles-transfer",
            vec![
                m(&["initMarble", "m1", "blue", "35", "tom"]),
                m(&["transferMarble", "m1", "Jerry"]),
                m_eval(&["readMarble", "m1"]),
            ],
            |r| {
                assert!(r.ok(2).contains(r#""owner":"jerry""#));
            },
        ),
        scenario(
            "marbles-transfer-by-color",
            with(
                three_marbles(),
                vec![
                    m(&["transferMarblesBasedOnColor", "blue", "jerry"]),
                    m_eval(&["readMarble", "m2"]),
                    m_eval(&["readMarble", "m3"]),
                ],
            ),
            |r| {
                assert_eq!(r.ok(3), "Transferred 2 blue marbles to jerry");
                assert!(r.ok(4).contains("jerry"));
                assert!(r.ok(5).contains("ann"));
            },
        ),
        scenario(
            "marbles-delete",
            with(
                three_marbles(),
                vec![
                    m(&["delete", "m1"]),
                    m_eval(&["readMarble", "m1"]),
                    m(&["transferMarblesBasedOnColor", "blue", "x"]),
                ],
            ),
            |r| {
                r.ok(3);
                assert!(r.err(4).contains("does not exist"));
                assert_eq!(r.ok(5), "Transferred 1 blue marbles to x", "the index entry went with the marble");
            },
        ),
        scenario("marbles-range", with(three_marbles(), vec![m_eval(&["getMarblesByRange", "m1", "m3"])]), |r| {
            assert_eq!(record_keys(r, 3), ["m1", "m2"]);
            assert!(r.ok(3).starts_with(r#"[{"Key":"m1","Record":{"docType":"marble""#));
        }),
        scenario(
            "marbles-range-pagination",
            with(
                three_marbles(),
                vec![
                    m_eval(&["getMarblesByRangeWithPagination", "m1", "", "2", ""]),
                    m_eval(&["getMarblesByRangeWithPagination", "m1", "", "2", "m3"]),
                ],
            ),
            |r| {
                let page = r.json(3);
                assert_eq!(page["ResponseMetadata"]["RecordsCount"], 2);
                assert_eq!(page["ResponseMetadata"]["Bookmark"], "m3");
                assert_eq!(record_keys(r, 4), ["m3"]);
            },
        ),
        scenario("marbles-query-by-owner", with(three_marbles(), vec![m_eval(&["queryMarblesByOwner", "TOM"])]), |r| {
            assert_eq!(record_keys(r, 3), ["m1", "m2"]);
        }),
        scenario(
            "marbles-rich-query",
            with(
                three_marbles(),
                vec![m_eval(&[
                    "queryMarbles",
                    r#"{"selector":{"docType":"marble","size":{"$lt":40}},"sort":[{"size":"asc"}],"fields":["name","size"]}"#,
                ])],
            ),
            |r| {
                assert_eq!(
                    r.json(3),
                    serde_json::json!([
                        {"Key": "m3", "Record": {"name": "m3", "size": 10}},
                        {"Key": "m1", "Record": {"name": "m1", "size": 35}},
                    ])
                );
            },
        ),
        scenario(
            "marbles-rich-query-pagination",
            with(
                three_marbles(),
                vec![m_eval(&["queryMarblesWithPagination", r#"{"selector":{"docType":"marble"}}"#, "2", ""])],
            ),
            |r| {
                let page = r.json(3);
                assert_eq!(page["ResponseMetadata"]["RecordsCount"], 2);
                assert_eq!(page["Results"].as_array().unwrap().len(), 2);
            },
        ),
        scenario(
            "marbles-history",
            vec![
                m(&["initMarble", "m1", "blue", "35", "tom"]),
                m(&["transferMarble", "m1", "jerry"]),
                m(&["delete", "m1"]),
                m_eval(&["getHistoryForMarble", "m1"]),
            ],
            |r| {
                let h = r.json(3);
                let h = h.as_array().unwrap();
                assert_eq!(h.len(), 3);
                assert_eq!(h.iter().filter(|e| e["IsDelete"] == "true").count(), 1);
                let txids: Vec<&str> = h.iter().map(|e| e["TxId"].as_str().unwrap()).collect();
                assert!(txids.contains(&"marbles-history-0") && txids.contains(&"marbles-history-2"), "{txids:?}");
            },
        ),
    ]
}

fn private_asset() -> Vec<Scenario> {
    vec![
        scenario(
            "asset-create-and-read",
            vec![
                create_a1(),
                a_eval(&["ReadAsset", "a1"]),
                a_eval(&["ReadAssetPrivateDetails", "Org1MSPPrivateCollection", "a1"]),
            ],
            |r| {
                r.ok(0);
                assert_eq!(
                    r.ok(1),
                    r#"{"objectType":"asset","assetID":"a1","color":"green","size":20,"owner":"Org1MSP"}"#
                );
                assert_eq!(r.ok(2), A1_VALUE);
                assert!(r.results[0].is_committed());
            },
        ),
        scenario("asset-create-needs-transient", vec![a(&["CreateAsset"]), create_a1(), create_a1()], |r| {
            assert_eq!(r.err(0), "asset not found in the transient map input");
            assert_eq!(r.err(2), "this asset already exists: a1");
        }),
        scenario(
            "asset-transfer-flow",
            vec![
                create_a1(),
                a(&["AgreeToTransfer"]).transient("asset_value", A1_VALUE).signer(Signer::Org2),
                a_eval(&["ReadTransferAgreement", "a1"]),
                a(&["TransferAsset"]).transient("asset_owner", r#"{"assetID":"a1","buyerMSP":"Org2MSP"}"#),
                a_eval(&["ReadAsset", "a1"]),
            ],
            |r| {
                assert_eq!(r.ok(2), r#"{"assetID":"a1","buyerID":"Org2MSP"}"#);
                r.ok(3);
                assert!(r.ok(4).contains(r#""owner":"Org2MSP""#));
            },
        ),
        scenario(
            "asset-transfer-with-other-price-is-refused",
            vec![
                create_a1(),
                a(&["AgreeToTransfer"])
                    .transient("asset_value", r#"{"assetID":"a1","appraisedValue":99}"#)
                    .signer(Signer::Org2),
                a(&["TransferAsset"]).transient("asset_owner", r#"{"assetID":"a1","buyerMSP":"Org2MSP"}"#),
            ],
            |r| {
                assert!(r.err(2).starts_with("failed transfer verification: hash for appraised value"), "{}", r.err(2));
            },
        ),
        scenario(
            "asset-transfer-by-non-owner-is-refused",
            vec![
                create_a1(),
                a(&["TransferAsset"])
                    .transient("asset_owner", r#"{"assetID":"a1","buyerMSP":"Org2MSP"}"#)
                    .signer(Signer::Org2),
            ],
            |r| {
                assert_eq!(
                    r.err(1),
                    "failed transfer verification: error: submitting client identity does not own asset"
                );
            },
        ),
        scenario(
            "asset-delete",
            vec![
                create_a1(),
                a(&["DeleteAsset"]).transient("asset_delete", r#"{"assetID":"a1"}"#),
                a_eval(&["ReadAsset", "a1"]),
            ],
            |r| {
                r.ok(1);
                assert_eq!(r.ok(2), "");
            },
        ),
        scenario(
            "asset-purge",
            vec![
                create_a1(),
                a(&["PurgeAsset"]).transient("asset_purge", r#"{"assetID":"a1"}"#),
                a_eval(&["ReadAsset", "a1"]),
            ],
            |r| {
                r.ok(1);
                assert_eq!(r.ok(2), "");
            },
        ),
        scenario(
            "asset-range",
            vec![
                create_a1(),
                a(&["CreateAsset"]).transient(
                    "asset_properties",
                    r#"{"objectType":"asset","assetID":"a2","color":"red","size":5,"appraisedValue":7}"#,
                ),
                a_eval(&["GetAssetByRange", "", ""]),
                a_eval(&["GetAssetByRange", "\u{0}x", ""]),
            ],
            |r| {
                let all = r.json(2);
                assert_eq!(all.as_array().unwrap().len(), 2);
                assert!(r.err(3).contains("null character"));
            },
        ),
    ]
}
