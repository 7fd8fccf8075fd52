//! The conformance chaincode (docs/conformance.md): one function per stub call, each answering in a fixed format,
//! so the same scenario run against this module and against the Node `fabric-shim` twin
//! (tests/node/chaincode/probe.js) must give byte-identical responses, events and write sets.
//!
//! JSON is written by hand, compact and with keys in the documented order (a JSON map would sort them); strings
//! go through `serde_json`, which escapes exactly as `JSON.stringify` does. Ledger values are written as UTF-8
//! text, invalid sequences replaced with U+FFFD as Node's `Buffer.toString` does.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use wasmcc_sdk::statebased::{KeyEndorsementPolicy, Role};
use wasmcc_sdk::{Chaincode, Error, HistoryIterator, KeyValue, QueryMetadata, Response, StateIterator, Stub};

pub struct Probe;

wasmcc_sdk::chaincode!(Probe);

impl Chaincode for Probe {
    /// `init [value]` writes `initialized` (default "yes"); anything else runs as in `invoke`, so a test can
    /// show which calls INIT may make.
    fn init(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        if function == "init" {
            let value = params.first().map_or("yes", String::as_str);
            return Response::from_result(stub.put_state("initialized", value.as_bytes()).map(|()| Vec::new()));
        }
        answer(run(stub, &function, &params))
    }

    fn invoke(stub: &mut Stub) -> Response {
        let (function, params) = stub.function_and_parameters();
        answer(run(stub, &function, &params))
    }
}

/// Why a function fails: the message of the status-500 answer.
struct Fail(String);

impl From<Error> for Fail {
    /// A failed stub call answers with the error's text, as Node's `shim.error(err.message)`.
    fn from(e: Error) -> Self {
        Fail(e.to_string())
    }
}

type Out = Result<Vec<u8>, Fail>;

fn answer(out: Out) -> Response {
    match out {
        Ok(payload) => Response::success(payload),
        Err(Fail(message)) => Response::error(message),
    }
}

fn empty<T>(_: T) -> Vec<u8> {
    Vec::new()
}

fn run(stub: &mut Stub, function: &str, p: &[String]) -> Out {
    let need = |n: usize| {
        if p.len() < n {
            Err(Fail(format!("{function}: expected at least {n} arguments, got {}", p.len())))
        } else {
            Ok(())
        }
    };
    match function {
        "get" => {
            need(1)?;
            Ok(stub.get_state(&p[0])?.unwrap_or_default())
        }
        "put" => {
            for pair in p.chunks_exact(2) {
                stub.put_state(&pair[0], pair[1].as_bytes())?;
            }
            Ok(Vec::new())
        }
        "del" => {
            need(1)?;
            Ok(stub.del_state(&p[0]).map(empty)?)
        }
        "getMulti" => {
            let values = stub.get_multiple_states(p)?;
            let items: Vec<String> =
                values.iter().map(|v| v.as_deref().map_or_else(|| "null".into(), |v| js(&text(v)))).collect();
            Ok(format!("[{}]", items.join(",")).into_bytes())
        }
        // wasmcc only (Node's fabric-shim has no multi-key read): GetMultiplePrivateData.
        "getMultiPrivate" => {
            need(1)?;
            let values = stub.get_multiple_private_data(&p[0], &p[1..])?;
            let items: Vec<String> =
                values.iter().map(|v| v.as_deref().map_or_else(|| "null".into(), |v| js(&text(v)))).collect();
            Ok(format!("[{}]", items.join(",")).into_bytes())
        }
        // wasmcc only (Node's fabric-shim lacks it): GetAllStatesCompositeKeyWithPagination.
        "allCompositePage" => {
            need(2)?;
            let size = number(&p[0], "pageSize")?;
            page(stub.get_all_states_composite_key_with_pagination(size, &p[1])?)
        }
        "range" => {
            need(2)?;
            results(stub.get_state_by_range(&p[0], &p[1])?, None)
        }
        "rangePage" => {
            need(4)?;
            let size = number(&p[2], "pageSize")?;
            page(stub.get_state_by_range_with_pagination(&p[0], &p[1], size, &p[3])?)
        }
        "partial" => {
            need(1)?;
            results(stub.get_state_by_partial_composite_key(&p[0], &p[1..])?, None)
        }
        "partialPage" => {
            need(3)?;
            let size = number(&p[0], "pageSize")?;
            page(stub.get_state_by_partial_composite_key_with_pagination(&p[2], &p[3..], size, &p[1])?)
        }
        "query" => {
            need(1)?;
            results(stub.get_query_result(&p[0])?, None)
        }
        "queryPage" => {
            need(3)?;
            let size = number(&p[1], "pageSize")?;
            page(stub.get_query_result_with_pagination(&p[0], size, &p[2])?)
        }
        "rangeFirst" => {
            need(3)?;
            let n = number(&p[2], "n")?;
            results(stub.get_state_by_range(&p[0], &p[1])?, Some(usize::try_from(n).unwrap_or(0)))
        }
        "history" => {
            need(1)?;
            history(stub.get_history_for_key(&p[0])?)
        }
        "putPrivate" => {
            need(3)?;
            Ok(stub.put_private_data(&p[0], &p[1], p[2].as_bytes()).map(empty)?)
        }
        "getPrivate" => {
            need(2)?;
            Ok(stub.get_private_data(&p[0], &p[1])?.unwrap_or_default())
        }
        "delPrivate" => {
            need(2)?;
            Ok(stub.del_private_data(&p[0], &p[1]).map(empty)?)
        }
        "purgePrivate" => {
            need(2)?;
            Ok(stub.purge_private_data(&p[0], &p[1]).map(empty)?)
        }
        "getPrivateHash" => {
            need(2)?;
            Ok(hex(&stub.get_private_data_hash(&p[0], &p[1])?.unwrap_or_default()).into_bytes())
        }
        "privateRange" => {
            need(3)?;
            results(stub.get_private_data_by_range(&p[0], &p[1], &p[2])?, None)
        }
        "privatePartial" => {
            need(2)?;
            results(stub.get_private_data_by_partial_composite_key(&p[0], &p[1], &p[2..])?, None)
        }
        "privateQuery" => {
            need(2)?;
            results(stub.get_private_data_query_result(&p[0], &p[1])?, None)
        }
        "setEP" => {
            need(1)?;
            Ok(stub.set_state_validation_parameter(&p[0], &member_policy(&p[1..])?).map(empty)?)
        }
        "getEP" => {
            need(1)?;
            Ok(hex(&stub.get_state_validation_parameter(&p[0])?.unwrap_or_default()).into_bytes())
        }
        "setPrivateEP" => {
            need(2)?;
            Ok(stub.set_private_data_validation_parameter(&p[0], &p[1], &member_policy(&p[2..])?).map(empty)?)
        }
        "getPrivateEP" => {
            need(2)?;
            Ok(hex(&stub.get_private_data_validation_parameter(&p[0], &p[1])?.unwrap_or_default()).into_bytes())
        }
        "event" => {
            for pair in p.chunks_exact(2) {
                stub.set_event(&pair[0], pair[1].as_bytes())?;
            }
            Ok(Vec::new())
        }
        "invoke" => {
            need(2)?;
            let r = stub.invoke_chaincode(&p[0], &p[2..], &p[1])?;
            if !r.is_success() {
                return Err(Fail(r.message));
            }
            Ok(format!(r#"{{"status":{},"message":{},"payload":{}}}"#, r.status, js(&r.message), js(&text(&r.payload)))
                .into_bytes())
        }
        "ctx" => context(stub),
        // wasmcc only: Node's fabric-shim has no GetDecorations, so this stays out of the conformance suite.
        "decorations" => {
            let items: Vec<String> =
                stub.decorations().iter().map(|(k, v)| format!("{}:{}", js(k), js(&text(v)))).collect();
            Ok(format!("{{{}}}", items.join(",")).into_bytes())
        }
        "composite" => {
            need(1)?;
            Ok(js(&stub.create_composite_key(&p[0], &p[1..])?).into_bytes())
        }
        "split" => {
            need(1)?;
            let (object_type, attributes) = stub.split_composite_key(&p[0])?;
            Ok(format!(r#"{{"objectType":{},"attributes":{}}}"#, js(&object_type), js_list(&attributes)).into_bytes())
        }
        "identity" => {
            need(1)?;
            let id = stub.client_identity()?;
            let attr = id.get_attribute_value(&p[0]).map_or_else(|| "null".into(), |v| js(&v));
            Ok(format!(r#"{{"mspId":{},"attr":{attr}}}"#, js(id.msp_id())).into_bytes())
        }
        "fail" => Err(Fail(p.first().cloned().unwrap_or_default())),
        "writeThenQuery" => {
            need(3)?;
            stub.put_state(&p[0], p[1].as_bytes())?;
            page(stub.get_query_result_with_pagination(&p[2], 10, "")?)
        }
        "queryThenWrite" => {
            need(3)?;
            let (iter, _) = stub.get_query_result_with_pagination(&p[0], 10, "")?;
            drain(iter, None)?;
            Ok(stub.put_state(&p[1], p[2].as_bytes()).map(empty)?)
        }
        "putGet" => {
            need(2)?;
            stub.put_state(&p[0], p[1].as_bytes())?;
            Ok(stub.get_state(&p[0])?.unwrap_or_default())
        }
        _ => Err(Fail(format!("unknown function: {function}"))),
    }
}

/// `{"txId":…,"channelId":…,"args":[…],"transient":{…},"binding":"hex","seconds":S,"nanos":N,"mspId":…,
/// "signedProposal":bool}`; the MSP ID is "" without a creator.
fn context(stub: &Stub) -> Out {
    let ts = stub.tx_timestamp()?;
    let transient: Vec<String> = stub.transient().iter().map(|(k, v)| format!("{}:{}", js(k), js(&text(v)))).collect();
    let creator = stub.creator();
    let msp_id = if creator.is_empty() { String::new() } else { stub.client_identity()?.msp_id().to_owned() };
    Ok(format!(
        concat!(
            r#"{{"txId":{},"channelId":{},"args":{},"transient":{{{}}},"binding":{},"seconds":{},"nanos":{},"#,
            r#""mspId":{},"signedProposal":{}}}"#
        ),
        js(&stub.tx_id()),
        js(&stub.channel_id()),
        js_list(&stub.string_args()),
        transient.join(","),
        js(&hex(&stub.binding())),
        ts.seconds,
        ts.nanos,
        js(&msp_id),
        stub.signed_proposal().is_some(),
    )
    .into_bytes())
}

/// A policy requiring a MEMBER of each MSP (sorted and deduplicated by `KeyEndorsementPolicy`).
fn member_policy(msps: &[String]) -> Result<Vec<u8>, Fail> {
    let mut ep = KeyEndorsementPolicy::new(None)?;
    ep.add_orgs(Role::Member, msps)?;
    Ok(ep.policy())
}

/// Reads up to `limit` results (all without one), then closes the iterator, like Go's `defer iter.Close()`.
fn drain(mut iter: StateIterator, limit: Option<usize>) -> Result<Vec<KeyValue>, Fail> {
    let mut out = Vec::new();
    while limit.is_none_or(|n| out.len() < n) {
        match iter.next() {
            Some(kv) => out.push(kv?),
            None => break,
        }
    }
    iter.close();
    Ok(out)
}

fn results_json(kvs: &[KeyValue]) -> String {
    let items: Vec<String> =
        kvs.iter().map(|kv| format!(r#"{{"key":{},"value":{}}}"#, js(&kv.key), js(&text(&kv.value)))).collect();
    format!("[{}]", items.join(","))
}

/// `[{"key":"k","value":"v"},…]`.
fn results(iter: StateIterator, limit: Option<usize>) -> Out {
    Ok(results_json(&drain(iter, limit)?).into_bytes())
}

/// `{"results":[…],"fetched":N,"bookmark":"b"}`.
fn page((iter, meta): (StateIterator, QueryMetadata)) -> Out {
    let kvs = drain(iter, None)?;
    Ok(format!(
        r#"{{"results":{},"fetched":{},"bookmark":{}}}"#,
        results_json(&kvs),
        meta.fetched_records_count,
        js(&meta.bookmark)
    )
    .into_bytes())
}

/// `[{"txId":"t","value":"v","isDelete":false,"seconds":S}]`, S = 0 without a timestamp.
fn history(mut iter: HistoryIterator) -> Out {
    let mut items = Vec::new();
    for m in iter.by_ref() {
        let m = m?;
        let seconds = m.timestamp.map_or(0, |t| t.seconds);
        items.push(format!(
            r#"{{"txId":{},"value":{},"isDelete":{},"seconds":{seconds}}}"#,
            js(&m.tx_id),
            js(&text(&m.value)),
            m.is_delete
        ));
    }
    iter.close();
    Ok(format!("[{}]", items.join(",")).into_bytes())
}

/// A decimal int32, as the Node twin parses it (`[+-]digits`).
fn number(s: &str, what: &str) -> Result<i32, Fail> {
    s.parse().map_err(|_| Fail(format!("invalid {what}: {s}")))
}

/// A JSON string.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn js_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| js(s)).collect();
    format!("[{}]", items.join(","))
}

/// Ledger bytes as text, invalid UTF-8 replaced with U+FFFD.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
