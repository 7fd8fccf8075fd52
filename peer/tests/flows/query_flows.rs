//! Range, rich and history queries through the wire: batches, limits, pagination, bookmarks, read-only rules.

use wasmcc_proto::protos::QueryResponseMetadata;
use wasmcc_proto::queryresult::KeyModification;

use super::script::*;
use super::*;

fn keys_n(n: usize) -> Vec<(String, String)> {
    (0..n).map(|i| (format!("k{i:03}"), format!("v{i}"))).collect()
}

#[tokio::test]
async fn range_queries_come_in_batches_of_100_until_the_end() {
    let rig = Rig::new(ConnectOptions::default()).await;
    rig.peer.seed(CH, NS, keys_n(250));
    let (result, replies) = rig.run([range("", ""), Step::Next(0), Step::Next(1), Step::Next(2)]).await;

    let first = query(&replies[0]);
    assert_eq!((first.results.len(), first.has_more), (100, true));
    assert!(!first.id.is_empty());
    let kv = &kvs(&first)[0];
    assert_eq!((kv.namespace.as_str(), kv.key.as_str(), kv.value.as_slice()), (NS, "k000", &b"v0"[..]));
    let second = query(&replies[1]);
    assert_eq!((second.results.len(), second.has_more, second.id.as_str()), (100, true, first.id.as_str()));
    assert_eq!(keys(&second)[0], "k100");
    let third = query(&replies[2]);
    assert_eq!((third.results.len(), third.has_more), (50, false));
    assert_eq!(keys(&third).last().unwrap(), "k249");
    let txid = &result.txid;
    assert_eq!(
        err(&replies[3]),
        format!("QUERY_STATE_NEXT failed: transaction ID: {txid}: query iterator not found"),
        "the peer closed the exhausted iterator"
    );
    assert_eq!(result.own_rwset().reads.len(), 250, "every key handed out is in the read set");
    assert!(result.is_committed());
}

#[tokio::test]
async fn ranges_are_half_open_and_close_never_fails() {
    let rig = Rig::new(ConnectOptions::default()).await;
    rig.peer.seed(CH, NS, keys_n(20));
    let (_, replies) = rig.run([range("k005", "k008"), range("k015", ""), range("k100", ""), Step::Close(0)]).await;
    assert_eq!(keys(&query(&replies[0])), ["k005", "k006", "k007"]);
    assert_eq!(keys(&query(&replies[1])).len(), 5, "an empty end key runs to the end of the namespace");
    assert!(query(&replies[2]).results.is_empty());
    let closed = query(&replies[3]);
    assert_eq!((closed.has_more, closed.results.len()), (false, 0), "closing a finished iterator is fine");
}

#[tokio::test]
async fn total_query_limit_stops_the_iterator() {
    let rig = Rig::new(ConnectOptions { total_query_limit: 150, ..ConnectOptions::default() }).await;
    rig.peer.seed(CH, NS, keys_n(250));
    let (_, replies) = rig.run([range("", ""), Step::Next(0), Step::Next(1)]).await;
    assert_eq!((query(&replies[0]).results.len(), query(&replies[0]).has_more), (100, true));
    let last = query(&replies[1]);
    assert_eq!((last.results.len(), last.has_more), (50, false));
    assert!(err(&replies[2]).ends_with("query iterator not found"));
}

#[tokio::test]
async fn pagination_pages_with_bookmarks() {
    let rig = Rig::new(ConnectOptions::default()).await;
    rig.peer.seed(CH, NS, keys_n(10));
    let (result, replies) = rig
        .run([
            range_page("", "", 3, ""),
            range_page("", "", 3, "k003"),
            range_page("k008", "", 3, "k001"),
            range_page("", "", 5, "k007"),
            range_page("x", "y", 5, ""),
            range_page("", "k005", 0, "k002"),
            range_page("", "", -1, ""),
        ])
        .await;
    let page = |i: usize| {
        let response = query(&replies[i]);
        assert!(!response.has_more, "a paginated reply never has more");
        (keys(&response), response.metadata.clone())
    };
    let (first, meta) = page(0);
    assert_eq!(first, ["k000", "k001", "k002"]);
    let meta = QueryResponseMetadata::decode(&meta[..]).unwrap();
    assert_eq!((meta.fetched_records_count, meta.bookmark.as_str()), (3, "k003"), "the bookmark is the next key");
    assert_eq!(page(1).0, ["k003", "k004", "k005"]);
    assert_eq!(page(2).0, ["k001", "k002", "k003"], "a bookmark replaces the start key, even one after it");
    let (last, meta) = page(3);
    assert_eq!(last, ["k007", "k008", "k009"]);
    assert_eq!(page_meta(&query(&replies[3])).bookmark, "", "no bookmark after the last key");
    assert!(!meta.is_empty());
    let (none, meta) = page(4);
    assert!(none.is_empty() && meta.is_empty(), "0 results and no bookmark: metadata absent");
    assert_eq!(page(5).0, ["k002", "k003", "k004"], "pageSize 0 with a bookmark is paginated: everything");
    assert_eq!(page(6).0.len(), 10, "a negative pageSize is paginated: everything");
    assert!(result.is_committed(), "a read-only transaction with paginated queries commits");
}

#[tokio::test]
async fn paginated_queries_have_no_100_cut_but_respect_the_total_limit() {
    let rig = Rig::new(ConnectOptions { total_query_limit: 180, ..ConnectOptions::default() }).await;
    rig.peer.seed(CH, NS, keys_n(250));
    let (_, replies) = rig.run([range_page("", "", -1, ""), range_page("", "", 500, "")]).await;
    for reply in &replies {
        let response = query(reply);
        assert_eq!((response.results.len(), response.has_more), (180, false));
        assert_eq!(page_meta(&response).bookmark, "k180");
    }
}

#[tokio::test]
async fn paginated_and_private_queries_need_a_read_only_transaction() {
    let rig = Rig::new(ConnectOptions::default()).await;
    let (result, write_first) = rig.run([put("a", "1"), range_page("", "", 5, ""), range_private("c", "", "")]).await;
    let txid = &result.txid;
    assert_eq!(
        err(&write_first[1]),
        format!(
            "GET_STATE_BY_RANGE failed: transaction ID: {txid}: txid [{txid}]: unsuppored transaction. Paginated \
             queries are supported only in a read-only transaction"
        )
    );
    assert_eq!(
        err(&write_first[2]),
        format!(
            "GET_STATE_BY_RANGE failed: transaction ID: {txid}: txid [{txid}]: unsuppored transaction. Queries on pvt \
             data is supported only in a read-only transaction"
        )
    );

    let (result, query_first) = rig.run([rich_page(r#"{"selector":{}}"#, 5, ""), put("a", "1")]).await;
    let txid = &result.txid;
    ok(&query_first[0]);
    assert_eq!(
        err(&query_first[1]),
        format!(
            "PUT_STATE failed: transaction ID: {txid}: txid [{txid}]: unsuppored transaction. Transaction has already \
             performed a paginated query. Writes are not allowed"
        )
    );
    let (result, private_first) = rig.run([rich_private("c", r#"{"selector":{}}"#), put_private("c", "k", "v")]).await;
    let txid = &result.txid;
    assert_eq!(
        err(&private_first[1]),
        format!(
            "PUT_STATE failed: transaction ID: {txid}: txid [{txid}]: unsuppored transaction. Transaction has already \
             performed queries on pvt data. Writes are not allowed"
        )
    );
    let (_, unpaginated) = rig.run([put("a", "1"), range("", ""), rich(r#"{"selector":{}}"#)]).await;
    assert!(unpaginated.iter().all(|r| r.r#type == Type::Response as i32), "unpaginated public queries are fine");
}

fn marbles(peer: &PeerSim) {
    peer.seed(
        CH,
        NS,
        [
            ("m1", r#"{"docType":"marble","color":"red","size":5,"owner":"tom"}"#),
            ("m2", r#"{"docType":"marble","color":"blue","size":50,"owner":"ann"}"#),
            ("m3", r#"{"docType":"marble","color":"red","size":10,"owner":"bob"}"#),
            ("m4", r#"{"docType":"marble","color":"red","size":1,"owner":"ann"}"#),
            ("bin", "\u{1}not json"),
            ("arr", "[1,2,3]"),
        ],
    );
}

#[tokio::test]
async fn rich_queries_select_sort_and_project() {
    let rig = Rig::new(ConnectOptions::default()).await;
    marbles(&rig.peer);
    let (result, replies) = rig
        .run([
            rich(r#"{"selector":{"color":"red"}}"#),
            rich(r#"{"selector":{"docType":"marble","size":{"$gte":5}},"sort":[{"size":"desc"}]}"#),
            rich(r#"{"selector":{"$or":[{"owner":"ann"},{"size":{"$lt":6}}]},"fields":["owner","size"]}"#),
            rich(r#"{"selector":{}}"#),
            rich(r#"{"selector":{"color":{"$in":["blue"]}},"limit":0,"skip":0}"#),
            rich(r#"{"selector":{"docType":"marble"},"skip":2}"#),
            rich("{not json"),
        ])
        .await;
    assert_eq!(keys(&query(&replies[0])), ["m1", "m3", "m4"], "key order without a sort");
    assert_eq!(keys(&query(&replies[1])), ["m2", "m3", "m1"]);
    let projected = kvs(&query(&replies[2]));
    assert_eq!(projected.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), ["m1", "m2", "m4"]);
    assert_eq!(projected[0].value, br#"{"owner":"tom","size":5}"#);
    assert_eq!(keys(&query(&replies[3])), ["m1", "m2", "m3", "m4"], "values that are not JSON objects never match");
    assert_eq!(keys(&query(&replies[4])), ["m2"], "the query's own limit is overridden, as by the peer");
    assert_eq!(keys(&query(&replies[5])), ["m3", "m4"]);
    let stored = &kvs(&query(&replies[0]))[0];
    assert_eq!(stored.value, br#"{"docType":"marble","color":"red","size":5,"owner":"tom"}"#, "stored bytes as is");
    assert!(err(&replies[6]).starts_with(&format!("GET_QUERY_RESULT failed: transaction ID: {}: ", result.txid)));
    assert_eq!(result.own_rwset().reads.len(), 4, "rich query results are read");
}

#[tokio::test]
async fn rich_queries_paginate_by_last_key() {
    let rig = Rig::new(ConnectOptions::default()).await;
    marbles(&rig.peer);
    let q = r#"{"selector":{"docType":"marble"},"sort":[{"size":"asc"}]}"#;
    let (_, replies) = rig.run([rich_page(q, 2, ""), rich_page(q, 2, "m1"), rich_page(q, 2, "m2")]).await;
    let first = query(&replies[0]);
    assert_eq!(keys(&first), ["m4", "m1"]);
    assert_eq!((page_meta(&first).fetched_records_count, page_meta(&first).bookmark.as_str()), (2, "m1"));
    assert_eq!(keys(&query(&replies[1])), ["m3", "m2"]);
    let end = query(&replies[2]);
    assert!(end.results.is_empty() && end.metadata.is_empty());
}

#[tokio::test]
async fn history_is_newest_first_with_the_proposal_timestamps() {
    let rig = Rig::new(ConnectOptions::default()).await;
    let at = |s: i64, txid: &str| TxOptions::new().timestamp(s, 7).txid(txid);
    rig.run_with([put("k", "one")], &at(1_000, "tx-1")).await;
    rig.run_with([put("k", "two")], &at(2_000, "tx-2")).await;
    rig.run_with([del_private("", "k")], &at(3_000, "tx-3")).await;
    let (result, replies) = rig.run([history("k"), history("never")]).await;
    let response = query(&replies[0]);
    assert!(!response.has_more);
    let mods: Vec<KeyModification> =
        response.results.iter().map(|r| KeyModification::decode(&r.result_bytes[..]).unwrap()).collect();
    let summary: Vec<(&str, &[u8], i64, bool)> = mods
        .iter()
        .map(|m| (m.tx_id.as_str(), m.value.as_slice(), m.timestamp.unwrap().seconds, m.is_delete))
        .collect();
    assert_eq!(
        summary,
        [("tx-3", &b""[..], 3_000, true), ("tx-2", b"two", 2_000, false), ("tx-1", b"one", 1_000, false)]
    );
    assert_eq!(mods[0].timestamp.unwrap().nanos, 7);
    assert!(query(&replies[1]).results.is_empty());
    assert!(result.own_rwset().reads.is_empty(), "history queries are not reads");
    assert_eq!(rig.peer.history(CH, NS, "k").len(), 3);
}
