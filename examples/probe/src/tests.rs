//! The probe on the mock ledger: output formats byte for byte, and the peer rules the mock enforces.

use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};
use wasmcc_sdk::mock::MockLedger;

use super::*;

fn ok(l: &mut MockLedger, args: &[&str]) -> String {
    let r = l.invoke::<Probe>(args);
    assert_eq!((r.status, r.message.as_str()), (200, ""), "{args:?}");
    String::from_utf8(r.payload).unwrap()
}

fn err(l: &mut MockLedger, args: &[&str]) -> String {
    let r = l.invoke::<Probe>(args);
    assert_eq!((r.status, r.payload.len()), (500, 0), "{args:?}");
    r.message
}

fn ck(object_type: &str, attrs: &[&str]) -> String {
    wasmcc_sdk::create_composite_key(object_type, attrs).unwrap()
}

#[test]
fn state_calls() {
    let mut l = MockLedger::new();
    assert_eq!(ok(&mut l, &["put", "a", "1", "b", "2", "odd"]), "");
    assert_eq!(ok(&mut l, &["get", "a"]), "1");
    assert_eq!(ok(&mut l, &["get", "missing"]), "");
    assert_eq!(ok(&mut l, &["getMulti", "a", "missing", "b"]), r#"["1",null,"2"]"#);
    assert_eq!(ok(&mut l, &["del", "a"]), "");
    assert_eq!(l.state("a"), None);
    assert_eq!(ok(&mut l, &["del", ""]), "", "an empty key is sent on deletes");
    assert_eq!(err(&mut l, &["put", "", "v"]), "key must not be an empty string");
    assert_eq!(ok(&mut l, &["putGet", "b", "new"]), "2", "reads never see the transaction's own writes");
    assert_eq!(l.state("b"), Some(&b"new"[..]));
    l.set_state("bin", b"\xff\"\n");
    assert_eq!(ok(&mut l, &["getMulti", "bin"]), r#"["\ufffd\"\n"]"#.replace("\\ufffd", "\u{fffd}"));
}

#[test]
fn ranges_and_pages() {
    let mut l = MockLedger::new();
    ok(&mut l, &["put", "b", "2", "a", "1", "c", "3", "d", "4", "e", "5"]);
    assert_eq!(ok(&mut l, &["range", "b", "d"]), r#"[{"key":"b","value":"2"},{"key":"c","value":"3"}]"#);
    assert_eq!(ok(&mut l, &["rangeFirst", "", "", "2"]), r#"[{"key":"a","value":"1"},{"key":"b","value":"2"}]"#);
    assert_eq!(ok(&mut l, &["rangeFirst", "", "", "-1"]), "[]");
    assert_eq!(
        ok(&mut l, &["rangePage", "a", "", "2", ""]),
        r#"{"results":[{"key":"a","value":"1"},{"key":"b","value":"2"}],"fetched":2,"bookmark":"c"}"#
    );
    assert_eq!(
        ok(&mut l, &["rangePage", "a", "", "2", "e"]),
        r#"{"results":[{"key":"e","value":"5"}],"fetched":1,"bookmark":""}"#
    );
    assert_eq!(err(&mut l, &["rangePage", "a", "", "x", ""]), "invalid pageSize: x");
    let m = err(&mut l, &["range", "\u{0}a", "b"]);
    assert_eq!(m, "first character of the key [\u{0}a] contains a null character which is not allowed");
    assert_eq!(err(&mut l, &["range", "a"]), "range: expected at least 2 arguments, got 1");
}

#[test]
fn composite_keys() {
    let mut l = MockLedger::new();
    let (m1, m2, m3) =
        (ck("color~name", &["blue", "m1"]), ck("color~name", &["blue", "m2"]), ck("color~name", &["red", "m3"]));
    ok(&mut l, &["put", &m1, "x", &m2, "y", &m3, "z", "plain", "p"]);
    let expected = format!("[{{\"key\":{},\"value\":\"x\"}},{{\"key\":{},\"value\":\"y\"}}]", js(&m1), js(&m2));
    assert_eq!(ok(&mut l, &["partial", "color~name", "blue"]), expected);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ok(&mut l, &["partial", "color~name"]))
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let p = ok(&mut l, &["partialPage", "2", "", "color~name"]);
    assert!(p.ends_with(&format!(r#""fetched":2,"bookmark":{}}}"#, js(&m3))), "{p}");
    assert_eq!(ok(&mut l, &["composite", "type", "a", "b"]), r#""\u0000type\u0000a\u0000b\u0000""#);
    assert_eq!(ok(&mut l, &["split", &ck("type", &["a", "b"])]), r#"{"objectType":"type","attributes":["a","b"]}"#);
    let m = err(&mut l, &["composite", "type", "a\u{0}b"]);
    assert!(m.starts_with("input contains unicode U+0000 starting at position [1]."), "{m}");
}

#[test]
fn rich_queries() {
    let mut l = MockLedger::new();
    ok(
        &mut l,
        &[
            "put",
            "d1",
            r#"{"color":"blue","size":5}"#,
            "d2",
            r#"{"color":"red","size":10}"#,
            "d3",
            r#"{"color":"blue","size":15}"#,
        ],
    );
    let keys = |out: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        let results = if v.is_array() { v } else { v["results"].clone() };
        results.as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(keys(&ok(&mut l, &["query", r#"{"selector":{"color":"blue"}}"#])), ["d1", "d3"]);
    let page = ok(&mut l, &["queryPage", r#"{"selector":{"size":{"$gt":0}}}"#, "2", ""]);
    assert_eq!(keys(&page), ["d1", "d2"]);
    assert!(page.ends_with(r#""fetched":2,"bookmark":"d2"}"#), "{page}");
    let m = err(&mut l, &["writeThenQuery", "k", "v", r#"{"selector":{}}"#]);
    assert!(m.contains("read-only"), "{m}");
    let m = err(&mut l, &["queryThenWrite", r#"{"selector":{}}"#, "k", "v"]);
    assert!(m.contains("unsuppored"), "{m}");
    assert_eq!(l.state("k"), None);
}

#[test]
fn history() {
    let mut l = MockLedger::new();
    ok(&mut l, &["put", "h", "1"]);
    ok(&mut l, &["put", "h", "2"]);
    ok(&mut l, &["del", "h"]);
    let s = 1_704_067_200;
    assert_eq!(
        ok(&mut l, &["history", "h"]),
        format!(
            r#"[{{"txId":"tx3","value":"","isDelete":true,"seconds":{s}}},{{"txId":"tx2","value":"2","isDelete":false,"seconds":{s}}},{{"txId":"tx1","value":"1","isDelete":false,"seconds":{s}}}]"#
        )
    );
    assert_eq!(ok(&mut l, &["history", "never"]), "[]");
}

#[test]
fn private_data() {
    let mut l = MockLedger::new();
    ok(&mut l, &["putPrivate", "collA", "secret", "s3cr3t"]);
    assert_eq!(ok(&mut l, &["getPrivate", "collA", "secret"]), "s3cr3t");
    assert_eq!(
        ok(&mut l, &["getPrivateHash", "collA", "secret"]),
        "4e738ca5563c06cfd0018299933d58db1dd8bf97f6973dc99bf6cdc64b5550bd"
    );
    assert_eq!(ok(&mut l, &["getPrivateHash", "collA", "none"]), "");
    assert_eq!(ok(&mut l, &["get", "secret"]), "");
    ok(&mut l, &["putPrivate", "collA", "p1", r#"{"color":"blue"}"#]);
    ok(&mut l, &["putPrivate", "collA", &ck("t", &["x"]), "c"]);
    assert_eq!(
        ok(&mut l, &["privateRange", "collA", "p", ""]),
        r#"[{"key":"p1","value":"{\"color\":\"blue\"}"},{"key":"secret","value":"s3cr3t"}]"#
    );
    assert_eq!(
        ok(&mut l, &["privatePartial", "collA", "t"]),
        format!(r#"[{{"key":{},"value":"c"}}]"#, js(&ck("t", &["x"])))
    );
    assert_eq!(
        ok(&mut l, &["privateQuery", "collA", r#"{"selector":{"color":"blue"}}"#]),
        r#"[{"key":"p1","value":"{\"color\":\"blue\"}"}]"#
    );
    ok(&mut l, &["delPrivate", "collA", "p1"]);
    ok(&mut l, &["purgePrivate", "collA", "secret"]);
    assert_eq!(ok(&mut l, &["getPrivate", "collA", "secret"]), "");
    assert_eq!(ok(&mut l, &["getPrivateHash", "collA", "secret"]), "");
    assert_eq!(err(&mut l, &["getPrivate", "", "k"]), "collection must not be an empty string");
    let r = l.init::<Probe>(&["putPrivate", "collA", "k", "v"]);
    assert!(r.message.ends_with("private data APIs are not allowed in chaincode Init()"), "{}", r.message);
}

#[test]
fn validation_parameters() {
    let mut l = MockLedger::new();
    ok(&mut l, &["put", "k", "v"]);
    ok(&mut l, &["setEP", "k", "Org2MSP", "Org1MSP"]);
    // Made by Node's fabric-shim KeyEndorsementPolicy with addOrgs('MEMBER', 'Org1MSP', 'Org2MSP').
    let golden = "120c120a080212020800120208011a0b12090a074f7267314d53501a0b12090a074f7267324d5350";
    assert_eq!(ok(&mut l, &["getEP", "k"]), golden);
    ok(&mut l, &["setEP", "nokey", "Org1MSP"]);
    assert_eq!(ok(&mut l, &["getEP", "nokey"]), "");
    ok(&mut l, &["putPrivate", "collA", "k", "v"]);
    ok(&mut l, &["setPrivateEP", "collA", "k", "Org1MSP"]);
    assert_eq!(ok(&mut l, &["getPrivateEP", "collA", "k"]), "120812060801120208001a0b12090a074f7267314d5350");
}

#[test]
fn events_failures_and_init() {
    let mut l = MockLedger::new();
    ok(&mut l, &["event", "first", "1", "second", "2"]);
    assert_eq!(l.last_event(), Some(("second", &b"2"[..])));
    assert_eq!(err(&mut l, &["event", "", "p"]), "event name can not be empty string");
    assert_eq!(l.last_event(), None);
    assert_eq!(err(&mut l, &["fail", "nope"]), "nope");
    assert_eq!(err(&mut l, &["nosuch"]), "unknown function: nosuch");
    assert!(l.init::<Probe>(&["init", "v1"]).is_success());
    assert_eq!(l.state("initialized"), Some(&b"v1"[..]));
    assert!(l.init::<Probe>(&["init"]).is_success());
    assert_eq!(l.state("initialized"), Some(&b"yes"[..]));
    assert_eq!(l.init::<Probe>(&["get", "initialized"]).payload, b"yes", "other functions run as in invoke");
}

#[test]
fn invoke_chaincode() {
    let mut l = MockLedger::new();
    let mut callee = MockLedger::new();
    callee.set_state("m1", b"tom");
    l.register::<Probe>("other", callee);
    assert_eq!(
        ok(&mut l, &["invoke", "other", "", "putGet", "m1", "jerry"]),
        r#"{"status":200,"message":"","payload":"tom"}"#
    );
    assert_eq!(l.chaincode("other").unwrap().state("m1"), Some(&b"jerry"[..]), "committed with the caller");
    assert_eq!(l.chaincode("other").unwrap().last_tx_id(), "", "the callee ran in the caller's transaction");
    ok(&mut l, &["invoke", "other", "otherchannel", "put", "m1", "ann"]);
    assert_eq!(
        l.chaincode("other").unwrap().state("m1"),
        Some(&b"jerry"[..]),
        "another channel's writes are discarded"
    );
    assert_eq!(err(&mut l, &["invoke", "other", "", "fail", "callee says no"]), "callee says no");
    let m = err(&mut l, &["invoke", "nosuch", "", "x"]);
    // The peer's own words for a chaincode it does not know.
    assert_eq!(
        m,
        "INVOKE_CHAINCODE failed: transaction ID: tx4: execute failed: invalid invocation: [channel mychannel] failed \
         to get chaincode container info for nosuch: chaincode nosuch not found"
    );
}

/// A serialized `msp.SerializedIdentity` with a Fabric CA style certificate carrying `role=auditor`.
fn creator(msp_id: &str) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "user1");
    params.distinguished_name = dn;
    let attrs = br#"{"attrs":{"role":"auditor"}}"#.to_vec();
    params.custom_extensions.push(CustomExtension::from_oid_content(&[1, 2, 3, 4, 5, 6, 7, 8, 1], attrs));
    let pem = params.self_signed(&KeyPair::generate().unwrap()).unwrap().pem();
    let mut out = vec![0x0a, msp_id.len() as u8];
    out.extend_from_slice(msp_id.as_bytes());
    out.push(0x12);
    let mut len = pem.len();
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(pem.as_bytes());
    out
}

#[test]
fn context_and_identity() {
    let mut l = MockLedger::new();
    l.transient.insert("t2".into(), b"b".to_vec());
    l.transient.insert("t1".into(), b"a".to_vec());
    let r = l.invoke_with_tx_id::<Probe>("context-0", &["ctx", "x", "y"]);
    assert_eq!(
        String::from_utf8(r.payload).unwrap(),
        r#"{"txId":"context-0","channelId":"mychannel","args":["ctx","x","y"],"transient":{"t1":"a","t2":"b"},"binding":"","seconds":1704067200,"nanos":0,"mspId":"","signedProposal":false}"#
    );
    assert!(err(&mut l, &["identity", "role"]).starts_with("failed to get transaction invoker's identity"));
    l.creator = creator("Org1MSP");
    assert_eq!(ok(&mut l, &["identity", "role"]), r#"{"mspId":"Org1MSP","attr":"auditor"}"#);
    assert_eq!(ok(&mut l, &["identity", "missing"]), r#"{"mspId":"Org1MSP","attr":null}"#);
    assert!(ok(&mut l, &["ctx"]).contains(r#""mspId":"Org1MSP""#));
}
