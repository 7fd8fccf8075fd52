//! What `build` records in launcher mode for `run`, and where `run` then takes the admin token from.
//!
//! The peer starts `bin/run` long after the install (at every launch, for as long as the chaincode is installed) and
//! with whatever `WASMCC_BUILDER_CONFIG` the peer has by then; it never runs build again for a package it has built.
//! A chaincode built in launcher mode must therefore not depend on the configuration staying in launcher mode or
//! pointing at the same host: build writes `launcher.json` into BUILD_OUTPUT_DIR (the directory the peer keeps and
//! hands to run) with the admin API that was checked to hold the chaincode and the CA that verified it, as
//! connection.json records a chaincode's route in the other modes.
//!
//! The admin token is the exception, on purpose: it is not written there. It is the host-wide write credential
//! (install, remove, launch anything), operators rotate it, and a copy in a build output could be neither rotated nor
//! removed, because the peer never rebuilds. `run` takes it from the peer's current configuration and, when it is
//! gone, says which chaincode needs it and that it must stay configured.

use std::fs;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use serde::{Deserialize, Serialize};

use crate::config::{Config, ENV};

/// The record's file name in BUILD_OUTPUT_DIR. release leaves it there: the peer reads only connection.json and
/// the indexes, and gives run the durable copy of BUILD_OUTPUT_DIR.
pub const FILE: &str = "launcher.json";

/// Everything `run` needs besides the token and the peer's chaincode.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The CCID built; run refuses a chaincode.json naming another, which would have the host register a chaincode
    /// the peer did not ask for.
    pub ccid: String,
    /// The admin API that build found the chaincode on.
    pub admin_url: String,
    /// The CA (PEM) that verified that API's certificate; `None`: the public web roots. Public, so kept in clear.
    pub admin_ca: Option<String>,
    /// Where run finds the bearer token `POST /v1/launch` needs.
    pub admin_token: TokenSource,
}

/// The places run may take the admin token from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenSource {
    /// `admin_token` of the peer's `WASMCC_BUILDER_CONFIG` when run starts (the only source so far; the record
    /// names it so that a reader of the build output sees what run depends on).
    #[serde(rename = "WASMCC_BUILDER_CONFIG")]
    Config,
}

impl Record {
    /// What build knows: the CCID and the configuration it found the chaincode with.
    pub fn new(ccid: &str, config: &Config) -> Record {
        Record {
            ccid: ccid.to_owned(),
            admin_url: config.admin_url.clone(),
            admin_ca: config.admin_ca.clone(),
            admin_token: TokenSource::Config,
        }
    }

    pub fn write(&self, build_output: &Path) -> anyhow::Result<()> {
        let path = build_output.join(FILE);
        let json = serde_json::to_vec_pretty(self).context("encoding the launcher record")?;
        fs::write(&path, json).with_context(|| format!("writing {}", path.display()))
    }

    /// The record in BUILD_OUTPUT_DIR, or `None` for a build made before builds recorded anything (run then uses
    /// the current configuration whole, as it did when that build was made).
    pub fn read(build_output: &Path) -> anyhow::Result<Option<Record>> {
        let path = build_output.join(FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not a launcher record this wasmcc-builder can read", path.display()))
    }

    /// The token for the launch, from `current` (the peer's configuration now, or why it could not be read).
    pub fn token(&self, current: anyhow::Result<Config>) -> anyhow::Result<String> {
        // Irrefutable today; a new source must be handled here.
        let TokenSource::Config = self.admin_token;
        let needed = || {
            format!(
                "chaincode {} was built in launcher mode: bin/run asks the host at {} to launch it and needs \
                 admin_token in {ENV} for that; keep admin_token configured on this peer for as long as chaincodes \
                 built in launcher mode are installed (docs/operators.md)",
                self.ccid, self.admin_url
            )
        };
        let config = current.with_context(needed)?;
        config.admin_token.ok_or_else(|| anyhow!(needed()))
    }

    /// Refuses a chaincode.json for another chaincode than the one built.
    pub fn check_ccid(&self, chaincode_id: &str) -> anyhow::Result<()> {
        if chaincode_id != self.ccid {
            bail!("chaincode.json names {chaincode_id}, but this build is of {}", self.ccid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn config(json: serde_json::Value) -> Config {
        Config::parse(&json.to_string()).unwrap()
    }

    #[test]
    fn records_the_host_and_its_ca_but_never_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let built_with = config(serde_json::json!({
            "admin_url": "https://wasmcc.example:9100/", "admin_ca": CA, "admin_token": "s3cret-token",
            "mode": "launcher",
        }));
        let record = Record::new("cc:ab", &built_with);
        record.write(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(!text.contains("s3cret-token"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ccid": "cc:ab", "admin_url": "https://wasmcc.example:9100", "admin_ca": CA,
                               "admin_token": "WASMCC_BUILDER_CONFIG"})
        );
        assert_eq!(Record::read(dir.path()).unwrap(), Some(record));
    }

    #[test]
    fn an_older_build_has_no_record_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Record::read(dir.path()).unwrap(), None);
        fs::write(dir.path().join(FILE), r#"{"ccid":"cc:ab","admin_url":"http://h","admin_token":"file"}"#).unwrap();
        let err = format!("{:#}", Record::read(dir.path()).unwrap_err());
        assert!(err.contains("not a launcher record this wasmcc-builder can read"), "{err}");
    }

    #[test]
    fn the_token_comes_from_the_current_configuration_or_a_clear_refusal() {
        let record = Record::new("cc:ab", &config(serde_json::json!({"admin_url": "http://h:9100"})));
        // Another host and mode now: only the token is taken from it.
        let now = serde_json::json!({"admin_url": "http://elsewhere:9100", "admin_token": "t", "mode": "lookup"});
        assert_eq!(record.token(Ok(config(now))).unwrap(), "t");

        let without = config(serde_json::json!({"admin_url": "http://h:9100", "mode": "lookup"}));
        let unset = Err(anyhow!("{ENV} is not set"));
        for current in [Ok(without), unset] {
            let err = format!("{:#}", record.token(current).unwrap_err());
            assert!(
                err.starts_with("chaincode cc:ab was built in launcher mode")
                    && err.contains("http://h:9100")
                    && err.contains("keep admin_token configured on this peer"),
                "{err}"
            );
        }
    }

    #[test]
    fn only_the_ccid_built_is_launched() {
        let record = Record::new("cc:ab", &config(serde_json::json!({"admin_url": "http://h"})));
        record.check_ccid("cc:ab").unwrap();
        let err = record.check_ccid("cc:cd").unwrap_err().to_string();
        assert_eq!(err, "chaincode.json names cc:cd, but this build is of cc:ab");
    }
}
