//! fabric-samples `marbles02` in Rust, as specified in docs/conformance.md ("marbles"): marbles under their names,
//! a `color~name` composite-key index, range and rich queries with and without pagination, and key history.
//!
//! Its Node twin (tests/node/chaincode/marbles.js, on Fabric's own `fabric-shim`) must answer byte for byte the
//! same; the conformance suite checks that.
#![forbid(unsafe_code)]

use serde_json::{Map, Value};
use wasmcc_sdk::{Chaincode, Error, Response, Stub};

pub struct Marbles;

wasmcc_sdk::chaincode!(Marbles);

/// The name of the composite-key index: `color~name` → 0x00.
const INDEX: &str = "color~name";
const KEY_PART_ERROR: &str = "color and name must be non-empty and must not contain U+0000 or U+10FFFF";
/// JavaScript's `Number.MAX_SAFE_INTEGER`: the largest integer both implementations read exactly.
const MAX_SAFE: i64 = (1 << 53) - 1;

/// Ok: the payload; Err: the message of a status-500 answer.
type Outcome = Result<Vec<u8>, String>;

impl Chaincode for Marbles {
    fn invoke(stub: &mut Stub) -> Response {
        let (function, args) = stub.function_and_parameters();
        let outcome = match function.as_str() {
            "initMarble" => init_marble(stub, &args),
            "readMarble" => read_marble(stub, &args),
            "delete" => delete(stub, &args),
            "transferMarble" => transfer_marble(stub, &args),
            "transferMarblesBasedOnColor" => transfer_marbles_based_on_color(stub, &args),
            "getMarblesByRange" => get_marbles_by_range(stub, &args),
            "getMarblesByRangeWithPagination" => get_marbles_by_range_with_pagination(stub, &args),
            "queryMarblesByOwner" => query_marbles_by_owner(stub, &args),
            "queryMarbles" => query_marbles(stub, &args),
            "queryMarblesWithPagination" => query_marbles_with_pagination(stub, &args),
            "getHistoryForMarble" => get_history_for_marble(stub, &args),
            _ => Err(format!("unknown function: {function}")),
        };
        match outcome {
            Ok(payload) => Response::success(payload),
            Err(message) => Response::error(message),
        }
    }
}

/// A stub error's text, as the Go shim's `err.Error()`.
fn text(e: Error) -> String {
    e.to_string()
}

/// A marble record: `{"docType":…,"name":…,"color":…,"size":N,"owner":…}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marble {
    pub doc_type: String,
    pub name: String,
    pub color: String,
    pub size: i64,
    pub owner: String,
}

impl Marble {
    /// Compact JSON, members in the order of the spec.
    pub fn to_json(&self) -> Vec<u8> {
        format!(
            r#"{{"docType":{},"name":{},"color":{},"size":{},"owner":{}}}"#,
            js(&self.doc_type),
            js(&self.name),
            js(&self.color),
            self.size,
            js(&self.owner)
        )
        .into_bytes()
    }

    /// Decodes a stored marble: a JSON object whose members, when present and not null, have the right type.
    pub fn decode(bytes: &[u8]) -> Option<Marble> {
        let m = object(bytes)?;
        Some(Marble {
            doc_type: string(&m, "docType")?,
            name: string(&m, "name")?,
            color: string(&m, "color")?,
            size: integer(&m, "size")?,
            owner: string(&m, "owner")?,
        })
    }
}

/// A JSON string.
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The value as a JSON object (decoded from its UTF-8 text, invalid sequences replaced as Node does).
fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_str(&String::from_utf8_lossy(bytes)) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// A string member: absent or null → "", a string → itself, anything else → None.
fn string(m: &Map<String, Value>, field: &str) -> Option<String> {
    match m.get(field) {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => None,
    }
}

/// An integer member: absent or null → 0; a number with an integral value of magnitude ≤ 2^53−1 → it; else None.
fn integer(m: &Map<String, Value>, field: &str) -> Option<i64> {
    match m.get(field) {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                (i.unsigned_abs() <= MAX_SAFE as u64).then_some(i)
            } else if n.is_u64() {
                None
            } else {
                let f = n.as_f64()?;
                (f.fract() == 0.0 && f.abs() <= MAX_SAFE as f64).then_some(f as i64)
            }
        }
        Some(_) => None,
    }
}

/// `[+-]digits` of magnitude ≤ 2^53−1.
fn parse_safe_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    (n.unsigned_abs() <= MAX_SAFE as u64).then_some(n)
}

/// `[+-]digits` within int32.
fn parse_i32(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A composite-key part both shims accept alike: non-empty, without U+0000 and U+10FFFF.
fn key_part_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\u{0}', '\u{10FFFF}'])
}

/// The committed value, `None` when absent (the peer cannot tell absent from empty).
fn present(value: Option<Vec<u8>>) -> Option<Vec<u8>> {
    value.filter(|v| !v.is_empty())
}

/// Reads an iterator to its end.
fn read_all<T>(iter: &mut impl Iterator<Item = Result<T, Error>>) -> Result<Vec<T>, String> {
    iter.map(|r| r.map_err(text)).collect()
}

fn init_marble(stub: &mut Stub, args: &[String]) -> Outcome {
    if args.len() != 4 {
        return Err("Incorrect number of arguments. Expecting 4".into());
    }
    for (arg, ordinal) in args.iter().zip(["1st", "2nd", "3rd", "4th"]) {
        if arg.is_empty() {
            return Err(format!("{ordinal} argument must be a non-empty string"));
        }
    }
    let name = args[0].clone();
    let color = args[1].to_lowercase();
    let owner = args[3].to_lowercase();
    let size = parse_safe_int(&args[2]).ok_or("3rd argument must be a numeric string")?;
    if !key_part_ok(&color) || !key_part_ok(&name) {
        return Err(KEY_PART_ERROR.into());
    }
    let existing = stub.get_state(&name).map_err(|e| format!("Failed to get marble: {e}"))?;
    if present(existing).is_some() {
        return Err(format!("This marble already exists: {name}"));
    }
    let index_key = stub.create_composite_key(INDEX, &[color.as_str(), name.as_str()]).map_err(text)?;
    let marble = Marble { doc_type: "marble".into(), name: name.clone(), color, size, owner };
    stub.put_state(&name, &marble.to_json()).map_err(text)?;
    stub.put_state(&index_key, &[0]).map_err(text)?;
    Ok(Vec::new())
}

fn read_marble(stub: &mut Stub, args: &[String]) -> Outcome {
    let [name] = args else {
        return Err("Incorrect number of arguments. Expecting name of the marble to query".into());
    };
    let value = stub.get_state(name).map_err(|_| format!(r#"{{"Error":"Failed to get state for {name}"}}"#))?;
    present(value).ok_or_else(|| format!(r#"{{"Error":"Marble does not exist: {name}"}}"#))
}

fn delete(stub: &mut Stub, args: &[String]) -> Outcome {
    let [name] = args else {
        return Err("Incorrect number of arguments. Expecting 1".into());
    };
    let value = stub.get_state(name).map_err(|_| format!(r#"{{"Error":"Failed to get state for {name}"}}"#))?;
    let value = present(value).ok_or_else(|| format!(r#"{{"Error":"Marble does not exist: {name}"}}"#))?;
    let marble = Marble::decode(&value).ok_or_else(|| format!(r#"{{"Error":"Failed to decode JSON of: {name}"}}"#))?;
    if !key_part_ok(&marble.color) || !key_part_ok(&marble.name) {
        return Err(KEY_PART_ERROR.into());
    }
    stub.del_state(name).map_err(|e| format!("Failed to delete state:{e}"))?;
    let index_key = stub.create_composite_key(INDEX, &[marble.color.as_str(), marble.name.as_str()]).map_err(text)?;
    stub.del_state(&index_key).map_err(|e| format!("Failed to delete state:{e}"))?;
    Ok(Vec::new())
}

fn transfer_marble(stub: &mut Stub, args: &[String]) -> Outcome {
    if args.len() < 2 {
        return Err("Incorrect number of arguments. Expecting 2".into());
    }
    let name = &args[0];
    let new_owner = args[1].to_lowercase();
    let value = stub.get_state(name).map_err(|e| format!("Failed to get marble:{e}"))?;
    let value = present(value).ok_or("Marble does not exist")?;
    let mut marble = Marble::decode(&value).ok_or_else(|| format!("Failed to decode marble: {name}"))?;
    marble.owner = new_owner;
    stub.put_state(name, &marble.to_json()).map_err(text)?;
    Ok(Vec::new())
}

fn transfer_marbles_based_on_color(stub: &mut Stub, args: &[String]) -> Outcome {
    if args.len() < 2 {
        return Err("Incorrect number of arguments. Expecting 2".into());
    }
    let color = &args[0];
    if !key_part_ok(color) {
        return Err(KEY_PART_ERROR.into());
    }
    let new_owner = args[1].to_lowercase();
    let mut iter = stub.get_state_by_partial_composite_key(INDEX, &[color.as_str()]).map_err(text)?;
    let mut n = 0usize;
    let mut outcome = Ok(());
    for item in iter.by_ref() {
        let step = item.map_err(text).and_then(|kv| {
            let (_, attributes) = stub.split_composite_key(&kv.key).map_err(text)?;
            let [_, name, ..] = attributes.as_slice() else {
                return Err("Transfer failed: invalid color~name index key".to_owned());
            };
            transfer_marble(stub, &[name.clone(), new_owner.clone()]).map_err(|m| format!("Transfer failed: {m}"))
        });
        if let Err(e) = step {
            outcome = Err(e);
            break;
        }
        n += 1;
    }
    iter.close();
    outcome?;
    Ok(format!("Transferred {n} {color} marbles to {new_owner}").into_bytes())
}

/// `[{"Key":"k","Record":<value as stored>},…]`
fn records_json<'a>(kvs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut out = b"[".to_vec();
    for (i, (key, value)) in kvs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!(r#"{{"Key":{},"Record":"#, js(key)).as_bytes());
        out.extend_from_slice(value);
        out.push(b'}');
    }
    out.push(b']');
    out
}

fn page_json(records: Vec<u8>, count: i32, bookmark: &str) -> Vec<u8> {
    let mut out = br#"{"Results":"#.to_vec();
    out.extend_from_slice(&records);
    out.extend_from_slice(
        format!(r#","ResponseMetadata":{{"RecordsCount":{count},"Bookmark":{}}}}}"#, js(bookmark)).as_bytes(),
    );
    out
}

fn get_marbles_by_range(stub: &mut Stub, args: &[String]) -> Outcome {
    if args.len() < 2 {
        return Err("Incorrect number of arguments. Expecting 2".into());
    }
    let mut iter = stub.get_state_by_range(&args[0], &args[1]).map_err(text)?;
    let kvs = read_all(&mut iter);
    iter.close();
    let kvs = kvs?;
    Ok(records_json(kvs.iter().map(|kv| (kv.key.as_str(), kv.value.as_slice()))))
}

fn get_marbles_by_range_with_pagination(stub: &mut Stub, args: &[String]) -> Outcome {
    if args.len() < 4 {
        return Err("Incorrect number of arguments. Expecting 4".into());
    }
    let page_size = parse_i32(&args[2]).ok_or_else(|| format!("pageSize must be a 32-bit integer: {}", args[2]))?;
    let (mut iter, metadata) =
        stub.get_state_by_range_with_pagination(&args[0], &args[1], page_size, &args[3]).map_err(text)?;
    let kvs = read_all(&mut iter);
    iter.close();
    let kvs = kvs?;
    let records = records_json(kvs.iter().map(|kv| (kv.key.as_str(), kv.value.as_slice())));
    Ok(page_json(records, metadata.fetched_records_count, &metadata.bookmark))
}

fn rich_query(stub: &mut Stub, query: &str) -> Outcome {
    let mut iter = stub.get_query_result(query).map_err(text)?;
    let kvs = read_all(&mut iter);
    iter.close();
    let kvs = kvs?;
    Ok(records_json(kvs.iter().map(|kv| (kv.key.as_str(), kv.value.as_slice()))))
}

fn query_marbles_by_owner(stub: &mut Stub, args: &[String]) -> Outcome {
    let Some(owner) = args.first() else {
        return Err("Incorrect number of arguments. Expecting 1".into());
    };
    let owner = owner.to_lowercase();
    rich_query(stub, &format!(r#"{{"selector":{{"docType":"marble","owner":{}}}}}"#, js(&owner)))
}

fn query_marbles(stub: &mut Stub, args: &[String]) -> Outcome {
    let Some(query) = args.first() else {
        return Err("Incorrect number of arguments. Expecting 1".into());
    };
    rich_query(stub, query)
}

fn query_marbles_with_pagination(stub: &mut Stub, args: &[String]) -> Outcome {
    if args.len() < 3 {
        return Err("Incorrect number of arguments. Expecting 3".into());
    }
    let page_size = parse_i32(&args[1]).ok_or_else(|| format!("pageSize must be a 32-bit integer: {}", args[1]))?;
    let (mut iter, metadata) = stub.get_query_result_with_pagination(&args[0], page_size, &args[2]).map_err(text)?;
    let kvs = read_all(&mut iter);
    iter.close();
    let kvs = kvs?;
    let records = records_json(kvs.iter().map(|kv| (kv.key.as_str(), kv.value.as_slice())));
    Ok(page_json(records, metadata.fetched_records_count, &metadata.bookmark))
}

fn get_history_for_marble(stub: &mut Stub, args: &[String]) -> Outcome {
    let Some(name) = args.first() else {
        return Err("Incorrect number of arguments. Expecting 1".into());
    };
    let mut iter = stub.get_history_for_key(name).map_err(text)?;
    let entries = read_all(&mut iter);
    iter.close();
    let mut out = b"[".to_vec();
    for (i, m) in entries?.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!(r#"{{"TxId":{},"Value":"#, js(&m.tx_id)).as_bytes());
        out.extend_from_slice(if m.is_delete { b"null" } else { &m.value });
        let timestamp = match &m.timestamp {
            Some(t) => format!(r#"{{"seconds":{},"nanos":{}}}"#, t.seconds, t.nanos),
            None => "null".to_owned(),
        };
        out.extend_from_slice(format!(r#","Timestamp":{timestamp},"IsDelete":"{}"}}"#, m.is_delete).as_bytes());
    }
    out.push(b']');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmcc_sdk::mock::MockLedger;

    fn ok(ledger: &mut MockLedger, args: &[&str]) -> String {
        let r = ledger.invoke::<Marbles>(args);
        assert_eq!(r.status, 200, "{args:?}: {}", r.message);
        String::from_utf8(r.payload).unwrap()
    }

    fn err(ledger: &mut MockLedger, args: &[&str]) -> String {
        let r = ledger.invoke::<Marbles>(args);
        assert_eq!(r.status, 500, "{args:?} succeeded: {}", String::from_utf8_lossy(&r.payload));
        assert!(r.payload.is_empty());
        r.message
    }

    fn seeded() -> MockLedger {
        let mut ledger = MockLedger::new();
        ok(&mut ledger, &["initMarble", "marble1", "Blue", "35", "Tom"]);
        ok(&mut ledger, &["initMarble", "marble2", "red", "50", "tom"]);
        ok(&mut ledger, &["initMarble", "marble3", "blue", "70", "tom"]);
        ledger
    }

    #[test]
    fn init_writes_the_marble_and_its_index() {
        let mut ledger = seeded();
        assert_eq!(
            ledger.state("marble1"),
            Some(&br#"{"docType":"marble","name":"marble1","color":"blue","size":35,"owner":"tom"}"#[..])
        );
        assert_eq!(ledger.state("\u{0}color~name\u{0}blue\u{0}marble1\u{0}"), Some(&[0u8][..]));
        assert_eq!(
            ok(&mut ledger, &["readMarble", "marble1"]),
            r#"{"docType":"marble","name":"marble1","color":"blue","size":35,"owner":"tom"}"#
        );
        assert_eq!(
            err(&mut ledger, &["initMarble", "marble1", "red", "1", "x"]),
            "This marble already exists: marble1"
        );
    }

    #[test]
    fn init_checks_its_arguments() {
        let mut ledger = MockLedger::new();
        assert_eq!(err(&mut ledger, &["initMarble", "m", "red", "1"]), "Incorrect number of arguments. Expecting 4");
        assert_eq!(err(&mut ledger, &["initMarble", "m", "", "1", "x"]), "2nd argument must be a non-empty string");
        assert_eq!(err(&mut ledger, &["initMarble", "m", "red", "1.5", "x"]), "3rd argument must be a numeric string");
        assert_eq!(
            err(&mut ledger, &["initMarble", "m", "red", "9007199254740992", "x"]),
            "3rd argument must be a numeric string"
        );
        assert_eq!(err(&mut ledger, &["initMarble", "m\u{0}", "red", "1", "x"]), KEY_PART_ERROR);
        ok(&mut ledger, &["initMarble", "m", "red", "-007", "x"]);
        assert_eq!(
            ok(&mut ledger, &["readMarble", "m"]),
            r#"{"docType":"marble","name":"m","color":"red","size":-7,"owner":"x"}"#
        );
        assert_eq!(err(&mut ledger, &["readMarble", "nope"]), r#"{"Error":"Marble does not exist: nope"}"#);
        assert_eq!(err(&mut ledger, &["frobnicate"]), "unknown function: frobnicate");
    }

    #[test]
    fn transfer_and_delete() {
        let mut ledger = seeded();
        ok(&mut ledger, &["transferMarble", "marble2", "Jerry"]);
        assert!(ok(&mut ledger, &["readMarble", "marble2"]).contains(r#""owner":"jerry""#));
        assert_eq!(err(&mut ledger, &["transferMarble", "nope", "x"]), "Marble does not exist");
        ok(&mut ledger, &["delete", "marble1"]);
        assert_eq!(ledger.state("marble1"), None);
        assert_eq!(ledger.state("\u{0}color~name\u{0}blue\u{0}marble1\u{0}"), None);
        ledger.set_state("bad", b"[1]");
        assert_eq!(err(&mut ledger, &["delete", "bad"]), r#"{"Error":"Failed to decode JSON of: bad"}"#);
        assert_eq!(err(&mut ledger, &["transferMarble", "bad", "x"]), "Failed to decode marble: bad");
    }

    #[test]
    fn transfer_by_color_uses_the_index() {
        let mut ledger = seeded();
        assert_eq!(
            ok(&mut ledger, &["transferMarblesBasedOnColor", "blue", "Jerry"]),
            "Transferred 2 blue marbles to jerry"
        );
        assert!(ok(&mut ledger, &["readMarble", "marble1"]).contains(r#""owner":"jerry""#));
        assert!(ok(&mut ledger, &["readMarble", "marble2"]).contains(r#""owner":"tom""#));
        assert_eq!(ok(&mut ledger, &["transferMarblesBasedOnColor", "green", "x"]), "Transferred 0 green marbles to x");
    }

    #[test]
    fn ranges_and_history() {
        let mut ledger = seeded();
        let all = ok(&mut ledger, &["getMarblesByRange", "marble1", "marble3"]);
        assert_eq!(
            all,
            concat!(
                r#"[{"Key":"marble1","Record":{"docType":"marble","name":"marble1","color":"blue","size":35,"owner":"tom"}},"#,
                r#"{"Key":"marble2","Record":{"docType":"marble","name":"marble2","color":"red","size":50,"owner":"tom"}}]"#
            )
        );
        let page = ok(&mut ledger, &["getMarblesByRangeWithPagination", "", "", "1", ""]);
        assert!(page.starts_with(r#"{"Results":[{"Key":"marble1","#), "{page}");
        assert!(page.ends_with(r#""ResponseMetadata":{"RecordsCount":1,"Bookmark":"marble2"}}"#), "{page}");
        assert_eq!(
            err(&mut ledger, &["getMarblesByRangeWithPagination", "", "", "x", ""]),
            "pageSize must be a 32-bit integer: x"
        );
        ok(&mut ledger, &["transferMarble", "marble1", "jerry"]);
        ok(&mut ledger, &["delete", "marble1"]);
        let history = ok(&mut ledger, &["getHistoryForMarble", "marble1"]);
        let entries: Vec<serde_json::Value> = serde_json::from_str(&history).unwrap();
        assert_eq!(entries.len(), 3, "{history}");
        assert_eq!(entries.iter().filter(|e| e["IsDelete"] == "true").count(), 1, "{history}");
        assert!(history.contains(r#""Timestamp":{"seconds":"#), "{history}");
    }

    #[test]
    fn decoding_is_exact() {
        assert_eq!(Marble::decode(br#"{"size":1e3,"extra":[1]}"#).map(|m| m.size), Some(1000));
        assert_eq!(Marble::decode(br#"{"size":null,"name":null}"#).map(|m| (m.size, m.name)), Some((0, String::new())));
        assert_eq!(Marble::decode(br#"{"size":1.5}"#), None);
        assert_eq!(Marble::decode(br#"{"size":9007199254740992}"#), None);
        assert_eq!(Marble::decode(br#"{"name":1}"#), None);
        assert_eq!(Marble::decode(b"null"), None);
        assert_eq!(parse_safe_int("+0012"), Some(12));
        assert_eq!(parse_safe_int("-9007199254740991"), Some(-9007199254740991));
        assert_eq!(parse_safe_int(" 1"), None);
        assert_eq!(parse_i32("2147483648"), None);
    }
}
