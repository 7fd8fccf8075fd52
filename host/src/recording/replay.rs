//! Running a recorded transaction again, offline: the same executor, engine configuration and limits as on a host,
//! with the recording playing the peer. Each request the guest sends is compared with the recorded one; while they
//! match, the guest gets the recorded reply. At the first request that differs (or one the recording does not have)
//! the replay stops answering: the guest's call fails as if the stream had closed, and the report names the call.

use std::sync::Arc;

use tokio::sync::mpsc;
use wasmcc_proto::protos::ChaincodeMessage;

use super::{describe_ending, Recording, Wire};
use crate::abi::ChaincodePre;
use crate::abi::TxState;
use crate::context::TxContext;
use crate::engine::WasmEngine;
use crate::executor::{self, GuestOutcome, LoadedChaincode};
use crate::ledger::{self, TxLedger};

/// Where a replay first asked the recording for something it does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The stub call's position, from 1.
    pub call: usize,
    /// What the recorded transaction sent at that point; `None` when it had made no more calls.
    pub recorded: Option<Wire>,
    pub replayed: Wire,
}

/// How a replay compares with its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub divergence: Option<Divergence>,
    /// The replay made fewer stub calls than the recording (and no different one): (replayed, recorded).
    pub fewer_calls: Option<(usize, usize)>,
    /// What each answered, when that differs: (recorded, replayed), in words.
    pub ending: Option<(String, String)>,
    /// The fuel each burned, when that differs: (recorded, replayed).
    pub fuel: Option<(u64, u64)>,
}

impl Comparison {
    /// Nothing differs, fuel included.
    pub fn identical(&self) -> bool {
        self.divergence.is_none() && self.fewer_calls.is_none() && self.ending.is_none() && self.fuel.is_none()
    }

    /// What the peer would see differs: another stub call (so other reads or writes) or another answer. Fuel alone
    /// does not change a result; on the same module it still means the guest did not run the same way.
    pub fn result_changed(&self) -> bool {
        self.divergence.is_some() || self.fewer_calls.is_some() || self.ending.is_some()
    }

    /// The differences, a line each.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(d) = &self.divergence {
            match &d.recorded {
                Some(recorded) => lines.push(format!(
                    "stub call #{} differs: recorded {}, replayed {}",
                    d.call, recorded.summary, d.replayed.summary
                )),
                None => lines.push(format!(
                    "stub call #{} is not in the recording (it ended after {} calls): replayed {}",
                    d.call,
                    d.call - 1,
                    d.replayed.summary
                )),
            }
        }
        if let Some((replayed, recorded)) = self.fewer_calls {
            lines.push(format!("the replay made {replayed} stub calls, the recording {recorded}"));
        }
        if let Some((recorded, replayed)) = &self.ending {
            lines.push(format!("answer differs: recorded {recorded}, replayed {replayed}"));
        }
        if let Some((recorded, replayed)) = self.fuel {
            lines.push(format!("fuel differs: recorded {recorded}, replayed {replayed}"));
        }
        lines
    }
}

/// A recording that cannot be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the recording's input message does not decode: {0}")]
    Input(prost::DecodeError),
}

/// Replays `recording` with `pre` (the recorded module, or another one to compare against) under the recorded limits.
pub async fn replay(
    engine: &WasmEngine,
    pre: ChaincodePre<TxState>,
    recording: &Recording,
) -> Result<Comparison, ReplayError> {
    let input = recording.input_message().map_err(ReplayError::Input)?;
    let chaincode = Arc::new(LoadedChaincode::new(recording.ccid.clone(), pre, recording.limits));
    let (outbound, requests) = mpsc::channel(16);
    let (replies, inbox) = ledger::mailbox();
    let ledger = TxLedger::new(input.channel_id.clone(), input.txid.clone(), outbound, inbox, recording.peer);
    let run = async {
        match (TxContext::from_message(&input, recording.is_init), executor::enter(engine, &chaincode)) {
            (Ok(ctx), Ok(entry)) => executor::execute(engine, &chaincode, ctx, ledger, entry, false).await,
            (Err(e), _) => (GuestOutcome::Failed(e.into()), Default::default()),
            (_, Err(refused)) => (GuestOutcome::Failed(refused.into()), Default::default()),
        }
    };
    let ((outcome, stats), (calls, divergence)) = tokio::join!(run, play(recording, &input, requests, replies));
    let ending = crate::session::result_message(&input, recording.is_init, outcome);
    let ending_bytes = prost::Message::encode_to_vec(&ending);
    let recorded_calls = recording.calls.len();
    // Past a divergence the replay stopped answering: what the guest answered and burned then says nothing more.
    let ran_through = divergence.is_none();
    Ok(Comparison {
        fewer_calls: (ran_through && calls < recorded_calls).then_some((calls, recorded_calls)),
        divergence,
        ending: (ran_through && ending_bytes != recording.ending.message)
            .then(|| (describe_ending(&recording.ending.message), describe_ending(&ending_bytes))),
        fuel: (ran_through && stats.fuel != recording.ending.fuel).then_some((recording.ending.fuel, stats.fuel)),
    })
}

/// The recording as the peer: answers each request that matches the recorded one with the recorded reply. Returns
/// how many requests it answered, and the first it could not.
async fn play(
    recording: &Recording,
    input: &ChaincodeMessage,
    mut requests: mpsc::Receiver<ChaincodeMessage>,
    replies: ledger::Mailbox,
) -> (usize, Option<Divergence>) {
    let mut answered = 0;
    while let Some(request) = requests.recv().await {
        let replayed = Wire::new(request.r#type, request.payload).described();
        match recording.calls.get(answered) {
            Some(exchange) if exchange.request.same_as(&replayed) => {
                let reply = ChaincodeMessage {
                    r#type: exchange.reply.ty,
                    payload: exchange.reply.payload.clone(),
                    txid: input.txid.clone(),
                    channel_id: input.channel_id.clone(),
                    ..Default::default()
                };
                answered += 1;
                if replies.send(Box::new(reply)).await.is_err() {
                    break;
                }
            }
            recorded => {
                let recorded = recorded.map(|e| e.request.clone().described());
                return (answered, Some(Divergence { call: answered + 1, recorded, replayed }));
            }
        }
    }
    (answered, None)
}
