use std::collections::BTreeMap;

use crate::{ClientIdentity, Error, Stub};

/// What a transaction function gets first: the transaction's [`Stub`] and what fabric-contract-api's `Context`
/// offers beside it (the client identity, transient data, the function as called).
pub struct Context<'a, 's> {
    stub: &'a mut Stub<'s>,
    function: String,
}

impl<'a, 's> Context<'a, 's> {
    pub(crate) fn new(stub: &'a mut Stub<'s>, function: String) -> Self {
        Context { stub, function }
    }

    /// The ledger, private data, events and everything else of the shim-level API.
    pub fn stub(&mut self) -> &mut Stub<'s> {
        self.stub
    }

    /// The submitting client (`ctx.clientIdentity` in Node, `ctx.GetClientIdentity()` in Go).
    pub fn client_identity(&self) -> Result<ClientIdentity, Error> {
        self.stub.client_identity()
    }

    /// The proposal's transient map: private inputs that never reach the ledger or the block.
    pub fn transient(&self) -> BTreeMap<String, Vec<u8>> {
        self.stub.transient()
    }

    /// The first argument as the client sent it: `Contract:Function` or a bare `Function`.
    pub fn function(&self) -> &str {
        &self.function
    }
}
