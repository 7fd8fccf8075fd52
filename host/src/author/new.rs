//! `wasmcc new NAME`: a chaincode crate to start from, outside any workspace: a contract with a unit test on the mock
//! ledger, a README saying how to build, test and install it, and a release profile that makes small modules.

use std::path::PathBuf;

use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The chaincode's name: its crate name and, by default, its package label.
    pub name: String,
    /// Where to create it [default: ./NAME].
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Depend on a local checkout of the SDK (its guest-sdk directory) instead of the published version.
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

/// The SDK version a new crate asks for: this binary's own, so the host and the chaincode agree on the ABI.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn run(args: &NewArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let dir = args.path.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        anyhow::bail!("{} exists and is not empty", dir.display());
    }
    let sdk = match &args.sdk_path {
        Some(path) => {
            let path = path.canonicalize().with_context(|| format!("--sdk-path {}", path.display()))?;
            anyhow::ensure!(
                path.join("Cargo.toml").is_file() && path.join("wit").is_dir(),
                "--sdk-path {}: not the SDK's directory (guest-sdk in a wasmcc checkout)",
                path.display()
            );
            format!("{{ path = {:?} }}", path.display().to_string())
        }
        None => format!("{:?}", SDK_VERSION.rsplit_once('.').map_or(SDK_VERSION, |(major_minor, _)| major_minor)),
    };
    for (file, text) in files(&args.name, &sdk) {
        let path = dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created {} in {}", args.name, dir.display());
    println!("next: cd {} && cargo test && wasmcc build", dir.display());
    Ok(())
}

/// A crate name that is also a valid package label, so `wasmcc build` can label the package with it.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.len() <= 64;
    anyhow::ensure!(
        valid,
        "{name:?} cannot name a chaincode: use a letter, then letters, digits, '-' or '_' (64 at most), as both a Rust \
         crate name and a Fabric package label"
    );
    Ok(())
}

fn files(name: &str, sdk: &str) -> [(&'static str, String); 4] {
    let lib = name.replace('-', "_");
    [
        ("Cargo.toml", CARGO_TOML.replace("{name}", name).replace("{sdk}", sdk)),
        ("src/lib.rs", LIB_RS.replace("{name}", name).replace("{lib}", &lib)),
        ("README.md", README.replace("{name}", name)),
        (".gitignore", "/target\n".to_owned()),
    ]
}

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[lib]
# cdylib: the wasm module a wasmcc host runs; rlib: so `cargo test` links the unit tests natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
wasmcc-sdk = {sdk}
serde = { version = "1", features = ["derive"] }
serde_json = "1"
schemars = "1"

# `wasmcc build` builds this profile: fast code (opt-level "s" left the allocator out of line, 15% more time in the
# sandbox per transaction), no unwinding.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = true
"#;

const LIB_RS: &str = r##"//! {name}: a Hyperledger Fabric chaincode for wasmcc.
//!
//! Every `#[transaction]` below is callable by its name (`Create`, `Read`, ...); `org.hyperledger.fabric:GetMetadata`
//! describes them all. Nothing survives between transactions but what is written to the ledger.
#![forbid(unsafe_code)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use wasmcc_sdk::{contract, Context};

/// What the chaincode keeps: one JSON document per id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    pub id: String,
    pub owner: String,
    pub value: u64,
}

pub struct Records;

#[contract(default)]
impl Records {
    /// Stores a new record; an id can be used once.
    #[transaction]
    pub fn create(ctx: &mut Context, id: String, owner: String, value: u64) -> Result<Record, String> {
        if ctx.stub().get_state(&id)?.is_some() {
            return Err(format!("record {id} already exists"));
        }
        let record = Record { id, owner, value };
        save(ctx, &record)?;
        Ok(record)
    }

    #[transaction(evaluate)]
    pub fn read(ctx: &mut Context, id: String) -> Result<Record, String> {
        let bytes = ctx.stub().get_state(&id)?.ok_or_else(|| format!("record {id} does not exist"))?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// Gives a record to a new owner.
    #[transaction]
    pub fn transfer(ctx: &mut Context, id: String, new_owner: String) -> Result<Record, String> {
        let mut record = Self::read(ctx, id)?;
        record.owner = new_owner;
        save(ctx, &record)?;
        Ok(record)
    }

    /// Every record, in id order.
    #[transaction(evaluate)]
    pub fn list(ctx: &mut Context) -> Result<Vec<Record>, String> {
        let mut records = Vec::new();
        for kv in ctx.stub().get_state_by_range("", "")? {
            records.push(serde_json::from_slice(&kv?.value).map_err(|e| e.to_string())?);
        }
        Ok(records)
    }
}

fn save(ctx: &mut Context, record: &Record) -> Result<(), String> {
    let json = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    Ok(ctx.stub().put_state(&record.id, &json)?)
}

wasmcc_sdk::chaincode!(
    /// The chaincode the host runs.
    pub Chaincode = [Records]
);

#[cfg(test)]
mod tests {
    use wasmcc_sdk::mock::MockLedger;

    use super::*;

    #[test]
    fn create_read_transfer_list() {
        let mut ledger = MockLedger::new();
        let created = ledger.invoke::<Chaincode>(&["Create", "r1", "ada", "10"]);
        assert_eq!(created.status, 200, "{}", created.message);
        assert_eq!(created.payload, br#"{"id":"r1","owner":"ada","value":10}"#);
        let again = ledger.invoke::<Chaincode>(&["Create", "r1", "bo", "1"]);
        assert_eq!((again.status, again.message.as_str()), (500, "record r1 already exists"));

        let moved = ledger.invoke::<Chaincode>(&["Transfer", "r1", "bo"]);
        assert_eq!(moved.payload, br#"{"id":"r1","owner":"bo","value":10}"#);
        assert_eq!(ledger.state("r1"), Some(&moved.payload[..]));
        assert_eq!(ledger.invoke::<Chaincode>(&["List"]).payload, [b"[", &moved.payload[..], b"]"].concat());
    }

    #[test]
    fn arguments_are_checked_before_the_transaction_runs() {
        let mut ledger = MockLedger::new();
        let r = ledger.invoke::<Chaincode>(&["Create", "r1", "ada", "-1"]);
        assert_eq!(r.message, r#"Unable to validate parameter due to ["should be >= 0"]"#);
        let r = ledger.invoke::<Chaincode>(&["Read"]);
        assert_eq!(r.message, "Expected 1 parameters, but 0 have been supplied");
    }
}
"##;

const README: &str = r#"# {name}

A Hyperledger Fabric chaincode for wasmcc: Rust compiled to WebAssembly, served to Fabric peers by a wasmcc host.

- `cargo test` runs the unit tests natively, against the SDK's mock ledger.
- `wasmcc build` builds the wasm module, checks it as a host checks an upload, and writes the package
  `target/wasmcc/{name}.tar.gz`; it prints the package's CCID last.
- `wasmcc install target/wasmcc/{name}.tar.gz --config <the host's wasmcc.toml>` installs it on a running host,
  which prints the address peers dial; install the same package on the peers (`peer lifecycle chaincode install`)
  with the wasmcc builder.

A chaincode has no clock and no randomness, so that every endorsing peer computes the same result: use
`ctx.stub().tx_timestamp()` for the time. Everything else it needs comes through `ctx.stub()`.
"#;

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_must_be_crate_names_and_labels() {
        for good in ["token", "asset-transfer", "a_b9"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "9lives", "has space", "dot.ted", "ünï", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
