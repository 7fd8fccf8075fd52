//! The peer's handling of each state request (`HandleGetState`, `HandlePutState`, … in `core/chaincode/handler.go`),
//! against the transaction's simulator. Queries are in [`super::queries`], chaincode-to-chaincode calls in
//! [`super::c2c`]. Each handler returns the RESPONSE payload, or the cause that `handle_request` turns into
//! `"<TYPE> failed: transaction ID: <txid>: <cause>"`.
//!
//! Private data (a non-empty collection): refused in Init, then checked against the collection's access rules
//! ([`crate::world::private`]), then served from the collection. The channel is taken to have every capability (V1_3 key
//! level endorsement, V2_5 purge), and the history database is on.

use prost::Message;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::{
    write_record, ChaincodeMessage, DelState, GetState, GetStateMetadata, GetStateMultiple, GetStateMultipleResult,
    PutState, PutStateMetadata, StateMetadata, StateMetadataResult, WriteBatchState,
};

use super::handler::{lock, Shared};
use super::tx::TxContext;
use crate::world::private::{undefined_collection, Access};
use crate::world::rwset::Metadata;
use crate::world::PRIVATE_DATA_IN_INIT;

impl Shared {
    /// One state request: the RESPONSE payload, or the cause of an ERROR.
    pub(crate) async fn serve(&self, msg: &ChaincodeMessage) -> Result<Vec<u8>, String> {
        let msg_type = Type::try_from(msg.r#type).map_err(|_| "unknown message type".to_owned())?;
        let Some(ctx) = self.context(&msg.channel_id, &msg.txid) else {
            return Err(match msg_type {
                Type::InvokeChaincode => "could not get valid transaction",
                _ => "no ledger context",
            }
            .to_owned());
        };
        let payload = &msg.payload[..];
        match msg_type {
            Type::InvokeChaincode => self.handle_invoke_chaincode(&ctx, decode(payload)?).await,
            Type::GetState => self.handle_get_state(&ctx, decode(payload)?),
            Type::GetStateMultiple => self.handle_get_state_multiple(&ctx, decode(payload)?),
            Type::GetPrivateDataHash => self.handle_get_private_data_hash(&ctx, decode(payload)?),
            Type::GetStateMetadata => self.handle_get_state_metadata(&ctx, decode(payload)?),
            Type::PutState => {
                let req: PutState = decode(payload)?;
                self.put(&ctx, &req.collection, &req.key, req.value).map(|()| Vec::new())
            }
            Type::DelState => {
                let req: DelState = decode(payload)?;
                self.put(&ctx, &req.collection, &req.key, Vec::new()).map(|()| Vec::new())
            }
            Type::PutStateMetadata => {
                let req: PutStateMetadata = decode(payload)?;
                self.put_metadata(&ctx, &req.collection, &req.key, req.metadata).map(|()| Vec::new())
            }
            // PURGE_PRIVATE_DATA carries a DelState.
            Type::PurgePrivateData => {
                let req: DelState = decode(payload)?;
                self.purge(&ctx, &req.collection, &req.key).map(|()| Vec::new())
            }
            Type::WriteBatchState => self.handle_write_batch(&ctx, decode(payload)?),
            Type::GetStateByRange => self.handle_get_state_by_range(&ctx, decode(payload)?),
            Type::GetQueryResult => self.handle_get_query_result(&ctx, decode(payload)?),
            Type::GetHistoryForKey => self.handle_get_history_for_key(&ctx, decode(payload)?),
            Type::QueryStateNext => self.handle_query_state_next(&ctx, decode(payload)?),
            Type::QueryStateClose => self.handle_query_state_close(&ctx, decode(payload)?),
            other => Err(format!("{} is not a state request", other.as_str_name())),
        }
    }

    /// The private-data gate of every handler: no private data in Init, then the collection's access rule.
    pub(crate) fn check_private(&self, ctx: &TxContext, collection: &str, access: Access) -> Result<(), String> {
        if ctx.is_init {
            return Err(PRIVATE_DATA_IN_INIT.to_owned());
        }
        let collections = self.sim.collections();
        collections.check(&ctx.channel_id, &ctx.namespace, collection, &ctx.creator_mspid, access)
    }

    fn handle_get_state(&self, ctx: &TxContext, req: GetState) -> Result<Vec<u8>, String> {
        if !req.collection.is_empty() {
            self.check_private(ctx, &req.collection, Access::Read)?;
        }
        Ok(self.read_values(ctx, &req.collection, [req.key.as_str()]).pop().unwrap_or_default())
    }

    fn handle_get_state_multiple(&self, ctx: &TxContext, req: GetStateMultiple) -> Result<Vec<u8>, String> {
        if !req.collection.is_empty() {
            self.check_private(ctx, &req.collection, Access::Read)?;
        }
        let values = self.read_values(ctx, &req.collection, req.keys.iter().map(String::as_str));
        Ok(GetStateMultipleResult { values }.encode_to_vec())
    }

    /// Point reads of committed state (public with an empty collection), in order; absent keys read as empty.
    fn read_values<'k>(
        &self,
        ctx: &TxContext,
        collection: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Vec<Vec<u8>> {
        let world = self.sim.world();
        let mut sim = lock(&ctx.sim);
        let ns = &ctx.namespace;
        keys.into_iter()
            .map(|key| {
                let value = match collection {
                    "" => sim.get_state(&world, ns, key),
                    coll => sim.get_private_data(&world, ns, coll, key),
                };
                value.unwrap_or_default()
            })
            .collect()
    }

    /// The hash of a committed private value, empty if absent. Only Init is refused: the hash is not access
    /// controlled (every peer of the channel holds it).
    fn handle_get_private_data_hash(&self, ctx: &TxContext, req: GetState) -> Result<Vec<u8>, String> {
        if ctx.is_init {
            return Err(PRIVATE_DATA_IN_INIT.to_owned());
        }
        if !self.sim.collections().exists(&ctx.namespace, &req.collection) {
            return Err(undefined_collection(&ctx.namespace, &req.collection));
        }
        let world = self.sim.world();
        let hash = lock(&ctx.sim).get_private_data_hash(&world, &ctx.namespace, &req.collection, &req.key);
        Ok(hash.unwrap_or_default())
    }

    /// `StateMetadataResult` with the key's entries, sorted by metakey (the peer ranges over a Go map).
    fn handle_get_state_metadata(&self, ctx: &TxContext, req: GetStateMetadata) -> Result<Vec<u8>, String> {
        let collection = (!req.collection.is_empty()).then_some(req.collection.as_str());
        if let Some(collection) = collection {
            self.check_private(ctx, collection, Access::Read)?;
        }
        let world = self.sim.world();
        let metadata = lock(&ctx.sim).get_metadata(&world, &ctx.namespace, collection, &req.key);
        let entries = metadata.into_iter().map(|(metakey, value)| StateMetadata { metakey, value }).collect();
        Ok(StateMetadataResult { entries }.encode_to_vec())
    }

    /// PUT_STATE (an empty value deletes) and DEL_STATE.
    fn put(&self, ctx: &TxContext, collection: &str, key: &str, value: Vec<u8>) -> Result<(), String> {
        // No empty-key check: the peer's LevelDB state accepts any key (only CouchDB refuses ""); refusing an empty
        // key is the shim's job, so a host that forgets to is caught by its own tests.
        if collection.is_empty() {
            return lock(&ctx.sim).set_state(&ctx.namespace, key, value);
        }
        self.check_private(ctx, collection, Access::Write)?;
        lock(&ctx.sim).set_private_data(&ctx.namespace, collection, key, value)
    }

    /// PUT_STATE_METADATA: the key's metadata becomes the one entry sent.
    fn put_metadata(
        &self,
        ctx: &TxContext,
        collection: &str,
        key: &str,
        entry: Option<StateMetadata>,
    ) -> Result<(), String> {
        // A peer dereferences the missing entry and crashes the request; refuse it instead.
        let entry = entry.ok_or("unmarshal failed: PutStateMetadata without metadata")?;
        let metadata = Metadata::from([(entry.metakey, entry.value)]);
        if collection.is_empty() {
            return lock(&ctx.sim).set_state_metadata(&ctx.namespace, key, metadata);
        }
        self.check_private(ctx, collection, Access::Write)?;
        lock(&ctx.sim).set_private_metadata(&ctx.namespace, collection, key, metadata)
    }

    /// PURGE_PRIVATE_DATA, with the checks of the peer's `HandlePurgePrivateData`, in its order.
    fn purge(&self, ctx: &TxContext, collection: &str, key: &str) -> Result<(), String> {
        if collection.is_empty() {
            return Err("only applicable for private data".to_owned());
        }
        self.check_private(ctx, collection, Access::Write)?;
        lock(&ctx.sim).purge_private_data(&ctx.namespace, collection, key)
    }

    /// WRITE_BATCH_STATE: the records in order, each as its single request would be handled. A failing record
    /// leaves the earlier ones in the simulator, as on the peer.
    fn handle_write_batch(&self, ctx: &TxContext, req: WriteBatchState) -> Result<Vec<u8>, String> {
        for rec in req.rec {
            match write_record::Type::try_from(rec.r#type) {
                Ok(write_record::Type::PutState) => self.put(ctx, &rec.collection, &rec.key, rec.value)?,
                Ok(write_record::Type::DelState) => self.put(ctx, &rec.collection, &rec.key, Vec::new())?,
                Ok(write_record::Type::PutStateMetadata) => {
                    self.put_metadata(ctx, &rec.collection, &rec.key, rec.metadata)?
                }
                Ok(write_record::Type::PurgePrivateData) => self.purge(ctx, &rec.collection, &rec.key)?,
                _ => return Err("unknown operation type".to_owned()),
            }
        }
        Ok(Vec::new())
    }
}

/// Decodes a request payload; the error text is the peer's ("unmarshal failed: …").
pub(crate) fn decode<M: Message + Default>(payload: &[u8]) -> Result<M, String> {
    M::decode(payload).map_err(|e| format!("unmarshal failed: {e}"))
}
