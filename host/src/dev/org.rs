//! The development organisation: its CA and a client identity, generated on first start and kept in the data
//! directory (keys readable by their owner only), so that an application's configured certificate and key stay
//! valid across restarts of `wasmcc dev`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use wasmcc_peer::{Identity, Msp};

/// Where the organisation's files are, under `<data_dir>/dev/org`.
pub struct OrgFiles {
    dir: PathBuf,
}

impl OrgFiles {
    pub fn new(data_dir: &Path) -> OrgFiles {
        OrgFiles { dir: data_dir.join("dev").join("org") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The client certificate applications connect with.
    pub fn client_cert(&self) -> PathBuf {
        self.path("client/cert.pem")
    }

    /// The client's private key (PKCS#8 PEM).
    pub fn client_key(&self) -> PathBuf {
        self.path("client/key.pem")
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.path("ca/cert.pem")
    }

    fn ca_key(&self) -> PathBuf {
        self.path("ca/key.pem")
    }

    fn mspid_file(&self) -> PathBuf {
        self.path("mspid")
    }

    /// The organisation kept here, or a new one of `mspid` saved here when there is none. A kept organisation of
    /// another MSP ID is an error: its identities would all be refused.
    pub fn open_or_create(&self, mspid: &str) -> anyhow::Result<Msp> {
        if self.mspid_file().exists() {
            let msp = self.open()?;
            if msp.mspid() != mspid {
                bail!(
                    "the organisation in {} is {}, not {mspid}: start with --mspid {} or another --data-dir",
                    self.dir.display(),
                    msp.mspid(),
                    msp.mspid()
                );
            }
            return Ok(msp);
        }
        let msp = Msp::generate(mspid)?;
        let client = msp.issue("User1", "client", &[])?;
        write(&self.ca_cert(), msp.ca_pem(), false)?;
        write(&self.ca_key(), &msp.ca_key_pem(), true)?;
        write(&self.client_cert(), client.cert_pem(), false)?;
        write(&self.client_key(), &client.key_pem(), true)?;
        // Last: a directory with an MSP ID is complete.
        write(&self.mspid_file(), mspid, false)?;
        Ok(msp)
    }

    /// The organisation kept here.
    pub fn open(&self) -> anyhow::Result<Msp> {
        let mspid = read(&self.mspid_file())
            .context("no development organisation here: has `wasmcc dev` run with this --data-dir?")?;
        Ok(Msp::from_pem(mspid.trim(), &read(&self.ca_cert())?, &read(&self.ca_key())?)?)
    }

    /// The client identity applications use by default.
    pub fn client(&self) -> anyhow::Result<Identity> {
        let mspid = read(&self.mspid_file())?;
        Ok(Identity::from_pem(mspid.trim(), &read(&self.client_cert())?, &read(&self.client_key())?)?)
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes a file, a key with mode 0600 from its creation on.
fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mode = if secret { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_organisation_is_made_once_and_read_back_with_private_keys_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let files = OrgFiles::new(dir.path());
        let made = files.open_or_create("Org1MSP").unwrap();
        let again = files.open_or_create("Org1MSP").unwrap();
        assert_eq!(made.ca_pem(), again.ca_pem(), "the second start reads the first's CA");
        for key in [files.client_key(), files.ca_key()] {
            assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "{}", key.display());
        }
        let client = files.client().unwrap();
        assert_eq!(client.mspid(), "Org1MSP");
        let Err(err) = files.open_or_create("Org2MSP") else { panic!("another MSP ID opens the organisation") };
        let err = err.to_string();
        assert!(err.contains("is Org1MSP, not Org2MSP"), "{err}");
    }
}
