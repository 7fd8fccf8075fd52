use std::collections::BTreeMap;

use crate::backend::Backend;
use crate::identity::ClientIdentity;
use crate::{Error, Response};

/// `google.protobuf.Timestamp`: seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub seconds: i64,
    pub nanos: i32,
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

// The Go shim's texts for the argument checks it makes before sending anything (shim/stub.go).
pub(crate) const EMPTY_KEY: &str = "key must not be an empty string";
pub(crate) const EMPTY_COLLECTION: &str = "collection must not be an empty string";
const EMPTY_EVENT_NAME: &str = "event name can not be empty string";

/// The state-metadata key of a key-level endorsement policy (`peer.MetaDataKeys_VALIDATION_PARAMETER`).
const VALIDATION_PARAMETER: &str = "VALIDATION_PARAMETER";

pub(crate) fn check(ok: bool, message: &str) -> Result<(), Error> {
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
    pub(crate) fn b(&self) -> &crate::host::Host {
        &self.backend.0
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn m(&mut self) -> &mut crate::host::Host {
        &mut self.backend.0
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn b(&self) -> &dyn Backend {
        &*self.backend
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn m(&mut self) -> &mut dyn Backend {
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

    /// The submitter's identity, parsed from [`creator`](Self::creator) (Go's `cid.New(stub)`).
    pub fn client_identity(&self) -> Result<ClientIdentity, Error> {
        ClientIdentity::from_creator(&self.creator())
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

    /// Deletes `key` when the transaction commits. An empty key is sent as is (the Go shim checks keys on
    /// puts only, and the peer accepts it).
    pub fn del_state(&mut self, key: &str) -> Result<(), Error> {
        self.m().del_state("", key)
    }

    // ----- key-level endorsement -----

    /// The key-level endorsement policy of `key` (its `VALIDATION_PARAMETER` metadata), `None` when it has none.
    /// [`statebased::KeyEndorsementPolicy`](crate::statebased::KeyEndorsementPolicy) reads it.
    pub fn get_state_validation_parameter(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.validation_parameter("", key)
    }

    /// Sets the key-level endorsement policy of `key` (PUT_STATE_METADATA). On a key that does not exist when
    /// the transaction commits, nothing is stored.
    pub fn set_state_validation_parameter(&mut self, key: &str, ep: &[u8]) -> Result<(), Error> {
        self.set_validation_parameter("", key, ep)
    }

    /// As Go: no collection check on the validation-parameter calls, "" is public state.
    pub(crate) fn validation_parameter(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let metadata = self.m().get_state_metadata(collection, key)?;
        Ok(metadata.into_iter().find(|(k, _)| k == VALIDATION_PARAMETER).map(|(_, v)| v))
    }

    pub(crate) fn set_validation_parameter(&mut self, collection: &str, key: &str, ep: &[u8]) -> Result<(), Error> {
        self.m().put_state_metadata(collection, key, VALIDATION_PARAMETER, ep)
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
