//! Private data: the [`Stub`] calls on a collection. Every one needs a non-empty collection, as in the Go shim
//! (the validation-parameter calls excepted, as in Go); the collection's definition, and whether this peer may
//! read it, are the peer's to check.

// Natively the backend is a trait object, whose methods need no import.
#[cfg(target_arch = "wasm32")]
use crate::backend::Backend;
use crate::composite;
use crate::iterators::StateIterator;
use crate::stub::{check, EMPTY_COLLECTION, EMPTY_KEY};
use crate::{Error, Stub};

impl Stub<'_> {
    /// The committed private value of `key` in `collection`, `None` when absent.
    pub fn get_private_data(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        self.m().get_state(collection, key)
    }

    /// Several private keys in one round trip where the peer offers it; results in the order of `keys`.
    pub fn get_multiple_private_data(
        &mut self,
        collection: &str,
        keys: &[impl AsRef<str>],
    ) -> Result<Vec<Option<Vec<u8>>>, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        let keys: Vec<String> = keys.iter().map(|k| k.as_ref().to_owned()).collect();
        self.m().get_multiple_states(collection, &keys)
    }

    /// SHA-256 of the committed private value, readable by peers outside the collection too; `None` when absent.
    pub fn get_private_data_hash(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        self.m().get_private_data_hash(collection, key)
    }

    /// Writes `key` in `collection` when the transaction commits. An empty value deletes.
    pub fn put_private_data(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        check(!key.is_empty(), EMPTY_KEY)?;
        self.m().put_state(collection, key, value)
    }

    pub fn del_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        self.m().del_state(collection, key)
    }

    /// Deletes `key` and removes its private history from every peer holding the collection.
    pub fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        self.m().purge_private_data(collection, key)
    }

    /// The private keys in `[start, end)` with the simple-key rules of
    /// [`get_state_by_range`](Self::get_state_by_range). The peer allows it only in a transaction that writes
    /// nothing.
    pub fn get_private_data_by_range(
        &mut self,
        collection: &str,
        start: &str,
        end: &str,
    ) -> Result<StateIterator, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        let (start, end) = composite::simple_key_range(start, end)?;
        Ok(self.m().get_state_by_range(collection, &start, &end, None)?.0)
    }

    /// The private composite keys extending `object_type` + `attributes`.
    pub fn get_private_data_by_partial_composite_key(
        &mut self,
        collection: &str,
        object_type: &str,
        attributes: &[impl AsRef<str>],
    ) -> Result<StateIterator, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        let (start, end) = composite::partial_key_range(object_type, attributes)?;
        Ok(self.m().get_state_by_range(collection, &start, &end, None)?.0)
    }

    /// A rich (CouchDB Mango) query over a collection.
    pub fn get_private_data_query_result(&mut self, collection: &str, query: &str) -> Result<StateIterator, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        Ok(self.m().get_query_result(collection, query, None)?.0)
    }

    /// The key-level endorsement policy of a private key, `None` when it has none.
    pub fn get_private_data_validation_parameter(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        self.validation_parameter(collection, key)
    }

    /// Sets the key-level endorsement policy of a private key.
    pub fn set_private_data_validation_parameter(
        &mut self,
        collection: &str,
        key: &str,
        ep: &[u8],
    ) -> Result<(), Error> {
        self.set_validation_parameter(collection, key, ep)
    }
}
