//! State metadata, private data, chaincode-to-chaincode calls and `init_required` through the wire.

use wasmcc_proto::protos::{StateMetadata, StateMetadataResult};

use super::script::*;
use super::*;

fn metadata_of(reply: &ChaincodeMessage) -> Vec<(String, Vec<u8>)> {
    let result = StateMetadataResult::decode(ok(reply)).unwrap();
    result.entries.into_iter().map(|e| (e.metakey, e.value)).collect()
}

#[tokio::test]
async fn state_metadata_is_written_read_and_dropped_for_missing_keys() {
    let rig = Rig::new(ConnectOptions::default()).await;
    rig.peer.seed(CH, NS, [("a", "1")]);
    let batch = WriteBatchState {
        rec: vec![WriteRecord {
            key: "a".into(),
            collection: String::new(),
            metadata: Some(StateMetadata { metakey: "OTHER".into(), value: b"x".to_vec() }),
            r#type: write_record::Type::PutStateMetadata as i32,
            ..Default::default()
        }],
    };
    let (result, replies) = rig
        .run([
            put_meta("", "a", VALIDATION_PARAMETER, "policy"),
            put_meta("", "ghost", VALIDATION_PARAMETER, "p"),
            get_meta("", "a"),
        ])
        .await;
    assert!(metadata_of(&replies[2]).is_empty(), "reads never see the transaction's own writes");
    assert!(result.is_committed(), "metadata on a key that does not exist still commits");
    assert_eq!(result.own_rwset().metadata_writes["a"][VALIDATION_PARAMETER], b"policy");
    assert_eq!(rig.peer.metadata(CH, NS, "a")[VALIDATION_PARAMETER], b"policy");
    assert!(rig.peer.get(CH, NS, "ghost").is_none() && rig.peer.metadata(CH, NS, "ghost").is_empty());

    let (_, replies) = rig.run([get_meta("", "a"), get_meta("", "missing")]).await;
    assert_eq!(metadata_of(&replies[0]), [(VALIDATION_PARAMETER.to_owned(), b"policy".to_vec())]);
    assert!(metadata_of(&replies[1]).is_empty());

    let (result, replies) = rig.run([req(Type::WriteBatchState, batch)]).await;
    ok(&replies[0]);
    assert!(result.is_committed());
    assert_eq!(rig.peer.metadata(CH, NS, "a").into_keys().collect::<Vec<_>>(), ["OTHER"], "a write replaces it all");
}

#[tokio::test]
async fn private_data_is_per_collection_with_hashes_and_purge() {
    let rig = Rig::new(ConnectOptions::default()).await;
    let (result, replies) = rig
        .run([put_private("secret", "k", "v1"), put_private("secret", "gone", "x"), get_private("secret", "k")])
        .await;
    assert!(ok(&replies[2]).is_empty(), "not its own write");
    assert!(result.is_committed());
    let coll = &result.own_rwset().collections["secret"];
    assert_eq!(coll.writes["k"].as_deref(), Some(&b"v1"[..]));
    assert_eq!(
        coll.hashed_writes()[&wasmcc_peer::world::rwset::hash(b"k")],
        Some(wasmcc_peer::world::rwset::hash(b"v1"))
    );
    assert_eq!(rig.peer.get_private(CH, NS, "secret", "k").as_deref(), Some(&b"v1"[..]));
    assert_eq!(rig.peer.get(CH, NS, "k"), None, "private data is not public state");

    let (result, replies) = rig
        .run([
            get_private("secret", "k"),
            private_hash("secret", "k"),
            private_hash("secret", "absent"),
            purge("secret", "gone"),
            purge("", "k"),
            get_private("other", "k"),
            put_meta("secret", "k", VALIDATION_PARAMETER, "p"),
            get_meta("secret", "k"),
        ])
        .await;
    let txid = &result.txid;
    assert_eq!(ok(&replies[0]), b"v1");
    assert_eq!(ok(&replies[1]), wasmcc_peer::world::rwset::hash(b"v1"));
    assert!(ok(&replies[2]).is_empty(), "the hash of an absent key is empty");
    ok(&replies[3]);
    assert_eq!(
        err(&replies[4]),
        format!("PURGE_PRIVATE_DATA failed: transaction ID: {txid}: only applicable for private data")
    );
    assert!(ok(&replies[5]).is_empty(), "collections are separate");
    ok(&replies[6]);
    assert!(metadata_of(&replies[7]).is_empty());
    assert!(result.is_committed());
    assert!(result.own_rwset().collections["secret"].purges.contains("gone"));
    assert_eq!(rig.peer.get_private(CH, NS, "secret", "gone"), None);
    assert_eq!(rig.peer.private_metadata(CH, NS, "secret", "k")[VALIDATION_PARAMETER], b"p");
    assert_eq!(rig.peer.private_snapshot(CH, NS, "secret").into_keys().collect::<Vec<_>>(), ["k"]);
}

#[tokio::test]
async fn private_data_is_refused_in_init() {
    let rig = Rig::new(ConnectOptions::default()).await;
    let (result, replies) = rig
        .init([get_private("c", "k"), put_private("c", "k", "v"), private_hash("c", "k"), purge("c", "k"), get("k")])
        .await;
    let txid = &result.txid;
    let refused = ["GET_STATE", "PUT_STATE", "GET_PRIVATE_DATA_HASH", "PURGE_PRIVATE_DATA"];
    for (reply, t) in replies.iter().zip(refused) {
        let want = format!("{t} failed: transaction ID: {txid}: private data APIs are not allowed in chaincode Init()");
        assert_eq!(err(reply), want);
    }
    ok(&replies[4]);
}

#[tokio::test]
async fn collection_membership_guards_reads() {
    let rig = Rig::new(ConnectOptions::default()).await;
    rig.peer.define_collection(NS, "org1only", CollectionConfig::new(["Org1MSP"]));
    rig.peer.seed_private(CH, NS, "org1only", [("k", "v")]);
    let org2 = Identity::generate("Org2MSP", "User1@org2.example.com").unwrap();
    let as_org2 = TxOptions::new().creator(org2);
    let steps = || {
        [
            get_private("org1only", "k"),
            put_private("org1only", "k2", "w"),
            get_private("nope", "k"),
            get_private("_implicit_org_Org1MSP", "k"),
        ]
    };
    let (result, replies) = rig.run_with(steps(), &as_org2).await;
    let txid = &result.txid;
    assert_eq!(
        err(&replies[0]),
        format!(
            "GET_STATE failed: transaction ID: {txid}: tx creator does not have read access permission on privatedata \
             in chaincodeName:{NS} collectionName: org1only"
        )
    );
    ok(&replies[1]);
    assert_eq!(
        err(&replies[2]),
        format!("GET_STATE failed: transaction ID: {txid}: collection {CH}/{NS}/nope could not be found")
    );
    ok(&replies[3]);

    let (_, replies) = rig.run(steps()).await;
    assert_eq!(ok(&replies[0]), b"v", "a member reads");
}

/// Two chaincodes on one peer: the caller (NS) and "callee".
async fn two_chaincodes() -> (Rig, Rig) {
    let caller = Rig::new(ConnectOptions::default()).await;
    let callee_ccid = "callee_1.0:00aa";
    let opts = ConnectOptions { namespace: Some("callee".into()), ..ConnectOptions::default() };
    let callee = Rig::with_peer(caller.peer.clone(), callee_ccid, opts).await;
    (caller, callee)
}

#[tokio::test]
async fn invoke_chaincode_on_the_same_channel_shares_the_transaction() {
    let (caller, callee) = two_chaincodes().await;
    caller.peer.seed(CH, "callee", [("c", "old")]);
    let (result, replies) = caller
        .run([put("mine", "1"), invoke("callee", [get("c"), put("c", "new"), Step::Event("Inner"), Step::Status(201)])])
        .await;
    let inner = ChaincodeMessage::decode(ok(&replies[1])).unwrap();
    assert_eq!(inner.r#type, Type::Completed as i32);
    assert_eq!((inner.txid.as_str(), inner.channel_id.as_str()), (result.txid.as_str(), CH));
    assert_eq!(Response::decode(&inner.payload[..]).unwrap().status, 201);
    assert_eq!(inner.chaincode_event.unwrap().event_name, "Inner", "the callee's event is in the inner message");
    assert!(result.event.is_none(), "and never becomes the caller's");

    // The callee ran with the same txid and proposal, and its reads and writes are in the caller's set.
    let callee_replies = callee.cc.replies(CH, &result.txid);
    assert_eq!(ok(&callee_replies[0]), b"old");
    let callee_tx = callee.cc.seen().into_iter().find(|m| m.r#type == Type::Transaction as i32).unwrap();
    let caller_tx = caller.cc.seen().into_iter().find(|m| m.r#type == Type::Transaction as i32).unwrap();
    assert_eq!(callee_tx.proposal, caller_tx.proposal);
    assert_eq!(result.rwset.namespaces.keys().collect::<Vec<_>>(), ["callee", NS]);
    assert_eq!(result.rwset.ns("callee").writes["c"].as_deref(), Some(&b"new"[..]));
    assert!(result.rwset.ns("callee").reads.contains_key("c"));
    assert!(result.is_committed());
    assert_eq!(caller.peer.get(CH, "callee", "c").as_deref(), Some(&b"new"[..]));
    assert_eq!(caller.peer.get(CH, NS, "mine").as_deref(), Some(&b"1"[..]));
    assert_eq!(callee.conn.log().for_tx(CH, &result.txid).len(), 3, "GET, PUT, COMPLETED on the callee stream");
}

#[tokio::test]
async fn invoke_chaincode_on_another_channel_discards_its_writes() {
    let (caller, callee) = two_chaincodes().await;
    caller.peer.seed("other", "callee", [("c", "there")]);
    let (result, replies) = caller.run([invoke("callee/other", [get("c"), put("c", "lost")])]).await;
    let inner = ChaincodeMessage::decode(ok(&replies[0])).unwrap();
    assert_eq!((inner.r#type, inner.channel_id.as_str()), (Type::Completed as i32, "other"));
    assert_eq!(ok(&callee.cc.replies("other", &result.txid)[0]), b"there");
    assert!(result.is_committed());
    assert!(!result.rwset.namespaces.contains_key("callee"));
    assert_eq!(caller.peer.get("other", "callee", "c").as_deref(), Some(&b"there"[..]));
}

#[tokio::test]
async fn invoke_chaincode_failures() {
    let (caller, _callee) = two_chaincodes().await;
    let (result, replies) =
        caller.run([invoke("nobody", []), invoke(NS, [get("x")]), invoke("callee", [Step::Status(500)])]).await;
    let txid = &result.txid;
    assert_eq!(
        err(&replies[0]),
        format!(
            "INVOKE_CHAINCODE failed: transaction ID: {txid}: execute failed: invalid invocation: [channel {CH}] failed \
             to get chaincode container info for nobody: chaincode nobody not found"
        )
    );
    assert_eq!(
        err(&replies[1]),
        format!(
            "INVOKE_CHAINCODE failed: transaction ID: {txid}: execute failed: error sending: txid: {txid}({CH}) exists"
        ),
        "a chaincode cannot call itself on its own channel"
    );
    let inner = ChaincodeMessage::decode(ok(&replies[2])).unwrap();
    assert_eq!(Response::decode(&inner.payload[..]).unwrap().status, 500, "a failing callee is still a RESPONSE");
}

#[tokio::test]
async fn init_required_demands_init_first() {
    let definition = Some(ChaincodeDefinition::init_required("1.0"));
    let rig = Rig::new(ConnectOptions { definition, ..ConnectOptions::default() }).await;
    let early = rig.conn.invoke(CH, script([put("a", "1")])).await.unwrap_err();
    assert!(matches!(early, SimError::InvalidInvocation { .. }), "{early:?}");
    assert_eq!(
        early.to_string(),
        format!(
            "invalid invocation: chaincode '{NS}' has not been initialized for this version, must call as init first"
        )
    );
    assert!(rig.cc.seen().iter().all(|m| m.r#type != Type::Transaction as i32), "nothing was sent");

    let (result, replies) = rig.init([range_page("", "", 5, "")]).await;
    let init = rig.cc.seen().into_iter().find(|m| m.r#type == Type::Init as i32).expect("an INIT");
    assert!(ChaincodeInput::decode(&init.payload[..]).unwrap().is_init);
    assert!(
        err(&replies[0]).contains("Paginated queries are supported only in a read-only transaction"),
        "the key write counts"
    );
    assert!(result.is_committed());
    assert_eq!(rig.peer.get(CH, NS, INITIALIZED_KEY).as_deref(), Some(&b"1.0"[..]));

    let (result, _) = rig.run([put("a", "1")]).await;
    assert!(result.is_committed());
    assert_eq!(result.own_rwset().reads[INITIALIZED_KEY], rig.peer.version(CH, NS, INITIALIZED_KEY));
    let again = rig.conn.init(CH, script([])).await.unwrap_err();
    assert_eq!(
        again.to_string(),
        format!("invalid invocation: chaincode '{NS}' is already initialized but called as init")
    );
}

#[tokio::test]
async fn init_is_refused_without_init_required() {
    let definition = Some(ChaincodeDefinition::new("1.0"));
    let rig = Rig::new(ConnectOptions { definition, ..ConnectOptions::default() }).await;
    let refused = rig.conn.init(CH, script([])).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        format!("invalid invocation: chaincode '{NS}' does not require initialization but called as init")
    );
    let (result, _) = rig.run([put("a", "1")]).await;
    assert!(result.is_committed());
    assert!(!result.own_rwset().reads.contains_key(INITIALIZED_KEY));
}

#[tokio::test]
async fn write_sets_compare_across_runs() {
    let first = Rig::new(ConnectOptions::default()).await;
    let second = Rig::new(ConnectOptions::default()).await;
    second.peer.seed(CH, NS, [("b", "already")]);
    let steps = || [get("b"), put("a", "1"), put_private("c", "p", "2"), put_meta("", "a", VALIDATION_PARAMETER, "x")];
    let (a, _) = first.run(steps()).await;
    let (b, _) = second.run(steps()).await;
    assert_ne!(a.rwset, b.rwset, "they read different versions");
    assert_eq!(a.rwset.writes(), b.rwset.writes(), "but write the same");
}
