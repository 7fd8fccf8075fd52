//! The wasm backend: every call goes to the host through the `fabric:chaincode` imports.
//!
//! Compiled on every target so `cargo clippy` checks it natively too; it is only *used* on `wasm32`
//! (wit-bindgen's native import stubs are `unreachable!()`).
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use crate::__private::bindings::fabric::chaincode::{context, cross_chaincode, events, ledger, types};
use crate::stub::{Backend, Timestamp};
use crate::{Error, Response};

/// Zero-sized: all state lives in the host, per transaction.
pub(crate) struct Host;

impl From<types::Error> for Error {
    fn from(e: types::Error) -> Self {
        match e {
            types::Error::Peer(m) => Error::Peer(m),
            types::Error::InvalidArgument(m) => Error::InvalidArgument(m),
            types::Error::Unsupported(m) => Error::Unsupported(m),
            types::Error::Limit(m) => Error::Limit(m),
            types::Error::Internal(m) => Error::Internal(m),
        }
    }
}

impl Backend for Host {
    fn args(&self) -> Vec<Vec<u8>> {
        context::args()
    }
    fn tx_id(&self) -> String {
        context::tx_id()
    }
    fn channel_id(&self) -> String {
        context::channel_id()
    }
    fn is_init(&self) -> bool {
        context::is_init()
    }
    fn creator(&self) -> Vec<u8> {
        context::creator()
    }
    fn transient(&self) -> Vec<(String, Vec<u8>)> {
        context::transient()
    }
    fn binding(&self) -> Vec<u8> {
        context::binding()
    }
    fn signed_proposal(&self) -> Option<Vec<u8>> {
        context::signed_proposal()
    }
    fn decorations(&self) -> Vec<(String, Vec<u8>)> {
        context::decorations()
    }
    fn tx_timestamp(&self) -> Result<Timestamp, Error> {
        let t = context::tx_timestamp()?;
        Ok(Timestamp { seconds: t.seconds, nanos: t.nanos })
    }

    fn get_state(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(ledger::get_state(collection, key)?)
    }
    fn get_multiple_states(&mut self, collection: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
        Ok(ledger::get_multiple_states(collection, keys)?)
    }
    fn put_state(&mut self, collection: &str, key: &str, value: &[u8]) -> Result<(), Error> {
        Ok(ledger::put_state(collection, key, value)?)
    }
    fn del_state(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        Ok(ledger::del_state(collection, key)?)
    }
    fn purge_private_data(&mut self, collection: &str, key: &str) -> Result<(), Error> {
        Ok(ledger::purge_private_data(collection, key)?)
    }
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), Error> {
        Ok(events::set_event(name, payload)?)
    }
    fn invoke_chaincode(&mut self, name: &str, channel: &str, args: &[Vec<u8>]) -> Result<Response, Error> {
        let r = cross_chaincode::invoke_chaincode(name, channel, args)?;
        Ok(Response { status: r.status, message: r.message, payload: r.payload })
    }
}
