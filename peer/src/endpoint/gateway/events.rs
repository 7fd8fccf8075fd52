//! ChaincodeEvents: a chaincode's committed events, one response per block, from a start position, then each new
//! block as it commits. A client resuming from a checkpoint names the block and the last transaction it processed
//! (`after_transaction_id`): the events of that block up to and including it are skipped.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tonic::Status;
use wasmcc_proto::gateway::{ChaincodeEventsRequest, ChaincodeEventsResponse};
use wasmcc_proto::orderer::seek_position;

use super::ledger::Ledger;

pub(super) type EventStream = Pin<Box<dyn Stream<Item = Result<ChaincodeEventsResponse, Status>> + Send>>;

/// The stream answering `request`; it ends when the client goes away.
pub(super) fn stream(ledger: Arc<Ledger>, request: ChaincodeEventsRequest) -> EventStream {
    let height = ledger.height();
    let start = match request.start_position.and_then(|p| p.r#type) {
        Some(seek_position::Type::Oldest(_)) => 0,
        Some(seek_position::Type::Newest(_)) => height,
        Some(seek_position::Type::Specified(s)) => s.number,
        Some(seek_position::Type::NextCommit(_)) | None => height + 1,
    };
    let chaincode = request.chaincode_id;
    let mut skip_through = Some(request.after_transaction_id).filter(|t| !t.is_empty());
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut next = start;
        loop {
            // Created before reading: a commit between the read and the wait still wakes this stream.
            let added = ledger.added.notified();
            for (block, mut events) in ledger.events_from(next, &chaincode) {
                next = block + 1;
                if let (Some(txid), true) = (&skip_through, block == start) {
                    match events.iter().position(|e| &e.tx_id == txid) {
                        Some(at) => drop(events.drain(..=at)),
                        None => events.clear(),
                    }
                }
                skip_through = None;
                if events.is_empty() {
                    continue;
                }
                if tx.send(Ok(ChaincodeEventsResponse { events, block_number: block })).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                _ = added => {}
                _ = tx.closed() => return,
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
