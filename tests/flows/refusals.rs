//! Refusals through the admin API: each with a clear message, and nothing left behind.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use wasmcc_host::client::{AdminClient, ClientError};
use wasmcc_host::daemon::Daemon;
use wasmcc_host::package::write_package;
use wasmcc_tests::{free_ports, host_config, wasm};

fn api_error(result: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, message }) => (status, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Files the store holds outside tmp/ (where only half-written files live).
fn stored_files(dir: &std::path::Path) -> usize {
    ["modules", "compiled", "packages", "chaincodes"]
        .iter()
        .map(|d| std::fs::read_dir(dir.join(d)).unwrap().count())
        .sum()
}

#[tokio::test]
async fn bad_uploads_and_bad_tokens_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), free_ports(10));
    config.admin.max_upload_mb = 1;
    let daemon = Daemon::start(&config).await.unwrap();
    let url = daemon.admin_url();
    let api = AdminClient::new(&url, Some(daemon.token().into()), None).unwrap();
    let good = write_package("counter", &wasm("counter"), &[]).unwrap();

    let (status, msg) = api_error(AdminClient::new(&url, None, None).unwrap().install(good.clone()).await);
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("missing bearer token"), "{msg}");
    let (status, msg) =
        api_error(AdminClient::new(&url, Some("nope".into()), None).unwrap().install(good.clone()).await);
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("wrong bearer token"), "{msg}");

    let (status, msg) = api_error(api.install(write_package("bad", b"\0asm garbage", &[]).unwrap()).await);
    assert_eq!(status, 400, "{msg}");
    assert!(msg.starts_with("module refused"), "{msg}");

    let (status, msg) = api_error(api.install(good[..good.len() / 2].to_vec()).await);
    assert_eq!(status, 400, "{msg}");
    assert!(msg.starts_with("package refused"), "{msg}");

    let (status, msg) = api_error(api.install(vec![0u8; 2 * 1024 * 1024]).await);
    assert_eq!(status, 413, "{msg}");
    assert!(msg.contains("limit"), "{msg}");

    // An upload cut off mid-body: the client announced more than it sent, then vanished.
    let mut sock = tokio::net::TcpStream::connect(daemon.admin_addr()).await.unwrap();
    let head = format!(
        "POST /v1/chaincodes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        daemon.token(),
        good.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&good[..good.len() / 3]).await.unwrap();
    sock.shutdown().await.unwrap();
    let mut answer = String::new();
    let _ = sock.read_to_string(&mut answer).await;
    assert!(!answer.starts_with("HTTP/1.1 2"), "a truncated upload must not install: {answer}");

    assert_eq!(stored_files(dir.path()), 0, "nothing refused may be left behind");
    assert!(api.list().await.unwrap().is_empty());
    // The good package still installs afterwards.
    assert!(api.install(good).await.unwrap().1);
    daemon.shutdown().await;
}

/// Sends an HTTP/1.1 request on a fresh connection and returns the whole answer.
async fn raw_request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{head}Host: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    let mut answer = String::new();
    let _ = sock.read_to_string(&mut answer).await;
    answer
}

#[tokio::test]
async fn uploads_past_the_budget_wait_their_turn_then_get_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), free_ports(10));
    config.admin.max_concurrent_uploads = 1;
    config.admin.upload_wait_secs = 1;
    let daemon = Daemon::start(&config).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().into()), None).unwrap();
    let good = write_package("counter", &wasm("counter"), &[]).unwrap();

    // An authenticated upload that announces its body and sends only part of it holds the one slot.
    let mut holder = tokio::net::TcpStream::connect(daemon.admin_addr()).await.unwrap();
    let head = format!(
        "POST /v1/chaincodes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        daemon.token(),
        good.len()
    );
    holder.write_all(head.as_bytes()).await.unwrap();
    holder.write_all(&good[..good.len() / 3]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    let (status, msg) = api_error(api.install(good.clone()).await);
    assert_eq!(status, 503, "{msg}");
    assert!(msg.contains("busy") && msg.contains("max_concurrent_uploads"), "{msg}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "it waited its turn first");
    let post = "POST /v1/chaincodes HTTP/1.1\r\nContent-Type: application/octet-stream\r\n";
    let answer =
        raw_request(daemon.admin_addr(), &format!("{post}Authorization: Bearer {}\r\n", daemon.token()), &good).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1\r\n"), "{answer}");
    // A wrong token is refused at once, before any turn is taken or a byte of the body read.
    let started = std::time::Instant::now();
    let answer = raw_request(daemon.admin_addr(), &format!("{post}Authorization: Bearer nope\r\n"), &good).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_millis(900));

    // The holder goes away: its slot is free again and the upload goes through.
    drop(holder);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(api.install(good).await.unwrap().1);
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_failure_of_the_host_does_not_show_its_paths_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = host_config(dir.path(), free_ports(10));
    let daemon = Daemon::start(&config).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().into()), None).unwrap();
    // packages/ becomes a file: storing the package fails at its rename, as a full or broken disk would.
    std::fs::remove_dir(dir.path().join("packages")).unwrap();
    std::fs::write(dir.path().join("packages"), b"").unwrap();

    let (status, msg) = api_error(api.install(write_package("counter", &wasm("counter"), &[]).unwrap()).await);
    assert_eq!(status, 500, "{msg}");
    assert!(msg.contains("internal error") && msg.contains("log"), "{msg}");
    let root = dir.path().canonicalize().unwrap();
    for shown in [dir.path().to_str().unwrap(), root.to_str().unwrap(), "packages/", "tmp"] {
        assert!(!msg.contains(shown), "{msg:?} shows {shown:?}");
    }
    assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "a temporary file was left");
    assert!(api.list().await.unwrap().is_empty());
    daemon.shutdown().await;
}
