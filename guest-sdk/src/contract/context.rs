use std::collections::BTreeMap;

use crate::{ClientIdentity, Error, Stub};

/// What a transaction function gets first: the transaction's [`Stub`] and what fabric-contract-api's `Context`
/// offers beside it (the client identity, transient data, the function as called).
///
/// ```
/// use wasmcc_sdk::{contract, Context};
///
/// pub struct Vault;
///
/// #[contract]
/// impl Vault {
///     /// Keeps the transient `secret` under the caller's MSP ID.
///     #[transaction]
///     pub fn keep(ctx: &mut Context) -> Result<String, String> {
///         let msp = ctx.client_identity()?.msp_id().to_owned();
///         let secret = ctx.transient().remove("secret").ok_or("no transient secret")?;
///         ctx.stub().put_private_data(&format!("{msp}PrivateCollection"), "secret", &secret)?;
///         Ok(msp)
///     }
/// }
/// ```
pub struct Context<'a, 's> {
    stub: &'a mut Stub<'s>,
    function: String,
}

impl<'a, 's> Context<'a, 's> {
    pub(crate) fn new(stub: &'a mut Stub<'s>, function: String) -> Self {
        Context { stub, function }
    }

    /// The ledger, private data, events and everything else of the shim-level API.
    ///
    /// ```
    /// # use wasmcc_sdk::Context;
    /// fn count(ctx: &mut Context) -> Result<u64, String> {
    ///     let now = ctx.stub().get_state("count")?.map_or(0, |b| b.len() as u64) + 1;
    ///     ctx.stub().put_state("count", &vec![b'x'; now as usize])?;
    ///     Ok(now)
    /// }
    /// ```
    pub fn stub(&mut self) -> &mut Stub<'s> {
        self.stub
    }

    /// The submitting client (`ctx.clientIdentity` in Node, `ctx.GetClientIdentity()` in Go).
    ///
    /// ```
    /// # use wasmcc_sdk::Context;
    /// fn auditors_only(ctx: &mut Context) -> Result<(), String> {
    ///     Ok(ctx.client_identity()?.assert_attribute_value("role", "auditor")?)
    /// }
    /// ```
    pub fn client_identity(&self) -> Result<ClientIdentity, Error> {
        self.stub.client_identity()
    }

    /// The proposal's transient map: private inputs that never reach the ledger or the block.
    ///
    /// ```
    /// # use wasmcc_sdk::Context;
    /// fn price(ctx: &mut Context) -> Result<Vec<u8>, String> {
    ///     ctx.transient().remove("price").ok_or_else(|| "give the price in the transient map".to_owned())
    /// }
    /// ```
    pub fn transient(&self) -> BTreeMap<String, Vec<u8>> {
        self.stub.transient()
    }

    /// The first argument as the client sent it: `Contract:Function` or a bare `Function`.
    ///
    /// ```
    /// # use wasmcc_sdk::Context;
    /// fn refuse(ctx: &mut Context) -> Result<(), String> {
    ///     Err(format!("{} is not offered any more", ctx.function()))
    /// }
    /// ```
    pub fn function(&self) -> &str {
        &self.function
    }
}
