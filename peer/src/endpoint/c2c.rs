//! Chaincode-to-chaincode calls: the peer's `HandleInvokeChaincode` (`docs/fabric-protocol.md` §5).
//!
//! The callee is found by name among the connections of the same [`super::PeerSim`] (any host), checked against its
//! chaincode definition, and run with the caller's txid and signed proposal. On the caller's channel it shares the
//! caller's simulator, so its reads and writes join the transaction's read/write set under the callee's namespace
//! (even when the callee fails: the caller decides). On another channel it gets a fresh simulator whose writes are
//! discarded. The reply is a RESPONSE carrying the callee's COMPLETED or ERROR message as received, its event
//! included. A callee that cannot run is an ERROR; since the callee stream already has a context for the (channel,
//! txid), a chaincode calling itself, or a cycle A → B → A, fails with `txid: <txid>(<channel>) exists`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prost::Message;
use wasmcc_proto::protos::chaincode_message::Type;
use wasmcc_proto::protos::ChaincodeSpec;

use super::handler::{lock, Shared};
use super::tx::{Invocation, TxContext};
use crate::world::c2c::{callee_channel, callee_not_found, parse_name, shares_transaction};
use crate::world::lifecycle::check_invocation;
use crate::world::simulator::TxSimulator;

impl Shared {
    pub(crate) async fn handle_invoke_chaincode(
        &self,
        ctx: &TxContext,
        spec: ChaincodeSpec,
    ) -> Result<Vec<u8>, String> {
        let spec_name = spec.chaincode_id.as_ref().map(|id| id.name.clone()).unwrap_or_default();
        let target = parse_name(&spec_name);
        let channel = callee_channel(&ctx.channel_id, target.channel).to_owned();
        let invalid = |cause: String| format!("execute failed: invalid invocation: {cause}");

        let Some(callee) = self.sim.chaincode(target.name) else {
            return Err(callee_not_found(&channel, target.name));
        };
        let sim = if shares_transaction(&ctx.channel_id, &channel) {
            ctx.sim.clone()
        } else {
            Arc::new(Mutex::new(TxSimulator::new(&channel, &ctx.txid)))
        };
        // The callee gets the input as sent, without decorations (the peer does not carry them over).
        let input =
            wasmcc_proto::protos::ChaincodeInput { decorations: HashMap::new(), ..spec.input.unwrap_or_default() };
        let kind = {
            let world = self.sim.world();
            let definition = callee.opts.definition.as_ref();
            check_invocation(definition, &world, &mut lock(&sim), &callee.namespace, input.is_init).map_err(invalid)?;
            if input.is_init {
                Type::Init
            } else {
                Type::Transaction
            }
        };
        let invocation = Invocation {
            kind,
            channel_id: channel,
            txid: ctx.txid.clone(),
            input,
            proposal: ctx.proposal.clone(),
            creator_mspid: ctx.creator_mspid.clone(),
            sim,
        };
        let reply = callee.run(invocation).await.map_err(|e| format!("execute failed: error sending: {e}"))?;
        Ok(reply.encode_to_vec())
    }
}
