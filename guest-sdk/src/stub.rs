use std::collections::BTreeMap;

use crate::{Error, Response};

/// `google.protobuf.Timestamp`: seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
}

/// What a [`Stub`] runs on: the WIT imports (`host::Host`) or the native mock ledger (`mock::Tx`).
///
/// One trait, close to the WIT (a `collection` argument, "" for public state), so both backends are checked by
/// the compiler to offer the same calls. The shim's argument rules live in [`Stub`], above it, so both
/// backends see only calls the Go shim would have sent.
pub(crate) trait Backend {
    fn args(&self) -> Vec<Vec<u8>>;
    fn tx_id(&self) -> String;
    fn channel_id(&self) -> String;
    fn is_init(&self) -> bool;
    fn creator(&self) -> Vec<u8>;
    fn transient(&self) -> Vec<(String, Vec<u8>)>;
    fn binding(&self) -> Vec<u8>;
    fn signed_proposal(&self) -> Option<Vec<u8>>;
    fn decorations(&self) -> Vec<(String, Vec<u8>)>;
    fn tx_timestamp(&self) -> Result<Timestamp, Error>;

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error>;
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error>;
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error>;
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error>;
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error>;
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error>;
    fn invoke_chaincode(&mut self, name: &str, channel: &str, args: &[Vec<u8>]) -> Result<Response, Error>;
}

/// The chaincode's view of one transaction, like the Go shim's `ChaincodeStubInterface`.
///
/// Ledger calls take `&mut self`: a transaction has at most one request outstanding at the peer (the peer
/// silently drops a second one), and the borrow checker now says so.
pub struct Stub<'a> {
    backend: Inner<'a>,
}

/// On wasm the backend is the zero-sized host, called statically so the linker drops every import a chaincode
/// does not use (smaller modules); natively it is whatever mock transaction runs the chaincode.
#[cfg(target_arch = "wasm32")]
type Inner<'a> = (crate::host::Host, std::marker::PhantomData<&'a mut ()>);
#[cfg(not(target_arch = "wasm32"))]
type Inner<'a> = &'a mut dyn Backend;

const EMPTY_KEY: &str = "key must not be an empty string";
const EMPTY_COLLECTION: &str = "collection must not be an empty string";
const EMPTY_EVENT_NAME: &str = "event name can not be empty string";

fn check(ok: bool, message: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(message.to_owned()))
    }
}

impl<'a> Stub<'a> {
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn new() -> Self {
        Stub { backend: (crate::host::Host, std::marker::PhantomData) }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn new(backend: &'a mut dyn Backend) -> Self {
        Stub { backend }
    }

    #[cfg(target_arch = "wasm32")]
    fn b(&self) -> &crate::host::Host {
        &self.backend.0
    }

    #[cfg(target_arch = "wasm32")]
    fn m(&mut self) -> &mut crate::host::Host {
        &mut self.backend.0
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn b(&self) -> &dyn Backend {
        &*self.backend
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn m(&mut self) -> &mut dyn Backend {
        &mut *self.backend
    }

    // ----- the transaction's context -----

    /// `ChaincodeInput.args`; by convention the first is the function name.
    pub fn args(&self) -> Vec<Vec<u8>> {
        self.b().args()
    }

    /// The arguments as strings (invalid UTF-8 is replaced with U+FFFD).
    pub fn string_args(&self) -> Vec<String> {
        self.args().iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }

    /// The first argument and the rest, like `GetFunctionAndParameters`; `("", [])` without arguments.
    pub fn function_and_parameters(&self) -> (String, Vec<String>) {
        let mut args = self.string_args().into_iter();
        let function = args.next().unwrap_or_default();
        (function, args.collect())
    }

    pub fn tx_id(&self) -> String {
        self.b().tx_id()
    }

    pub fn channel_id(&self) -> String {
        self.b().channel_id()
    }

    /// True when the peer sent INIT rather than TRANSACTION.
    pub fn is_init(&self) -> bool {
        self.b().is_init()
    }

    /// The submitter: a serialized `msp.SerializedIdentity`. Empty without a proposal.
    pub fn creator(&self) -> Vec<u8> {
        self.b().creator()
    }

    /// The proposal's transient map (private inputs that are not written to the ledger).
    pub fn transient(&self) -> BTreeMap<String, Vec<u8>> {
        self.b().transient().into_iter().collect()
    }

    /// SHA-256(nonce ‖ creator ‖ epoch), for binding a proposal to a session. Empty without a proposal.
    pub fn binding(&self) -> Vec<u8> {
        self.b().binding()
    }

    /// The serialized `SignedProposal`, if the peer sent one.
    pub fn signed_proposal(&self) -> Option<Vec<u8>> {
        self.b().signed_proposal()
    }

    /// `ChaincodeInput.decorations` (added by peer-side decorators).
    pub fn decorations(&self) -> BTreeMap<String, Vec<u8>> {
        self.b().decorations().into_iter().collect()
    }

    /// The client's timestamp from the channel header: the same on every endorser, unlike a clock.
    pub fn tx_timestamp(&self) -> Result<Timestamp, Error> {
        self.b().tx_timestamp()
    }

    // ----- public world state -----

    /// The committed value of `key`, `None` when absent. Reads never see this transaction's own writes.
    pub fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.m().get_state("", key)
    }

    /// Several keys in one round trip where the peer offers it; results in the order of `keys`.
    pub fn get_multiple_states(&mut self, keys: &[impl AsRef<str>]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let keys: Vec<String> = keys.iter().map(|k| k.as_ref().to_owned()).collect();
        self.m().get_multiple_states("", &keys)
    }

    /// Writes `key` when the transaction commits. An empty value deletes the key, as on the peer.
    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        check(!key.is_empty(), EMPTY_KEY)?;
        self.m().put_state("", key, value)
    }

    /// Deletes `key` when the transaction commits.
    pub fn del_state(&mut self, key: &str) -> Result<(), Error> {
        self.m().del_state("", key)
    }

    // ----- private data -----

    /// The committed private value of `key` in `collection`, `None` when absent.
    pub fn get_private_data(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check(!collection.is_empty(), EMPTY_COLLECTION)?;
        self.m().get_state(collection, key)
    }

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

    // ----- events and other chaincodes -----

    /// Sets the transaction's event (the last call wins); delivered only if the transaction commits.
    pub fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error> {
        check(!name.is_empty(), EMPTY_EVENT_NAME)?;
        self.m().set_event(name, payload)
    }

    /// Runs chaincode `name` on `channel` ("" = this channel) inside this transaction. The callee's answer comes
    /// back as a [`Response`], even with status >= 400; `Err` only when the peer could not run it at all.
    pub fn invoke_chaincode(
        &mut self,
        name: &str,
        args: &[impl AsRef<[u8]>],
        channel: &str,
    ) -> Result<Response, Error> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_ref().to_vec()).collect();
        self.m().invoke_chaincode(name, channel, &args)
    }
}
