//! The write batch: a transaction's public writes, held back and sent as one WRITE_BATCH_STATE.
//!
//! A peer that offers `use_write_batch` in READY accepts a transaction's writes in one message. Since reads never see
//! the transaction's own writes, holding them back changes no result, only the number of round trips
//! (`docs/architecture.md`, "Write batching"). Like the Go shim's batch, a later write to the same (collection, key)
//! replaces the earlier one (a PutState then DelState of a key sends only the delete), and metadata writes are kept
//! apart from data writes.
//! Unlike the Go shim, whose batch is a Go map, the records go out in the order their keys were first written, so
//! the same transaction always produces the same message.

use std::collections::HashMap;

use wasmcc_proto::protos::{write_record, StateMetadata, WriteRecord};

/// What a record writes: the key's value (put, delete or purge) or one metadata entry of the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Slot {
    Data,
    Metadata(String),
}

#[derive(Default, Debug)]
pub struct WriteBatch {
    records: Vec<WriteRecord>,
    index: HashMap<(String, String, Slot), usize>,
}

impl WriteBatch {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn put(&mut self, collection: &str, key: &str, value: Vec<u8>) {
        let rec = record(write_record::Type::PutState, collection, key);
        self.insert(Slot::Data, WriteRecord { value, ..rec });
    }

    pub fn del(&mut self, collection: &str, key: &str) {
        self.insert(Slot::Data, record(write_record::Type::DelState, collection, key));
    }

    pub fn put_metadata(&mut self, collection: &str, key: &str, entry: StateMetadata) {
        let slot = Slot::Metadata(entry.metakey.clone());
        let rec = record(write_record::Type::PutStateMetadata, collection, key);
        self.insert(slot, WriteRecord { metadata: Some(entry), ..rec });
    }

    /// Takes every record, in first-write order, leaving the batch empty.
    pub fn take(&mut self) -> Vec<WriteRecord> {
        self.index.clear();
        std::mem::take(&mut self.records)
    }

    fn insert(&mut self, slot: Slot, rec: WriteRecord) {
        let id = (rec.collection.clone(), rec.key.clone(), slot);
        match self.index.get(&id) {
            Some(&at) => self.records[at] = rec,
            None => {
                self.index.insert(id, self.records.len());
                self.records.push(rec);
            }
        }
    }
}

fn record(ty: write_record::Type, collection: &str, key: &str) -> WriteRecord {
    WriteRecord { key: key.to_owned(), collection: collection.to_owned(), r#type: ty as i32, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(recs: &[WriteRecord]) -> Vec<(String, i32, Vec<u8>)> {
        recs.iter().map(|r| (r.key.clone(), r.r#type, r.value.clone())).collect()
    }

    #[test]
    fn later_writes_replace_earlier_ones_in_first_write_order() {
        let mut b = WriteBatch::default();
        b.put("", "a", b"1".to_vec());
        b.put("", "b", b"2".to_vec());
        b.del("", "a");
        b.put("", "b", b"3".to_vec());
        let recs = b.take();
        let put = write_record::Type::PutState as i32;
        let del = write_record::Type::DelState as i32;
        assert_eq!(summary(&recs), [("a".into(), del, vec![]), ("b".into(), put, b"3".to_vec())]);
        assert!(b.is_empty());
    }

    #[test]
    fn metadata_and_data_of_one_key_are_separate_records() {
        let mut b = WriteBatch::default();
        b.put("", "k", b"v".to_vec());
        b.put_metadata("", "k", StateMetadata { metakey: "VALIDATION_PARAMETER".into(), value: b"p1".to_vec() });
        b.put_metadata("", "k", StateMetadata { metakey: "VALIDATION_PARAMETER".into(), value: b"p2".to_vec() });
        let recs = b.take();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].metadata.as_ref().unwrap().value, b"p2");
    }

    #[test]
    fn collections_do_not_collide() {
        let mut b = WriteBatch::default();
        b.put("", "k", b"public".to_vec());
        b.put("c", "k", b"private".to_vec());
        assert_eq!(b.len(), 2);
    }
}
