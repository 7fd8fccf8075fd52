//! The audit trail of the real `wasmcc serve`, at its default log level: failed authentication and installs reach
//! stderr with the caller's address, and never with a token.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use wasmcc_testkit::ports::free_port;

const TOKEN: &str = "audit-test-token-5f2c";
const WRONG: &str = "not-the-token-9a41";

/// Kills the host when the test ends, however it ends.
struct Host(Child);

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: the status code, the whole answer, and the caller's address as the
/// host saw it.
fn request(admin: SocketAddr, head: &str, body: &[u8]) -> (u16, String, SocketAddr) {
    let mut socket = TcpStream::connect(admin).unwrap();
    let local = socket.local_addr().unwrap();
    write!(socket, "{head}Host: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    socket.write_all(body).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer, local)
}

#[test]
fn failed_authentication_and_installs_are_logged_with_the_address_at_the_default_level() {
    let dir = tempfile::tempdir().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let port = free_port();
    let config = dir.path().join("host.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[admin]\nlisten = \"{admin}\"\ntoken = \"{TOKEN}\"\n\
             [chaincodes]\nport_min = {port}\nport_max = {port}\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wasmcc"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("WASMCC_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wasmcc serve");
    let mut host = Host(child);
    let mut up = false;
    for _ in 0..300 {
        if TcpStream::connect(admin).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "wasmcc serve did not come up on {admin}");

    let post = "POST /v1/chaincodes HTTP/1.1\r\nContent-Type: application/octet-stream\r\n";
    let (status, answer, refused_from) = request(admin, &format!("{post}Authorization: Bearer {WRONG}\r\n"), b"x");
    assert_eq!(status, 403, "{answer}");
    let (status, answer, missing_from) = request(admin, "DELETE /v1/chaincodes/x:y HTTP/1.1\r\n", b"");
    assert_eq!(status, 401, "{answer}");

    // The scheme in lower case is still a bearer token (RFC 7235).
    let wasm = std::fs::read(crate::example("counter")).expect("reading the counter example");
    let package = wasmcc_host::package::write_package("audited", &wasm, &[]).unwrap();
    let (status, answer, installed_from) =
        request(admin, &format!("{post}Authorization: bearer {TOKEN}\r\n"), &package);
    assert_eq!(status, 201, "{answer}");
    let ccid = wasmcc_host::package::ccid("audited", &package);

    let _ = host.0.kill();
    let _ = host.0.wait();
    let mut log = String::new();
    host.0.stderr.take().unwrap().read_to_string(&mut log).unwrap();

    let line = |needle: &str| log.lines().find(|l| l.contains(needle)).map(str::to_owned);
    let refused =
        line(&format!("remote={refused_from}")).unwrap_or_else(|| panic!("no line for {refused_from}: {log}"));
    assert!(refused.contains("WARN") && refused.contains("wrong bearer token"), "{refused}");
    assert!(refused.contains("action=\"install\"") || refused.contains("action=install"), "{refused}");
    let missing =
        line(&format!("remote={missing_from}")).unwrap_or_else(|| panic!("no line for {missing_from}: {log}"));
    assert!(missing.contains("missing bearer token") && missing.contains("remove"), "{missing}");
    let installed =
        line(&format!("remote={installed_from}")).unwrap_or_else(|| panic!("no line for {installed_from}: {log}"));
    assert!(installed.contains("installed") && installed.contains(&ccid), "{installed}");
    assert!(!log.contains(TOKEN) && !log.contains(WRONG), "a token reached the log: {log}");
}
