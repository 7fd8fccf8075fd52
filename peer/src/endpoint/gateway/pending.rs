//! Endorsed transactions waiting for Submit. A client may endorse and never submit (an application that crashed, or
//! one that only wanted the endorsement), so what waits is bounded: past [`MAX_PENDING`], the oldest is forgotten,
//! and its Submit is refused as for a transaction this gateway never endorsed.

use std::collections::{BTreeMap, HashMap};

/// How many endorsed transactions may wait for Submit. A development network has a handful in flight; this bounds
/// what a careless client costs (each holds its read/write set) without refusing any reasonable workload.
pub(super) const MAX_PENDING: usize = 10_000;

pub(super) struct Pending<T> {
    by_txid: HashMap<String, (u64, T)>,
    /// Insertion number → txid, oldest first.
    order: BTreeMap<u64, String>,
    next: u64,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending { by_txid: HashMap::new(), order: BTreeMap::new(), next: 0 }
    }
}

impl<T> Pending<T> {
    pub fn insert(&mut self, txid: String, value: T) {
        let seq = self.next;
        self.next += 1;
        if let Some((old, _)) = self.by_txid.insert(txid.clone(), (seq, value)) {
            self.order.remove(&old);
        }
        self.order.insert(seq, txid);
        while self.by_txid.len() > MAX_PENDING {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.by_txid.remove(&oldest);
        }
    }

    pub fn take(&mut self, txid: &str) -> Option<T> {
        let (seq, value) = self.by_txid.remove(txid)?;
        self.order.remove(&seq);
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_forgotten_past_the_bound() {
        let mut pending = Pending::default();
        for n in 0..MAX_PENDING + 2 {
            pending.insert(format!("tx{n}"), n);
        }
        assert_eq!(pending.take("tx0"), None);
        assert_eq!(pending.take("tx1"), None);
        assert_eq!(pending.take("tx2"), Some(2));
        assert_eq!(pending.take("tx2"), None, "taken once");
        assert_eq!(pending.take(&format!("tx{}", MAX_PENDING + 1)), Some(MAX_PENDING + 1));
        assert_eq!((pending.by_txid.len(), pending.order.len()), (MAX_PENDING - 2, MAX_PENDING - 2));
    }
}
