use super::*;
use crate::Error;

/// `put k v`, `get k`, `del k`, `putget k v` (put then read back), `fail k v` (put then status 500),
/// `event n p`, `ctx`, `private c k v`.
struct Probe;

impl Chaincode for Probe {
    fn init(stub: &mut Stub) -> Response {
        Response::success(format!("init {}", stub.is_init()))
    }

    fn invoke(stub: &mut Stub) -> Response {
        let (f, p) = stub.function_and_parameters();
        let r = match f.as_str() {
            "put" => stub.put_state(&p[0], p[1].as_bytes()).map(|_| Vec::new()),
            "get" => stub.get_state(&p[0]).map(Option::unwrap_or_default),
            "del" => stub.del_state(&p[0]).map(|_| Vec::new()),
            "putget" => stub
                .put_state(&p[0], p[1].as_bytes())
                .and_then(|_| stub.get_state(&p[0]))
                .map(|v| format!("{v:?}").into_bytes()),
            "fail" => {
                stub.put_state(&p[0], p[1].as_bytes()).unwrap();
                stub.set_event("failed", b"").unwrap();
                return Response::error("no");
            }
            "event" => stub.set_event(&p[0], p[1].as_bytes()).map(|_| Vec::new()),
            "ctx" => Ok(format!(
                "{} {} {:?} {:?} {:?}",
                stub.tx_id(),
                stub.channel_id(),
                stub.creator(),
                stub.transient(),
                stub.tx_timestamp().unwrap().seconds
            )
            .into_bytes()),
            "purge" => stub.purge_private_data(&p[0], &p[1]).map(|_| Vec::new()),
            "private" => stub
                .put_private_data(&p[0], &p[1], p[2].as_bytes())
                .and_then(|_| stub.get_private_data(&p[0], &p[1]))
                .map(Option::unwrap_or_default),
            "multi" => stub.get_multiple_states(&p).map(|v| format!("{v:?}").into_bytes()),
            "call" => stub.invoke_chaincode("other", &[b"x"], "").map(|r| r.payload),
            _ => return Response::error(format!("unknown {f}")),
        };
        Response::from_result(r)
    }
}

#[test]
fn writes_commit_on_success_only() {
    let mut l = MockLedger::new();
    assert_eq!(l.invoke::<Probe>(&["put", "a", "1"]).status, 200);
    assert_eq!(l.state("a"), Some(&b"1"[..]));
    assert_eq!(l.invoke::<Probe>(&["fail", "a", "2"]).status, 500);
    assert_eq!(l.state("a"), Some(&b"1"[..]));
    assert_eq!(l.last_event(), None, "the event of an unendorsed transaction is dropped");
    assert_eq!(l.invoke::<Probe>(&["get", "a"]).payload, b"1");
    assert_eq!(l.invoke::<Probe>(&["del", "a"]).status, 200);
    assert_eq!(l.state("a"), None);
}

#[test]
fn reads_do_not_see_own_writes() {
    let mut l = MockLedger::new();
    l.set_state("k", b"old");
    assert_eq!(l.invoke::<Probe>(&["putget", "k", "new"]).payload, br#"Some([111, 108, 100])"#);
    assert_eq!(l.state("k"), Some(&b"new"[..]));
}

#[test]
fn empty_value_deletes_and_empty_key_is_refused() {
    let mut l = MockLedger::new();
    l.set_state("k", b"v");
    assert_eq!(l.invoke::<Probe>(&["put", "k", ""]).status, 200);
    assert_eq!(l.state("k"), None);
    let r = l.invoke::<Probe>(&["put", "", "v"]);
    assert_eq!((r.status, r.message.as_str()), (500, "key must not be an empty string"));
}

#[test]
fn context_is_settable() {
    let mut l = MockLedger::new();
    l.channel_id = "ch2".into();
    l.creator = b"me".to_vec();
    l.transient.insert("t".into(), b"x".to_vec());
    let r = l.invoke_with_tx_id::<Probe>("abc", &["ctx"]);
    assert_eq!(String::from_utf8(r.payload).unwrap(), r#"abc ch2 [109, 101] {"t": [120]} 1704067200"#);
    assert_eq!(l.invoke::<Probe>(&["ctx"]).payload.split(|b| *b == b' ').next(), Some(&b"tx1"[..]));
    assert_eq!(l.init::<Probe>(&[""; 0]).payload, b"init true");
    assert_eq!(l.last_tx_id(), "tx2");
}

#[test]
fn events_private_data_and_multi_get() {
    let mut l = MockLedger::new();
    l.invoke::<Probe>(&["event", "e", "p"]);
    assert_eq!(l.last_event(), Some(("e", &b"p"[..])));
    l.set_private_data("c", "k", b"old");
    assert_eq!(l.invoke::<Probe>(&["private", "c", "k", "new"]).payload, b"old");
    assert_eq!(l.private_data("c", "k"), Some(&b"new"[..]));
    assert_eq!(l.state("k"), None, "private data is not public state");
    let r = l.invoke::<Probe>(&["private", "", "k", "v"]);
    assert_eq!(r.message, "collection must not be an empty string");
    l.set_state("a", b"1");
    assert_eq!(l.invoke::<Probe>(&["multi", "a", "b"]).payload, b"[Some([49]), None]");
    assert_eq!(l.invoke::<Probe>(&["event", "", "p"]).message, "event name can not be empty string");
    assert_eq!(l.invoke::<Probe>(&["call"]).status, 500);
    assert_eq!(l.public_state().collect::<Vec<_>>(), vec![("a", &b"1"[..])]);
}

// ----- queries, history, metadata and the simulator's rules, through `MockLedger::run` -----

fn keys(iter: crate::StateIterator) -> Vec<String> {
    iter.map(|kv| kv.unwrap().key).collect()
}

fn ledger_with(keys: &[&str]) -> MockLedger {
    let mut l = MockLedger::new();
    for k in keys {
        l.set_state(k, format!("v-{k}").as_bytes());
    }
    l
}

/// Runs `f` in a transaction and returns what it computed (the transaction answers 200).
fn read<T>(l: &mut MockLedger, f: impl FnOnce(&mut Stub<'_>) -> T) -> T {
    let mut out = None;
    assert!(l
        .run(|stub| {
            out = Some(f(stub));
            Response::success(Vec::new())
        })
        .is_success());
    out.unwrap()
}

#[test]
fn ranges_are_half_open_and_skip_composite_keys() {
    let ck = crate::create_composite_key("t", &["x"]).unwrap();
    let mut l = ledger_with(&["a", "b", "c", "d", &ck]);
    l.set_private_data("coll", "b", b"private");
    assert_eq!(read(&mut l, |s| keys(s.get_state_by_range("b", "d").unwrap())), ["b", "c"]);
    assert_eq!(read(&mut l, |s| keys(s.get_state_by_range("", "").unwrap())), ["a", "b", "c", "d"]);
    assert_eq!(read(&mut l, |s| keys(s.get_state_by_range("c", "a").unwrap())), Vec::<String>::new());
    assert_eq!(read(&mut l, |s| keys(s.get_state_by_partial_composite_key("t", &[""; 0]).unwrap())), [ck]);
    assert_eq!(read(&mut l, |s| keys(s.get_private_data_by_range("coll", "", "").unwrap())), ["b"]);
    let err = read(&mut l, |s| s.get_state_by_range("\0", "").unwrap_err());
    assert!(err.message().contains("null character"), "{err}");
    let first = read(&mut l, |s| {
        let mut it = s.get_state_by_range("", "").unwrap();
        let kv = it.next().unwrap().unwrap();
        it.close();
        kv
    });
    assert_eq!((first.key.as_str(), first.value.as_slice()), ("a", &b"v-a"[..]));
}

#[test]
fn range_pagination_returns_the_next_key_as_bookmark() {
    let mut l = ledger_with(&["a", "b", "c", "d", "e"]);
    let page = |l: &mut MockLedger, size: i32, bookmark: &str| {
        read(l, |s| {
            let (it, meta) = s.get_state_by_range_with_pagination("a", "", size, bookmark).unwrap();
            (keys(it), meta.fetched_records_count, meta.bookmark)
        })
    };
    assert_eq!(page(&mut l, 2, ""), (vec!["a".into(), "b".into()], 2, "c".into()));
    assert_eq!(page(&mut l, 2, "c"), (vec!["c".into(), "d".into()], 2, "e".into()));
    assert_eq!(page(&mut l, 2, "e"), (vec!["e".into()], 1, String::new()));
    // pageSize 0 with an empty bookmark is no pagination at all: everything, metadata {0, ""}.
    assert_eq!(page(&mut l, 0, "").0.len(), 5);
    assert_eq!(page(&mut l, 0, "").1, 0);
    // A negative size (or 0 with a bookmark) is paginated but unlimited.
    assert_eq!(page(&mut l, -1, "d"), (vec!["d".into(), "e".into()], 2, String::new()));
    let ck = |a: &str| crate::create_composite_key("t", &[a]).unwrap();
    for a in ["x", "y", "z"] {
        l.set_state(&ck(a), b"c");
    }
    let partial = read(&mut l, |s| {
        let (it, meta) = s.get_state_by_partial_composite_key_with_pagination("t", &[""; 0], 2, "").unwrap();
        (keys(it), meta.bookmark)
    });
    assert_eq!(partial, (vec![ck("x"), ck("y")], ck("z")));
    let all = read(&mut l, |s| keys(s.get_all_states_composite_key_with_pagination(0, "").unwrap().0));
    assert_eq!(all.len(), 3);
}

#[test]
fn paginated_and_private_queries_need_a_read_only_transaction() {
    let mut l = ledger_with(&["a"]);
    let r = l.run(|s| {
        s.put_state("k", b"v").unwrap();
        Response::from_result(s.get_state_by_range_with_pagination("", "", 10, "").map(|_| Vec::new()))
    });
    assert_eq!(
        r.message,
        "GET_STATE_BY_RANGE failed: transaction ID: tx1: txid [tx1]: unsuppored transaction. Paginated queries are \
         supported only in a read-only transaction"
    );
    let r = l.run(|s| {
        s.get_query_result_with_pagination(r#"{"selector":{}}"#, 10, "").unwrap();
        Response::from_result(s.put_state("k", b"v").map(|_| Vec::new()))
    });
    assert!(
        r.message.starts_with("PUT_STATE failed: transaction ID: tx2: txid [tx2]: unsuppored transaction."),
        "{}",
        r.message
    );
    let r = l.run(|s| {
        s.get_private_data_by_range("c", "", "").unwrap();
        Response::from_result(s.del_state("a").map(|_| Vec::new()))
    });
    assert!(r.message.contains("Transaction has already performed queries on pvt data"), "{}", r.message);
    // Unpaginated public queries may be mixed with writes.
    let r = l.run(|s| {
        s.put_state("k", b"v").unwrap();
        Response::from_result(s.get_state_by_range("", "").map(|it| it.count().to_string()))
    });
    assert_eq!(r.payload, b"1", "reads never see the transaction's own writes");
    assert_eq!(l.state("k"), Some(&b"v"[..]));
}

#[test]
fn private_data_in_init_is_refused() {
    struct PrivateInit;
    impl Chaincode for PrivateInit {
        fn init(stub: &mut Stub) -> Response {
            Response::from_result(stub.put_private_data("c", "k", b"v").map(|_| Vec::new()))
        }
        fn invoke(_: &mut Stub) -> Response {
            Response::success(Vec::new())
        }
    }
    let r = MockLedger::new().init::<PrivateInit>(&[""; 0]);
    assert_eq!(
        r.message,
        "PUT_STATE failed: transaction ID: tx1: private data APIs are not allowed in chaincode Init()"
    );
}

#[test]
fn rich_queries_select_sort_project_and_paginate() {
    let mut l = MockLedger::new();
    for (k, v) in [
        ("d1", r#"{"color":"blue","size":5}"#),
        ("d2", r#"{"color":"red","size":10}"#),
        ("d3", r#"{"color":"blue","size":15}"#),
        ("bin", "not json"),
    ] {
        l.set_state(k, v.as_bytes());
    }
    l.set_private_data("coll", "p1", br#"{"color":"blue"}"#);
    let q = |l: &mut MockLedger, query: &str| read(l, |s| keys(s.get_query_result(query).unwrap()));
    assert_eq!(q(&mut l, r#"{"selector":{"color":"blue"}}"#), ["d1", "d3"]);
    assert_eq!(q(&mut l, r#"{"selector":{"size":{"$gt":0}},"sort":[{"size":"desc"}],"limit":1}"#), ["d3", "d2", "d1"]);
    let projected =
        read(&mut l, |s| s.get_query_result(r#"{"selector":{"size":5},"fields":["size"]}"#).unwrap().next());
    assert_eq!(projected.unwrap().unwrap().value, br#"{"size":5}"#);
    let page = read(&mut l, |s| {
        let (it, meta) = s.get_query_result_with_pagination(r#"{"selector":{"size":{"$gt":0}}}"#, 2, "").unwrap();
        (keys(it), meta)
    });
    assert_eq!(page.0, ["d1", "d2"]);
    assert_eq!((page.1.fetched_records_count, page.1.bookmark.as_str()), (2, "d2"));
    let next = read(&mut l, |s| {
        let (it, meta) = s.get_query_result_with_pagination(r#"{"selector":{"size":{"$gt":0}}}"#, 2, "d2").unwrap();
        (keys(it), meta.bookmark)
    });
    assert_eq!(next, (vec!["d3".to_owned()], "d3".to_owned()));
    // A page request without a bookmark resumes at the query's own, as the peer serves it.
    let resumed = read(&mut l, |s| {
        let (it, _) =
            s.get_query_result_with_pagination(r#"{"selector":{"size":{"$gt":0}},"bookmark":"d1"}"#, 5, "").unwrap();
        keys(it)
    });
    assert_eq!(resumed, ["d2", "d3"]);
    assert_eq!(read(&mut l, |s| keys(s.get_private_data_query_result("coll", r#"{"selector":{}}"#).unwrap())), ["p1"]);
    let err = read(&mut l, |s| s.get_query_result("{").unwrap_err());
    assert!(matches!(err, Error::Peer(ref m) if m.starts_with("GET_QUERY_RESULT failed: transaction ID: ")), "{err:?}");
}

#[test]
fn history_is_newest_first_with_tx_ids_and_timestamps() {
    let mut l = MockLedger::new();
    l.invoke::<Probe>(&["put", "h", "1"]);
    l.tx_timestamp.seconds += 10;
    l.invoke::<Probe>(&["put", "h", "2"]);
    l.invoke::<Probe>(&["fail", "h", "3"]);
    l.invoke::<Probe>(&["del", "h"]);
    let history: Vec<_> = read(&mut l, |s| s.get_history_for_key("h").unwrap().map(Result::unwrap).collect());
    let summary: Vec<_> = history
        .iter()
        .map(|m| (m.tx_id.as_str(), m.value.as_slice(), m.is_delete, m.timestamp.unwrap().seconds))
        .collect();
    assert_eq!(
        summary,
        [
            ("tx4", &b""[..], true, 1_704_067_210),
            ("tx2", b"2", false, 1_704_067_210),
            ("tx1", b"1", false, 1_704_067_200)
        ]
    );
    assert_eq!(l.history("h"), history);
    assert!(read(&mut l, |s| s.get_history_for_key("never").unwrap().next().is_none()));
}

#[test]
fn validation_parameters_live_with_their_key() {
    let mut l = ledger_with(&["k"]);
    let r = l.run(|s| {
        s.set_state_validation_parameter("k", b"ep").unwrap();
        s.set_state_validation_parameter("missing", b"ep").unwrap();
        s.set_private_data_validation_parameter("coll", "nokey", b"ep").unwrap();
        Response::from_result(s.get_state_validation_parameter("k").map(|v| format!("{v:?}")))
    });
    assert_eq!(r.payload, b"None", "reads see committed metadata only");
    assert_eq!(l.validation_parameter("", "k"), Some(&b"ep"[..]));
    assert_eq!(l.validation_parameter("", "missing"), None, "a key that does not exist stores nothing");
    assert_eq!(l.validation_parameter("coll", "nokey"), None);
    assert_eq!(read(&mut l, |s| s.get_state_validation_parameter("k").unwrap()), Some(b"ep".to_vec()));
    l.invoke::<Probe>(&["put", "k", "v2"]);
    assert_eq!(l.validation_parameter("", "k"), Some(&b"ep"[..]), "an update keeps the policy");
    l.invoke::<Probe>(&["del", "k"]);
    l.invoke::<Probe>(&["put", "k", "v3"]);
    assert_eq!(l.validation_parameter("", "k"), None, "a delete removes it");
}

#[test]
fn private_hashes_and_multi_gets() {
    let mut l = MockLedger::new();
    l.set_private_data("collA", "secret", b"s3cr3t");
    let (hash, none, multi) = read(&mut l, |s| {
        (
            s.get_private_data_hash("collA", "secret").unwrap(),
            s.get_private_data_hash("collA", "none").unwrap(),
            s.get_multiple_private_data("collA", &["secret", "none"]).unwrap(),
        )
    });
    let hex: String = hash.unwrap().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "4e738ca5563c06cfd0018299933d58db1dd8bf97f6973dc99bf6cdc64b5550bd");
    assert_eq!((none, multi), (None, vec![Some(b"s3cr3t".to_vec()), None]));
    let err = read(&mut l, |s| s.get_private_data_hash("", "k").unwrap_err());
    assert_eq!(err.message(), "collection must not be an empty string");
    l.invoke::<Probe>(&["purge", "collA", "secret"]);
    assert_eq!(l.private_data("collA", "secret"), None);
}

/// A chaincode whose every invocation writes `k`.
struct Writer;

impl Chaincode for Writer {
    fn invoke(stub: &mut Stub) -> Response {
        Response::from_result(stub.put_state("k", b"v").map(|_| Vec::new()))
    }
}

#[test]
fn a_callee_on_the_callers_channel_runs_in_its_transaction() {
    let mut l = MockLedger::new();
    l.register::<Writer>("writer", MockLedger::new());
    // One simulator: after the caller's paginated query the callee may not write, with the peer's text.
    let refused = l.run(|s| {
        s.get_state_by_range_with_pagination("", "", 10, "").unwrap();
        let answer = s.invoke_chaincode("writer", &["w"], "").unwrap();
        Response::error(answer.message)
    });
    assert!(refused.message.contains("Transaction has already performed a paginated query"), "{}", refused.message);
    assert_eq!(l.chaincode("writer").unwrap().state("k"), None);
    // Its writes commit with the caller's transaction, into its own namespace; on another channel they are dropped.
    assert!(l.run(|s| s.invoke_chaincode("writer", &["w"], "").unwrap()).is_success());
    assert_eq!(l.chaincode("writer").unwrap().state("k"), Some(&b"v"[..]));
    assert_eq!(l.state("k"), None);
    let mut other = MockLedger::new();
    other.register::<Writer>("writer", MockLedger::new());
    assert!(other.run(|s| s.invoke_chaincode("writer", &["w"], "elsewhere").unwrap()).is_success());
    assert_eq!(other.chaincode("writer").unwrap().state("k"), None);
}

#[test]
fn a_test_identity_reads_back_as_a_fabric_ca_identity() {
    let mut l = MockLedger::new();
    l.set_identity(&TestIdentity::new("Org1MSP", "user1").organizational_unit("client").attribute("role", "auditor"));
    let identity = read(&mut l, |s| s.client_identity().unwrap());
    assert_eq!(identity.msp_id(), "Org1MSP");
    // Go's `GetID`: base64 of `x509::<subject>::<issuer>`.
    let id = crate::der::base64_encode(b"x509::CN=user1,OU=client,O=Org1MSP::CN=ca.Org1MSP,O=Org1MSP");
    assert_eq!(identity.id(), id);
    assert_eq!(identity.get_attribute_value("role").as_deref(), Some("auditor"));
    assert!(identity.assert_attribute_value("role", "admin").is_err());
    let plain = TestIdentity::new("Org2MSP", "peer0").creator();
    l.creator = plain;
    assert_eq!(read(&mut l, |s| s.client_identity().unwrap().get_attribute_value("role")), None);
}
