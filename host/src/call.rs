//! `wasmcc invoke` and `wasmcc query`: `peer chaincode invoke/query` for `wasmcc dev`. They call a chaincode through
//! the Gateway as an application would, as the development organisation's client or an identity issued on the spot
//! (`--cn`, `--attr`), and print what came back: the response, the event, the writes, the commit.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use wasmcc_peer::{decode_writes, error_details, Call, GatewayCaller, Identity, Msp};
use wasmcc_proto::protos::TxValidationCode;

use crate::dev::org::OrgFiles;
use crate::dev::{DEFAULT_DATA_DIR, DEFAULT_GATEWAY};

#[derive(clap::Args)]
pub struct CallArgs {
    /// The chaincode's name.
    chaincode: String,
    /// The function, then its arguments (after `--` when one starts with `-`).
    #[arg(required = true, num_args = 1.., allow_negative_numbers = true)]
    args: Vec<String>,
    /// The Gateway of `wasmcc dev`.
    #[arg(long, env = "WASMCC_GATEWAY", default_value = DEFAULT_GATEWAY)]
    gateway: String,
    /// The data directory of `wasmcc dev`: its client identity and CA.
    #[arg(long, env = "WASMCC_DEV_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    #[arg(long, default_value = "mychannel")]
    channel: String,
    /// Transient data: `KEY=VALUE`, repeatable (private data inputs travel this way).
    #[arg(long, value_name = "KEY=VALUE")]
    transient: Vec<String>,
    /// Call as a new identity with this common name, issued by the organisation's CA, instead of its client.
    #[arg(long)]
    cn: Option<String>,
    /// A Fabric CA attribute of the new identity: `NAME=VALUE`, repeatable (implies a new identity).
    #[arg(long, value_name = "NAME=VALUE")]
    attr: Vec<String>,
    /// The new identity's MSP ID. Another organisation's identity is refused by `wasmcc dev`, as by a real peer.
    #[arg(long)]
    mspid: Option<String>,
}

#[derive(clap::Args)]
pub struct InvokeArgs {
    #[command(flatten)]
    call: CallArgs,
    /// Send it as the chaincode's Init (`--init-required` definitions).
    #[arg(long)]
    init: bool,
}

fn pairs(specs: &[String], flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    specs
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("{flag} takes KEY=VALUE: {s}"))
        })
        .collect()
}

impl CallArgs {
    fn identity(&self) -> anyhow::Result<Identity> {
        let files = OrgFiles::new(&self.data_dir);
        if self.cn.is_none() && self.attr.is_empty() && self.mspid.is_none() {
            return files.client();
        }
        let org = files.open()?;
        let attributes = pairs(&self.attr, "--attr")?;
        let attributes: Vec<(&str, &str)> = attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let cn = self.cn.as_deref().unwrap_or("User1");
        match &self.mspid {
            Some(other) if other != org.mspid() => Ok(Msp::generate(other)?.issue(cn, "client", &attributes)?),
            _ => Ok(org.issue(cn, "client", &attributes)?),
        }
    }

    async fn caller(&self) -> anyhow::Result<(GatewayCaller, Call)> {
        let caller = GatewayCaller::connect(&self.gateway, self.identity()?, &self.channel)
            .await
            .with_context(|| format!("is `wasmcc dev` running with its Gateway on {}?", self.gateway))?;
        let transient: HashMap<String, Vec<u8>> =
            pairs(&self.transient, "--transient")?.into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
        let args = self.args.iter().map(|a| a.clone().into_bytes()).collect();
        Ok((caller, Call { chaincode: self.chaincode.clone(), args, transient, is_init: false }))
    }
}

/// A refusal as Fabric's Gateway words it, with its details.
fn refused(status: tonic::Status) -> anyhow::Error {
    let mut text = format!("{} ({:?})", status.message(), status.code());
    for detail in error_details(&status) {
        text.push_str(&format!("\n  {} ({}): {}", detail.address, detail.msp_id, detail.message));
    }
    anyhow::anyhow!(text)
}

/// Bytes as text when they are UTF-8, else hex.
fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("0x{}", hex::encode(bytes)),
    }
}

pub async fn query(args: CallArgs) -> anyhow::Result<()> {
    let (mut caller, call) = args.caller().await?;
    let response = caller.evaluate(&call).await.map_err(refused)?;
    println!("{}", show(&response.payload));
    Ok(())
}

pub async fn invoke(args: InvokeArgs) -> anyhow::Result<()> {
    let (mut caller, mut call) = args.call.caller().await?;
    call.is_init = args.init;
    let committed = caller.submit(&call).await.map_err(refused)?;
    println!("response: {} {}", committed.response.status, show(&committed.response.payload));
    if let Some(event) = &committed.event {
        println!("event: {} {}", event.event_name, show(&event.payload));
    }
    for ns in decode_writes(&committed.results).context("the endorsed read/write set")? {
        for (key, value) in &ns.writes {
            match value {
                Some(value) => println!("write: {} {key} = {}", ns.namespace, show(value)),
                None => println!("write: {} {key} deleted", ns.namespace),
            }
        }
        for collection in &ns.collections {
            println!(
                "write: {} {}: {} private write(s), hashes only",
                ns.namespace,
                collection.collection,
                collection.writes.len()
            );
        }
    }
    let code = committed.code;
    println!("{} in block {} (txid {})", code.as_str_name(), committed.block, committed.txid);
    if code != TxValidationCode::Valid {
        bail!("the transaction is invalid: {}", code.as_str_name());
    }
    Ok(())
}
