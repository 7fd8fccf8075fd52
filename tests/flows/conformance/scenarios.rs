//! The scenarios: every stub call, error cases included (docs/conformance.md lists the chaincode functions).

use super::{Kind, Run, Scenario, Signer, Step};

fn probe(args: &[&str]) -> Step {
    Step::new("probe", Kind::Submit, args)
}

fn probe_eval(args: &[&str]) -> Step {
    Step::new("probe", Kind::Evaluate, args)
}

fn marbles(args: &[&str]) -> Step {
    Step::new("marbles", Kind::Submit, args)
}

fn marbles_eval(args: &[&str]) -> Step {
    Step::new("marbles", Kind::Evaluate, args)
}

fn scenario(name: &'static str, steps: Vec<Step>, expect: fn(&Run)) -> Scenario {
    Scenario { name, steps, expect }
}

/// `"\0type\0a\0b\0"`: a composite key, built here independently of either SDK.
fn ck(object_type: &str, attrs: &[&str]) -> String {
    let mut key = format!("\u{0}{object_type}\u{0}");
    for a in attrs {
        key.push_str(a);
        key.push('\u{0}');
    }
    key
}

/// 250 keys `k000`..`k249` with values `v000`.., as one `put` call.
fn many_puts() -> Vec<String> {
    let mut args = vec!["put".to_owned()];
    for i in 0..250 {
        args.push(format!("k{i:03}"));
        args.push(format!("v{i:03}"));
    }
    args
}

fn owned(args: Vec<String>) -> Step {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    probe(&refs)
}

const DOCS: [(&str, &str); 4] = [
    ("d1", r#"{"color":"blue","size":5,"owner":"tom"}"#),
    ("d2", r#"{"color":"red","size":10,"owner":"tom"}"#),
    ("d3", r#"{"color":"blue","size":15,"owner":"ann"}"#),
    ("d4", r#"{"color":"green","size":20}"#),
];

fn put_docs() -> Step {
    let mut args = vec!["put"];
    for (k, v) in DOCS {
        args.push(k);
        args.push(v);
    }
    probe(&args)
}

fn keys_of(run: &Run, i: usize) -> Vec<String> {
    let v = run.json(i);
    let results = if v.is_array() { v } else { v["results"].clone() };
    results.as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_owned()).collect()
}

pub fn scenarios() -> Vec<Scenario> {
    let mut all = probe_state();
    all.extend(probe_queries());
    all.extend(probe_private());
    all.extend(probe_context());
    all.extend(super::scenarios_samples::samples());
    all.extend(super::scenarios_contracts::contracts());
    all
}

fn probe_state() -> Vec<Scenario> {
    vec![
        scenario("put-get", vec![probe(&["put", "a", "1"]), probe(&["get", "a"]), probe(&["get", "missing"])], |r| {
            assert_eq!(r.ok(1), "1");
            assert_eq!(r.ok(2), "");
        }),
        scenario(
            "put-several-then-delete",
            vec![probe(&["put", "a", "1", "b", "2"]), probe(&["del", "a"]), probe(&["get", "a"]), probe(&["get", "b"])],
            |r| {
                assert_eq!(r.ok(2), "");
                assert_eq!(r.ok(3), "2");
            },
        ),
        scenario(
            "reads-never-see-own-writes",
            vec![probe(&["put", "a", "old"]), probe(&["putGet", "a", "new"]), probe(&["get", "a"])],
            |r| {
                assert_eq!(r.ok(1), "old");
                assert_eq!(r.ok(2), "new");
            },
        ),
        scenario(
            "get-multiple",
            vec![probe(&["put", "a", "1", "b", "2"]), probe(&["getMulti", "a", "missing", "b"])],
            |r| {
                assert_eq!(r.json(1), serde_json::json!(["1", null, "2"]));
            },
        ),
        // Node's shim sends an empty key and the peer accepts it; the Go shim refuses it first.
        scenario("put-empty-key-is-refused", vec![probe(&["put", "", "v"]).go_only()], |r| {
            if r.is_wasm() {
                assert_eq!(r.err(0), "key must not be an empty string");
                assert!(!r.results[0].is_committed());
            }
        }),
        scenario("delete-of-empty-key-reaches-the-peer", vec![probe(&["del", ""])], |r| {
            r.ok(0);
        }),
        scenario(
            "validation-parameter",
            vec![probe(&["put", "k", "v"]), probe(&["setEP", "k", "Org2MSP", "Org1MSP"]), probe(&["getEP", "k"])],
            |r| {
                let hex = r.ok(2);
                assert!(!hex.is_empty(), "the policy was stored");
                // Sorted identities: Org1MSP comes first in the envelope.
                let org1 = hex.find(&hex_of("Org1MSP")).expect("Org1MSP in the policy");
                let org2 = hex.find(&hex_of("Org2MSP")).expect("Org2MSP in the policy");
                assert!(org1 < org2);
            },
        ),
        scenario(
            "validation-parameter-on-missing-key-stores-nothing",
            vec![probe(&["setEP", "nokey", "Org1MSP"]), probe(&["getEP", "nokey"])],
            |r| {
                assert!(r.results[0].is_committed());
                assert_eq!(r.ok(1), "");
            },
        ),
        scenario("event-is-sent-with-completed", vec![probe(&["event", "created", "payload-1"])], |r| {
            r.ok(0);
            let e = r.results[0].event.as_ref().expect("event");
            assert_eq!((e.event_name.as_str(), e.payload.as_slice()), ("created", &b"payload-1"[..]));
            assert_eq!(e.chaincode_id, "probe");
        }),
        scenario("last-event-wins", vec![probe(&["event", "first", "1", "second", "2"])], |r| {
            assert_eq!(r.results[0].event.as_ref().unwrap().event_name, "second");
        }),
        scenario("empty-event-name-is-refused", vec![probe(&["event", "", "p"]).node_local_check()], |r| {
            let m = r.err(0);
            if r.is_wasm() {
                assert_eq!(m, "event name can not be empty string");
            }
            assert!(r.results[0].event.is_none());
        }),
        scenario("chaincode-error-response", vec![probe(&["fail", "nope"]), probe(&["nosuch"])], |r| {
            assert_eq!(r.err(0), "nope");
            assert_eq!(r.err(1), "unknown function: nosuch");
            assert!(!r.results[0].is_committed());
        }),
        scenario("init", vec![Step::new("probe", Kind::Init, &["init", "v1"]), probe(&["get", "initialized"])], |r| {
            r.ok(0);
            assert_eq!(r.ok(1), "v1");
        }),
    ]
}

fn probe_queries() -> Vec<Scenario> {
    vec![
        scenario(
            "range-empty-start-and-end",
            vec![probe(&["put", "b", "2", "a", "1", "c", "3"]), probe_eval(&["range", "", ""])],
            |r| {
                assert_eq!(keys_of(r, 1), ["a", "b", "c"]);
            },
        ),
        scenario(
            "range-is-half-open",
            vec![probe(&["put", "a", "1", "b", "2", "c", "3", "d", "4"]), probe_eval(&["range", "b", "d"])],
            |r| {
                assert_eq!(r.json(1), serde_json::json!([{"key": "b", "value": "2"}, {"key": "c", "value": "3"}]));
            },
        ),
        scenario("range-over-several-batches", vec![owned(many_puts()), probe_eval(&["range", "k000", ""])], |r| {
            let keys = keys_of(r, 1);
            assert_eq!(keys.len(), 250, "100 per batch, then QUERY_STATE_NEXT");
            assert_eq!(keys[249], "k249");
        }),
        scenario("range-closed-early", vec![owned(many_puts()), probe_eval(&["rangeFirst", "", "", "3"])], |r| {
            assert_eq!(keys_of(r, 1), ["k000", "k001", "k002"]);
        }),
        scenario(
            "range-bound-starting-with-nul-is-refused",
            vec![probe_eval(&["range", "\u{0}a", "b"]).node_local_check()],
            |r| {
                let m = r.err(0);
                assert!(m.contains("null character") || m.contains("0x00"), "{m}");
            },
        ),
        scenario(
            "range-pagination",
            vec![
                probe(&["put", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]),
                probe_eval(&["rangePage", "a", "", "2", ""]),
                probe_eval(&["rangePage", "a", "", "2", "c"]),
                probe_eval(&["rangePage", "a", "", "2", "e"]),
            ],
            |r| {
                let p1 = r.json(1);
                assert_eq!(p1["fetched"], 2);
                assert_eq!(p1["bookmark"], "c");
                assert_eq!(keys_of(r, 2), ["c", "d"]);
                assert_eq!(keys_of(r, 3), ["e"]);
                assert_eq!(r.json(3)["bookmark"], "");
            },
        ),
        scenario(
            "partial-composite-key",
            vec![
                owned(vec![
                    "put".into(),
                    ck("color~name", &["blue", "m1"]),
                    "x".into(),
                    ck("color~name", &["blue", "m2"]),
                    "y".into(),
                    ck("color~name", &["red", "m3"]),
                    "z".into(),
                    "plain".into(),
                    "p".into(),
                ]),
                probe_eval(&["partial", "color~name", "blue"]),
                probe_eval(&["partial", "color~name"]),
            ],
            |r| {
                assert_eq!(keys_of(r, 1), [ck("color~name", &["blue", "m1"]), ck("color~name", &["blue", "m2"])]);
                assert_eq!(keys_of(r, 2).len(), 3, "simple keys are outside the composite namespace");
            },
        ),
        scenario(
            "partial-composite-key-pagination",
            vec![
                owned(vec![
                    "put".into(),
                    ck("t", &["a"]),
                    "1".into(),
                    ck("t", &["b"]),
                    "2".into(),
                    ck("t", &["c"]),
                    "3".into(),
                ]),
                probe_eval(&["partialPage", "2", "", "t"]),
            ],
            |r| {
                let p = r.json(1);
                assert_eq!(p["fetched"], 2);
                assert_eq!(p["bookmark"], ck("t", &["c"]));
            },
        ),
        scenario(
            "composite-key-create-and-split",
            vec![probe(&["composite", "type", "a", "b"]), probe(&["split", &ck("type", &["a", "b"])])],
            |r| {
                assert_eq!(r.json(0), serde_json::json!(ck("type", &["a", "b"])));
                assert_eq!(r.json(1), serde_json::json!({"objectType": "type", "attributes": ["a", "b"]}));
            },
        ),
        // Node's shim accepts U+0000 inside an attribute; the Go shim refuses it.
        scenario(
            "composite-key-with-nul-attribute-is-refused",
            vec![probe(&["composite", "type", "a\u{0}b"]).go_only()],
            |r| {
                if r.is_wasm() {
                    assert!(r.err(0).contains("U+0000"), "{}", r.err(0));
                }
            },
        ),
        scenario("rich-query", vec![put_docs(), probe_eval(&["query", r#"{"selector":{"color":"blue"}}"#])], |r| {
            assert_eq!(keys_of(r, 1), ["d1", "d3"]);
        }),
        scenario(
            "rich-query-operators-and-sort",
            vec![
                put_docs(),
                probe_eval(&[
                    "query",
                    r#"{"selector":{"$or":[{"size":{"$gte":15}},{"owner":{"$in":["tom"]}}],"owner":{"$exists":true}},"sort":[{"size":"desc"}]}"#,
                ]),
            ],
            |r| {
                assert_eq!(keys_of(r, 1), ["d3", "d2", "d1"]);
            },
        ),
        scenario(
            "rich-query-pagination",
            vec![put_docs(), probe_eval(&["queryPage", r#"{"selector":{"size":{"$gt":0}}}"#, "3", ""])],
            |r| {
                let p = r.json(1);
                assert_eq!(p["fetched"], 3);
                assert!(!p["bookmark"].as_str().unwrap().is_empty());
            },
        ),
        scenario(
            "paginated-query-after-a-write-is-refused",
            vec![probe(&["writeThenQuery", "k", "v", r#"{"selector":{}}"#])],
            |r| {
                let m = r.err(0);
                assert!(m.contains("read-only"), "{m}");
                assert!(!r.results[0].is_committed());
            },
        ),
        scenario(
            "write-after-a-paginated-query-is-refused",
            vec![probe(&["queryThenWrite", r#"{"selector":{}}"#, "k", "v"])],
            |r| {
                let m = r.err(0);
                assert!(m.contains("read-only") || m.contains("unsuppored"), "{m}");
            },
        ),
        scenario(
            "history",
            vec![
                probe(&["put", "h", "1"]),
                probe(&["put", "h", "2"]),
                probe(&["del", "h"]),
                probe_eval(&["history", "h"]),
            ],
            |r| {
                let h = r.json(3);
                let h = h.as_array().unwrap();
                assert_eq!(h.len(), 3);
                let deletes = h.iter().filter(|e| e["isDelete"] == true).count();
                assert_eq!(deletes, 1);
                assert!(h.iter().all(|e| e["seconds"].as_i64().unwrap() >= super::TX_SECONDS));
            },
        ),
        scenario("history-of-unknown-key-is-empty", vec![probe_eval(&["history", "never"])], |r| {
            assert_eq!(r.json(0), serde_json::json!([]));
        }),
    ]
}

fn probe_private() -> Vec<Scenario> {
    vec![
        scenario(
            "private-put-get-hash",
            vec![
                probe(&["putPrivate", "collA", "secret", "s3cr3t"]),
                probe(&["getPrivate", "collA", "secret"]),
                probe(&["getPrivateHash", "collA", "secret"]),
                probe(&["getPrivateHash", "collA", "none"]),
                probe(&["get", "secret"]),
            ],
            |r| {
                assert_eq!(r.ok(1), "s3cr3t");
                // SHA-256("s3cr3t")
                assert_eq!(r.ok(2), "4e738ca5563c06cfd0018299933d58db1dd8bf97f6973dc99bf6cdc64b5550bd");
                assert_eq!(r.ok(3), "");
                assert_eq!(r.ok(4), "", "private data is not public state");
            },
        ),
        scenario(
            "private-delete-and-purge",
            vec![
                probe(&["putPrivate", "collA", "a", "1"]),
                probe(&["putPrivate", "collA", "b", "2"]),
                probe(&["delPrivate", "collA", "a"]),
                probe(&["purgePrivate", "collA", "b"]),
                probe(&["getPrivate", "collA", "a"]),
                probe(&["getPrivate", "collA", "b"]),
                probe(&["getPrivateHash", "collA", "b"]),
            ],
            |r| {
                assert_eq!(r.ok(4), "");
                assert_eq!(r.ok(5), "");
                assert_eq!(r.ok(6), "", "a purge removes the hash too");
            },
        ),
        scenario(
            "private-range-partial-and-query",
            vec![
                owned(vec!["putPrivate".into(), "collA".into(), "p1".into(), r#"{"color":"blue"}"#.into()]),
                owned(vec!["putPrivate".into(), "collA".into(), "p2".into(), r#"{"color":"red"}"#.into()]),
                owned(vec!["putPrivate".into(), "collA".into(), ck("t", &["x"]), "c".into()]),
                probe_eval(&["privateRange", "collA", "", ""]),
                probe_eval(&["privatePartial", "collA", "t"]),
                probe_eval(&["privateQuery", "collA", r#"{"selector":{"color":"red"}}"#]),
            ],
            |r| {
                assert_eq!(keys_of(r, 3), ["p1", "p2"]);
                assert_eq!(keys_of(r, 4), [ck("t", &["x"])]);
                assert_eq!(keys_of(r, 5), ["p2"]);
            },
        ),
        // The peer refuses private data in Init. An Init answering status 500 becomes ERROR in the Go shim; Node's
        // shim answers COMPLETED, so only the wasm side is checked for that.
        scenario(
            "private-data-in-init-is-refused",
            vec![Step::new("probe", Kind::Init, &["putPrivate", "collA", "k", "v"]).go_only()],
            |r| {
                let r0 = &r.results[0];
                let text = match r0.error() {
                    Some(text) => text.to_owned(),
                    None => r0.response().unwrap().message.clone(),
                };
                assert!(text.contains("private data APIs are not allowed in chaincode Init()"), "{text}");
                if r.is_wasm() {
                    assert!(r0.error().is_some(), "Go shim semantics: Init with status 500 is ERROR");
                }
            },
        ),
        scenario(
            "private-validation-parameter",
            vec![
                probe(&["putPrivate", "collA", "k", "v"]),
                probe(&["setPrivateEP", "collA", "k", "Org1MSP"]),
                probe(&["getPrivateEP", "collA", "k"]),
            ],
            |r| {
                assert!(r.ok(2).contains(&hex_of("Org1MSP")));
            },
        ),
        scenario(
            "private-call-with-empty-collection-is-refused",
            vec![probe(&["getPrivate", "", "k"]).node_local_check()],
            |r| {
                let m = r.err(0);
                if r.is_wasm() {
                    assert_eq!(m, "collection must not be an empty string");
                }
            },
        ),
        scenario("purge-needs-a-collection-on-the-peer-too", vec![probe(&["purgePrivate", "collA", "k"])], |r| {
            r.ok(0);
        }),
    ]
}

fn probe_context() -> Vec<Scenario> {
    vec![
        scenario("context", vec![probe(&["ctx", "x", "y"]).transient("t2", "b").transient("t1", "a")], |r| {
            let c = r.json(0);
            assert_eq!(c["txId"], "context-0");
            assert_eq!(c["channelId"], "mychannel");
            assert_eq!(c["args"], serde_json::json!(["ctx", "x", "y"]));
            assert_eq!(c["transient"], serde_json::json!({"t1": "a", "t2": "b"}));
            assert_eq!(c["seconds"], super::TX_SECONDS);
            assert_eq!(c["mspId"], "Org1MSP");
            assert_eq!(c["binding"].as_str().unwrap().len(), 64);
            assert_eq!(c["signedProposal"], true);
        }),
        scenario(
            "client-identity-attribute",
            vec![
                probe(&["identity", "role"]),
                probe(&["identity", "missing"]),
                probe(&["identity", "role"]).signer(Signer::Org2),
            ],
            |r| {
                assert_eq!(r.json(0), serde_json::json!({"mspId": "Org1MSP", "attr": "auditor"}));
                assert_eq!(r.json(1), serde_json::json!({"mspId": "Org1MSP", "attr": null}));
                assert_eq!(r.json(2), serde_json::json!({"mspId": "Org2MSP", "attr": null}));
            },
        ),
        scenario(
            "invoke-chaincode-same-channel",
            vec![
                marbles(&["initMarble", "m1", "blue", "35", "tom"]),
                probe(&["invoke", "marbles", "", "transferMarble", "m1", "jerry"]),
                marbles_eval(&["readMarble", "m1"]),
            ],
            |r| {
                let inner = r.json(1);
                assert_eq!(inner["status"], 200);
                assert!(r.ok(2).contains("jerry"), "the callee's write committed with the caller's transaction");
                assert!(r.results[1].rwset.namespaces().any(|ns| ns == "marbles"));
            },
        ),
        scenario(
            "invoke-chaincode-other-channel-discards-writes",
            vec![
                Step::new("marbles", Kind::Submit, &["initMarble", "m1", "blue", "35", "tom"]).channel("otherchannel"),
                probe(&["invoke", "marbles", "otherchannel", "transferMarble", "m1", "jerry"]),
                Step::new("marbles", Kind::Evaluate, &["readMarble", "m1"]).channel("otherchannel"),
            ],
            |r| {
                assert_eq!(r.json(1)["status"], 200);
                assert!(r.ok(2).contains("tom"), "writes on another channel are discarded");
            },
        ),
        scenario(
            "invoke-chaincode-error-status",
            vec![probe(&["invoke", "marbles", "", "readMarble", "nosuch"])],
            |r| {
                r.err(0);
            },
        ),
        scenario("invoke-unknown-chaincode", vec![probe(&["invoke", "nosuchcc", "", "x"])], |r| {
            r.err(0);
        }),
        scenario("invoke-self-fails", vec![probe(&["invoke", "probe", "", "get", "a"])], |r| {
            assert!(r.err(0).contains("exists"));
        }),
    ]
}

/// Lowercase hex of a string's bytes, to find an MSP ID inside a hex-encoded policy.
fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}
