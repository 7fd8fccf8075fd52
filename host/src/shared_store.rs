//! Many hosts, one store: the chaincodes every host serves, kept in PostgreSQL (`[store] postgres = "…"`).
//!
//! What must be the same on every host lives here: the records (CCID, label, module hash, port, limits), the
//! packages and modules as uploaded, and the route book (every port and name ever given, [`RouteBook`]). What is
//! each host's own stays in its data directory: the compiled artifacts, keyed by module hash and engine build.
//!
//! An install is one transaction under the route book's row lock: a chaincode already there is answered as it is
//! (two hosts installing one package at once get one record, one port); otherwise the port is chosen by the same
//! rules as on one host, reserved, and the module, package and record written; the commit is the install. Every
//! install and removal is announced on [`CHANNEL`] (`NOTIFY`), which every host listens to. A host killed in the
//! middle leaves nothing: the transaction never committed.

use futures::StreamExt;
use tokio_postgres::{AsyncMessage, Client};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::limits::{TxLimits, SHARED_STORE_CONNECT_TIMEOUT};
use crate::routes::{PortChoice, RouteBook};
use crate::store::ChaincodeRecord;
use crate::tls::{PemRole, PemSource, TlsError};

/// The notification channel of installs and removals; the payload is an [`Announcement`].
pub const CHANNEL: &str = "wasmcc_chaincodes";

/// What an announcement on [`CHANNEL`] says: `installed <ccid>` or `removed <ccid>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Announcement {
    Installed(String),
    Removed(String),
}

impl Announcement {
    /// Reads a payload; `None` for one this host does not know (a newer host's), which calls for reading everything.
    pub fn parse(payload: &str) -> Option<Self> {
        match payload.split_once(' ')? {
            ("installed", ccid) => Some(Announcement::Installed(ccid.to_owned())),
            ("removed", ccid) => Some(Announcement::Removed(ccid.to_owned())),
            _ => None,
        }
    }

    /// The chaincode it is about.
    pub fn ccid(&self) -> &str {
        match self {
            Announcement::Installed(ccid) | Announcement::Removed(ccid) => ccid,
        }
    }
}

impl std::fmt::Display for Announcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Announcement::Installed(ccid) => write!(f, "installed {ccid}"),
            Announcement::Removed(ccid) => write!(f, "removed {ccid}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SharedStoreError {
    #[error("the shared store (PostgreSQL): {}", with_causes(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Route(#[from] PortChoice),
    #[error("the shared store (PostgreSQL) did not answer within {}s", SHARED_STORE_CONNECT_TIMEOUT.as_secs())]
    Timeout,
    #[error("the shared store holds something unreadable: {0}")]
    Corrupt(String),
}

/// The tables, created by whichever host comes first (under an advisory lock: two hosts starting at once must not
/// race on `CREATE TABLE`).
const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7261737);
CREATE TABLE IF NOT EXISTS wasmcc_modules (hash text PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE IF NOT EXISTS wasmcc_chaincodes (
    ccid text PRIMARY KEY,
    label text NOT NULL,
    module_hash text NOT NULL REFERENCES wasmcc_modules (hash),
    module_size bigint NOT NULL,
    port integer UNIQUE,
    limits jsonb NOT NULL,
    package bytea NOT NULL
);
-- Stores created before chaincodes could go without a port of their own (chaincodes.own_ports = false).
ALTER TABLE wasmcc_chaincodes ALTER COLUMN port DROP NOT NULL;
CREATE TABLE IF NOT EXISTS wasmcc_routes (id integer PRIMARY KEY CHECK (id = 1), book jsonb NOT NULL);
INSERT INTO wasmcc_routes VALUES (1, '{}') ON CONFLICT DO NOTHING;
";

/// A chaincode to install, before it has a port.
#[derive(Clone, Debug)]
pub struct Draft<'a> {
    pub ccid: &'a str,
    pub label: &'a str,
    pub module_hash: &'a str,
    pub module: &'a [u8],
    pub package: &'a [u8],
    pub limits: TxLimits,
}

impl<'a> Draft<'a> {
    /// A chaincode as recorded, with its module and package.
    pub fn of(record: &'a ChaincodeRecord, module: &'a [u8], package: &'a [u8]) -> Draft<'a> {
        Draft {
            ccid: &record.ccid,
            label: &record.label,
            module_hash: &record.module_hash,
            module,
            package,
            limits: record.limits,
        }
    }
}

/// Where ports come from: the pinned one, the range, the shared port (never a chaincode's own), and the name that
/// routes to the chaincode on the shared port, when there is one.
#[derive(Clone, Copy, Debug)]
pub struct PortRules<'a> {
    pub pinned: Option<u16>,
    /// `None`: chaincodes get no port of their own (the shared port only).
    pub range: Option<(u16, u16)>,
    pub shared: Option<u16>,
    pub name: Option<&'a str>,
}

/// A PostgreSQL connection string (`postgres://user:password@host/db` or the key=value form). It may hold a
/// password, so it never appears in logs or debug output.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(String);

impl StoreUrl {
    pub fn new(url: impl Into<String>) -> StoreUrl {
        StoreUrl(url.into())
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreUrl(<redacted>)")
    }
}

/// Where the shared store is and how to reach it: its connection string, and the TLS a connection uses when the
/// string's `sslmode` asks for it (`prefer`, tokio-postgres' default, uses TLS when the server offers it; `require`
/// refuses a server that does not). The server's certificate is always verified, against the configured CA or else
/// the public web roots, and must name the host the string connects to.
#[derive(Clone)]
pub struct StoreAccess {
    url: StoreUrl,
    tls: MakeRustlsConnect,
}

impl StoreAccess {
    pub fn new(url: StoreUrl, ca: Option<&PemSource>) -> Result<StoreAccess, TlsError> {
        let tls = MakeRustlsConnect::new(crate::tls::client_config(ca, PemRole::StoreCa)?);
        Ok(StoreAccess { url, tls })
    }

    pub fn url(&self) -> &StoreUrl {
        &self.url
    }
}

impl std::fmt::Debug for StoreAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreAccess").field("url", &self.url).finish_non_exhaustive()
    }
}

/// One host's connection to the shared store, for one piece of work (an install, a removal, reading what changed).
/// Each is a connection of its own: installs are rare, and a connection that broke never outlives its work.
pub struct SharedStore {
    client: Client,
}

impl SharedStore {
    /// Connects (the connection is driven by a task of its own) and creates the tables when they are missing.
    pub async fn connect(store: &StoreAccess) -> Result<SharedStore, SharedStoreError> {
        let mut client = connection(store, |_| {}).await?;
        let schema = client.transaction().await?;
        schema.batch_execute(SCHEMA).await?;
        schema.commit().await?;
        Ok(SharedStore { client })
    }

    /// A connection that listens to [`CHANNEL`]: each announcement's payload is sent to `notes`; the sender drops
    /// when the connection ends, which is how the listener learns that the store went away. The client returned
    /// keeps the connection open and answers [`SharedStore::ping`]s.
    pub async fn listen(
        store: &StoreAccess,
        notes: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<SharedStore, SharedStoreError> {
        let client = connection(store, move |payload| {
            let _ = notes.send(payload);
        })
        .await?;
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        Ok(SharedStore { client })
    }

    /// Whether the store answers.
    pub async fn ping(&self) -> Result<(), SharedStoreError> {
        self.client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Every installed chaincode, sorted by CCID.
    pub async fn records(&self) -> Result<Vec<ChaincodeRecord>, SharedStoreError> {
        let rows =
            self.client.query(&format!("SELECT {RECORD_COLUMNS} FROM wasmcc_chaincodes ORDER BY ccid"), &[]).await?;
        rows.iter().map(record_of).collect()
    }

    /// One installed chaincode.
    pub async fn record(&self, ccid: &str) -> Result<Option<ChaincodeRecord>, SharedStoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM wasmcc_chaincodes WHERE ccid = $1");
        self.client.query_opt(&sql, &[&ccid]).await?.as_ref().map(record_of).transpose()
    }

    /// A chaincode's package as installed.
    pub async fn package(&self, ccid: &str) -> Result<Option<Vec<u8>>, SharedStoreError> {
        let row = self.client.query_opt("SELECT package FROM wasmcc_chaincodes WHERE ccid = $1", &[&ccid]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// A module by its hash.
    pub async fn module(&self, hash: &str) -> Result<Option<Vec<u8>>, SharedStoreError> {
        let row = self.client.query_opt("SELECT bytes FROM wasmcc_modules WHERE hash = $1", &[&hash]).await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Every route ever given.
    pub async fn routes(&self) -> Result<RouteBook, SharedStoreError> {
        let row = self.client.query_one("SELECT book FROM wasmcc_routes WHERE id = 1", &[]).await?;
        book_of(row.get(0))
    }

    /// Installs a chaincode, or answers the one installed under its CCID (`false`): see the module's docs.
    pub async fn install(
        &mut self,
        draft: &Draft<'_>,
        rules: PortRules<'_>,
    ) -> Result<(ChaincodeRecord, bool), SharedStoreError> {
        let tx = self.client.transaction().await?;
        let book = tx.query_one("SELECT book FROM wasmcc_routes WHERE id = 1 FOR UPDATE", &[]).await?;
        let mut book = book_of(book.get(0))?;
        let existing = tx
            .query_opt(&format!("SELECT {RECORD_COLUMNS} FROM wasmcc_chaincodes WHERE ccid = $1"), &[&draft.ccid])
            .await?;
        if let Some(row) = existing {
            return Ok((record_of(&row)?, false));
        }
        // Whether a port can be bound is each host's own business: here only the book decides.
        let chosen = book.choose_port(draft.ccid, rules.pinned, rules.name, rules.range, rules.shared, |_| Ok(()))?;
        let port = chosen.map(|(port, ())| port);
        if let Some(port) = port {
            book.reserve_port(port, draft.ccid).map_err(PortChoice::from)?;
        }
        if let Some(name) = rules.name {
            book.reserve_sni_name(name, draft.ccid).map_err(PortChoice::from)?;
        }
        let record = ChaincodeRecord {
            ccid: draft.ccid.to_owned(),
            label: draft.label.to_owned(),
            module_hash: draft.module_hash.to_owned(),
            module_size: draft.module.len() as u64,
            port,
            limits: draft.limits,
        };
        let book_json = serde_json::to_value(&book).expect("a route book serializes");
        let limits = serde_json::to_value(record.limits).expect("limits serialize");
        tx.execute("UPDATE wasmcc_routes SET book = $1 WHERE id = 1", &[&book_json]).await?;
        tx.execute(
            "INSERT INTO wasmcc_modules (hash, bytes) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            &[&draft.module_hash, &draft.module],
        )
        .await?;
        tx.execute(
            "INSERT INTO wasmcc_chaincodes (ccid, label, module_hash, module_size, port, limits, package) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &record.ccid,
                &record.label,
                &record.module_hash,
                &(record.module_size as i64),
                &port.map(i32::from),
                &limits,
                &draft.package,
            ],
        )
        .await?;
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &Announcement::Installed(record.ccid.clone()).to_string()])
            .await?;
        tx.commit().await?;
        Ok((record, true))
    }

    /// Uninstalls: the record goes, and the module with it unless another chaincode uses it; the routes stay
    /// reserved. Returns what was removed.
    pub async fn remove(&mut self, ccid: &str) -> Result<Option<ChaincodeRecord>, SharedStoreError> {
        let tx = self.client.transaction().await?;
        let removed = tx
            .query_opt(&format!("DELETE FROM wasmcc_chaincodes WHERE ccid = $1 RETURNING {RECORD_COLUMNS}"), &[&ccid])
            .await?;
        let Some(row) = removed else { return Ok(None) };
        let record = record_of(&row)?;
        tx.execute(
            "DELETE FROM wasmcc_modules m WHERE m.hash = $1 \
             AND NOT EXISTS (SELECT 1 FROM wasmcc_chaincodes c WHERE c.module_hash = m.hash)",
            &[&record.module_hash],
        )
        .await?;
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &Announcement::Removed(ccid.to_owned()).to_string()])
            .await?;
        tx.commit().await?;
        Ok(Some(record))
    }
}

/// Opens a connection and drives it on a task of its own, handing each notification's payload to `on_note`.
async fn connection(
    store: &StoreAccess,
    on_note: impl Fn(String) + Send + 'static,
) -> Result<Client, SharedStoreError> {
    let connecting = tokio_postgres::connect(&store.url.0, store.tls.clone());
    let (client, mut connection) = match tokio::time::timeout(SHARED_STORE_CONNECT_TIMEOUT, connecting).await {
        Ok(connected) => connected?,
        Err(_) => return Err(SharedStoreError::Timeout),
    };
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => on_note(n.payload().to_owned()),
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("a connection to the shared store ended: {e}");
                    break;
                }
            }
        }
    });
    Ok(client)
}

/// An error with what caused it ("error performing TLS handshake: invalid peer certificate: UnknownIssuer"): the
/// cause is what tells an operator what to fix.
fn with_causes(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// The columns [`record_of`] reads, in its order.
const RECORD_COLUMNS: &str = "ccid, label, module_hash, module_size, port, limits";

fn record_of(row: &tokio_postgres::Row) -> Result<ChaincodeRecord, SharedStoreError> {
    let port: Option<i32> = row.get(4);
    let size: i64 = row.get(3);
    let limits: serde_json::Value = row.get(5);
    Ok(ChaincodeRecord {
        ccid: row.get(0),
        label: row.get(1),
        module_hash: row.get(2),
        module_size: u64::try_from(size).map_err(|_| SharedStoreError::Corrupt(format!("module size {size}")))?,
        port: port
            .map(|port| u16::try_from(port).map_err(|_| SharedStoreError::Corrupt(format!("port {port}"))))
            .transpose()?,
        limits: serde_json::from_value(limits).map_err(|e| SharedStoreError::Corrupt(format!("limits: {e}")))?,
    })
}

fn book_of(json: serde_json::Value) -> Result<RouteBook, SharedStoreError> {
    serde_json::from_value(json).map_err(|e| SharedStoreError::Corrupt(format!("route book: {e}")))
}

#[cfg(test)]
mod tests {
    use super::Announcement;

    #[test]
    fn announcements_read_back_as_written_and_unknown_ones_are_none() {
        for said in [Announcement::Installed("cc:ab".into()), Announcement::Removed("cc:ab".into())] {
            assert_eq!(Announcement::parse(&said.to_string()), Some(said.clone()));
            assert_eq!(said.ccid(), "cc:ab");
        }
        assert_eq!(Announcement::parse("upgraded cc:ab"), None);
        assert_eq!(Announcement::parse("installed"), None);
    }
}
