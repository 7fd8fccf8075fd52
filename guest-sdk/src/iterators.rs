//! Query results: range, partial-key and rich queries ([`StateIterator`]) and key history ([`HistoryIterator`]).
//!
//! An iterator owns its source (on wasm the host's iterator resource, natively a buffer filled by the mock), not a
//! borrow of the [`Stub`](crate::Stub): a chaincode may keep reading one while it calls the stub again, as a Go
//! chaincode does. The host fetches further batches from the peer as the guest reads.

use std::collections::VecDeque;
use std::fmt;

use crate::{Error, Timestamp};

/// One result of a range or rich query (`queryresult.KV`, without the namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
}

/// One entry of a key's history (`queryresult.KeyModification`), newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyModification {
    pub tx_id: String,
    /// Empty for a delete.
    pub value: Vec<u8>,
    /// The committing transaction's timestamp (its channel header's).
    pub timestamp: Option<Timestamp>,
    pub is_delete: bool,
}

/// What the peer says about a page it returned (`protos.QueryResponseMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryMetadata {
    pub fetched_records_count: i32,
    /// Pass it back to get the next page; empty when there are no more (range queries).
    pub bookmark: String,
}

/// Where an iterator's results come from: the host's resource on wasm, a buffer natively.
pub trait Cursor<T> {
    /// The next results, as many as the source has at hand (on wasm, one host call for the peer's whole batch);
    /// empty when there are no more.
    fn next_batch(&mut self) -> Result<Vec<T>, Error>;
    /// Releases the source early (the peer-side iterator, on wasm).
    fn close(&mut self);
}

/// The state common to both iterators: once exhausted or failed it stays finished (fused), so a `for` loop over
/// an iterator whose source keeps failing ends after the first error.
struct Results<T> {
    cursor: Box<dyn Cursor<T>>,
    buffered: VecDeque<T>,
    done: bool,
}

impl<T> Results<T> {
    fn new(cursor: impl Cursor<T> + 'static) -> Self {
        Results { cursor: Box::new(cursor), buffered: VecDeque::new(), done: false }
    }

    fn next(&mut self) -> Option<Result<T, Error>> {
        if let Some(item) = self.buffered.pop_front() {
            return Some(Ok(item));
        }
        if self.done {
            return None;
        }
        match self.cursor.next_batch() {
            Ok(batch) if batch.is_empty() => {
                self.done = true;
                None
            }
            Ok(batch) => {
                self.buffered = batch.into();
                self.buffered.pop_front().map(Ok)
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn close(mut self) {
        self.cursor.close();
    }
}

/// The results of a range, partial composite key or rich query, like the Go shim's `StateQueryIteratorInterface`.
///
/// Iterate it (`for kv in iter { let kv = kv?; … }`); [`close`](Self::close) releases the peer-side iterator
/// before the end (the Go shim's `defer iter.Close()`). Dropping it also releases it, and the peer closes every
/// iterator when the transaction ends.
pub struct StateIterator(Results<KeyValue>);

impl StateIterator {
    pub(crate) fn new(cursor: impl Cursor<KeyValue> + 'static) -> Self {
        StateIterator(Results::new(cursor))
    }

    /// Closes the query early (QUERY_STATE_CLOSE). Never fails, as on the peer.
    pub fn close(self) {
        self.0.close();
    }
}

impl Iterator for StateIterator {
    type Item = Result<KeyValue, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl fmt::Debug for StateIterator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateIterator").field("done", &self.0.done).finish_non_exhaustive()
    }
}

/// A key's history, newest first, like the Go shim's `HistoryQueryIteratorInterface`.
pub struct HistoryIterator(Results<KeyModification>);

impl HistoryIterator {
    pub(crate) fn new(cursor: impl Cursor<KeyModification> + 'static) -> Self {
        HistoryIterator(Results::new(cursor))
    }

    /// Closes the query early. Never fails.
    pub fn close(self) {
        self.0.close();
    }
}

impl Iterator for HistoryIterator {
    type Item = Result<KeyModification, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl fmt::Debug for HistoryIterator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoryIterator").field("done", &self.0.done).finish_non_exhaustive()
    }
}

/// Results already in memory (the mock ledger computes a whole query at once).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct Buffered<T>(pub(crate) std::vec::IntoIter<T>);

#[cfg(not(target_arch = "wasm32"))]
impl<T> Cursor<T> for Buffered<T> {
    fn next_batch(&mut self) -> Result<Vec<T>, Error> {
        Ok(std::mem::take(&mut self.0).collect())
    }

    fn close(&mut self) {
        self.0 = Vec::new().into_iter();
    }
}

/// The results of a packed `kv-batch`, what `state-iterator.next-batch` returns (the ABI's layout: keys and values
/// back to back in `data`, and per result the offsets where its key and its value end).
pub fn unpack_kv_batch(data: &[u8], ends: &[u32]) -> Result<Vec<KeyValue>, Error> {
    let malformed = || Error::Internal("malformed query batch from the host".into());
    if !ends.len().is_multiple_of(2) {
        return Err(malformed());
    }
    let mut results = Vec::with_capacity(ends.len() / 2);
    let mut start = 0usize;
    for pair in ends.chunks_exact(2) {
        let (key_end, value_end) = (pair[0] as usize, pair[1] as usize);
        let key = data.get(start..key_end).ok_or_else(malformed)?;
        let value = data.get(key_end..value_end).ok_or_else(malformed)?;
        let key = std::str::from_utf8(key).map_err(|_| malformed())?;
        results.push(KeyValue { key: key.to_owned(), value: value.to_vec() });
        start = value_end;
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields its batches one by one, then fails forever.
    struct Failing(Vec<Vec<KeyValue>>);

    impl Cursor<KeyValue> for Failing {
        fn next_batch(&mut self) -> Result<Vec<KeyValue>, Error> {
            if self.0.is_empty() {
                Err(Error::Peer("boom".into()))
            } else {
                Ok(self.0.remove(0))
            }
        }
        fn close(&mut self) {}
    }

    fn kv(key: &str) -> KeyValue {
        KeyValue { key: key.into(), value: b"1".to_vec() }
    }

    #[test]
    fn iterators_are_fused_after_an_error_or_the_end() {
        let kv = kv("a");
        let mut it = StateIterator::new(Failing(vec![vec![kv.clone()]]));
        assert_eq!(it.next(), Some(Ok(kv.clone())));
        assert_eq!(it.next(), Some(Err(Error::Peer("boom".into()))));
        assert_eq!(it.next(), None);

        let mut it = StateIterator::new(Buffered(vec![kv.clone()].into_iter()));
        assert_eq!(it.by_ref().collect::<Result<Vec<_>, _>>(), Ok(vec![kv]));
        assert_eq!(it.next(), None);
        it.close();
    }

    #[test]
    fn batches_are_handed_out_in_order_and_an_empty_batch_ends() {
        let mut it = StateIterator::new(Failing(vec![vec![kv("a"), kv("b")], vec![kv("c")], vec![]]));
        let keys: Vec<String> = it.by_ref().map(|r| r.unwrap().key).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(it.next(), None, "the empty batch ended it; the failing source is not called again");
    }

    #[test]
    fn packed_batches_unpack_and_bad_ones_are_refused() {
        let data = b"k1v1k22".to_vec();
        let results = unpack_kv_batch(&data, &[2, 4, 7, 7]).unwrap();
        assert_eq!(
            results,
            vec![KeyValue { key: "k1".into(), value: b"v1".to_vec() }, KeyValue { key: "k22".into(), value: vec![] }]
        );
        assert_eq!(unpack_kv_batch(&[], &[]).unwrap(), vec![]);
        for ends in [&[2, 4, 7][..], &[2, 9], &[3, 2], &[2, 4, 1, 7]] {
            assert!(matches!(unpack_kv_batch(&data, ends), Err(Error::Internal(_))), "{ends:?}");
        }
        assert!(unpack_kv_batch(&[0xff, b'v'], &[1, 2]).is_err(), "a key must be UTF-8");
    }
}
