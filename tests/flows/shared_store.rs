//! The shared store of many hosts on a real PostgreSQL: installs from two hosts at once make one record with one
//! port, routes stay with their chaincode across removals, modules go with their last chaincode, and every change is
//! announced to the hosts listening.

use std::time::Duration;

use rcgen::ExtendedKeyUsagePurpose;
use wasmcc_host::limits::TxLimits;
use wasmcc_host::shared_store::{Draft, PortRules, SharedStore, StoreAccess, StoreUrl};
use wasmcc_host::tls::PemSource;
use wasmcc_tests::postgres::TempPostgres;

const RANGE: (u16, u16) = (9101, 9199);

fn draft<'a>(ccid: &'a str, module_hash: &'a str) -> Draft<'a> {
    let label = ccid.split(':').next().unwrap();
    Draft { ccid, label, module_hash, module: b"\0asm module", package: b"package bytes", limits: TxLimits::default() }
}

fn rules() -> PortRules<'static> {
    PortRules { pinned: None, range: Some(RANGE), shared: None, name: None }
}

/// The next announcement, within 5 s.
async fn next(notes: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.expect("an announcement in time").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_share_records_routes_and_modules() {
    let pg = TempPostgres::start();
    let url = StoreAccess::new(StoreUrl::new(pg.url()), None).unwrap();
    let (mut one, mut two) = (SharedStore::connect(&url).await.unwrap(), SharedStore::connect(&url).await.unwrap());

    // What every host listens to ([`SharedStore::listen`]), on a connection of its own.
    let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    let _listener = SharedStore::listen(&url, tx).await.unwrap();

    // The same package from two hosts at once: one record, one port, one announcement.
    let a = draft("alpha:aa", "m1");
    let (first, second) = tokio::join!(one.install(&a, rules()), two.install(&a, rules()));
    let ((r1, c1), (r2, c2)) = (first.unwrap(), second.unwrap());
    assert_eq!(r1, r2);
    assert_eq!(r1.port, Some(RANGE.0));
    assert!(c1 ^ c2, "exactly one of the two created it");
    assert_eq!(next(&mut notes).await, "installed alpha:aa");

    // Another chaincode on the same module: the next port; the module is stored once.
    let (b, _) = two.install(&draft("beta:bb", "m1"), rules()).await.unwrap();
    assert_eq!(b.port, Some(RANGE.0 + 1));
    assert_eq!(next(&mut notes).await, "installed beta:bb");
    assert_eq!(
        one.records().await.unwrap().iter().map(|r| r.ccid.as_str()).collect::<Vec<_>>(),
        ["alpha:aa", "beta:bb"]
    );
    assert_eq!(one.package("beta:bb").await.unwrap().as_deref(), Some(&b"package bytes"[..]));

    // Removal: the module stays while another chaincode uses it; the route stays with its chaincode.
    assert_eq!(one.remove("alpha:aa").await.unwrap().and_then(|r| r.port), Some(RANGE.0));
    assert_eq!(next(&mut notes).await, "removed alpha:aa");
    assert!(two.module("m1").await.unwrap().is_some(), "beta still uses it");
    let (c, _) = one.install(&draft("gamma:cc", "m2"), rules()).await.unwrap();
    assert_eq!(c.port, Some(RANGE.0 + 2), "alpha's port is never given to another chaincode");
    let (again, created) = two.install(&a, rules()).await.unwrap();
    assert!(created);
    assert_eq!(again.port, Some(RANGE.0), "alpha gets its own port back");
    one.remove("beta:bb").await.unwrap();
    one.remove("alpha:aa").await.unwrap();
    assert!(two.module("m1").await.unwrap().is_none(), "gone with its last chaincode");

    // A pinned port that belongs to another chaincode is refused, and nothing is written.
    let pinned = PortRules { pinned: Some(RANGE.0 + 2), ..rules() };
    let refused = two.install(&draft("delta:dd", "m3"), pinned).await.unwrap_err();
    assert!(refused.to_string().contains("gamma:cc"), "{refused}");
    assert!(one.records().await.unwrap().iter().all(|r| r.ccid != "delta:dd"));
    assert!(one.module("m3").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_reached_over_verified_tls() {
    let ca = crate::tls::ca("db CA");
    let (cert, key) = crate::tls::issue(&ca, &["localhost"], true, ExtendedKeyUsagePurpose::ServerAuth);
    let pg = TempPostgres::start_with_tls(&cert, &key);
    let require = StoreUrl::new(format!("{} sslmode=require", pg.url()));

    // The server's certificate verified against the configured CA: the store works over TLS.
    let trusted = StoreAccess::new(require.clone(), Some(&PemSource::Pem(ca.pem()))).unwrap();
    let mut store = SharedStore::connect(&trusted).await.unwrap();
    store.install(&draft("alpha:aa", "m1"), rules()).await.unwrap();
    assert_eq!(store.records().await.unwrap().len(), 1);
    let (client, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let sql =
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname IS NOT NULL";
    let encrypted: i64 = client.query_one(sql, &[]).await.unwrap().get(0);
    assert!(encrypted >= 1, "the store's connection is encrypted");

    // Another CA (or the public roots) does not vouch for it: refused, saying why.
    for ca in [Some(PemSource::Pem(crate::tls::ca("other CA").pem())), None] {
        let untrusted = StoreAccess::new(require.clone(), ca.as_ref()).unwrap();
        let refused = SharedStore::connect(&untrusted).await.err().expect("an unknown issuer is refused").to_string();
        assert!(refused.to_lowercase().contains("certificate") || refused.contains("UnknownIssuer"), "{refused}");
    }
    // A CA file that is not PEM is a configuration error, before any connection.
    let garbage = StoreAccess::new(require, Some(&PemSource::Pem("not a certificate".into())));
    assert!(garbage.is_err());
}
