//! Connection hygiene: floods of idle, silent or slow sockets on every listener never keep a real peer or
//! the operator out, the host closes them on its own, and one HTTP/2 connection gets a bounded number of streams.
//!
//! Every bound below is generous: they say "eventually, and well before a peer would give up", never how fast.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rcgen::ExtendedKeyUsagePurpose;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use wasmcc_host::client::AdminClient;
use wasmcc_host::connection_json::PeerConfig;
use wasmcc_host::connections::raise_fd_limit;
use wasmcc_host::daemon::Daemon;
use wasmcc_host::limits::{self, TxLimits};
use wasmcc_host::package::write_package;
use wasmcc_peer::{args, ConnectOptions, PeerSim};
use wasmcc_tests::{free_port, free_ports, host_config, wasm, TestHost};

use crate::tls::{ca, issue};

/// Opens `n` connections to `addr` that never send a byte.
async fn silent_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        sockets.push(TcpStream::connect(addr).await.expect("connect"));
    }
    sockets
}

/// Waits until the host has closed every socket (EOF or reset, after whatever it answered), within `bound`.
async fn all_closed_by_host(sockets: &mut [TcpStream], bound: Duration) {
    let reads = futures::future::join_all(sockets.iter_mut().map(|socket| async move {
        let _ = socket.read_to_end(&mut Vec::new()).await;
    }));
    timeout(bound, reads).await.expect("the host closes idle connections on its own");
}

/// A plain HTTP/1.1 request on its own connection; returns the whole answer.
async fn http(addr: SocketAddr, request: &str) -> String {
    let exchange = async {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    };
    timeout(Duration::from_secs(10), exchange).await.expect("the admin API answers")
}

async fn health(addr: SocketAddr) -> String {
    http(addr, "GET /v1/health HTTP/1.1\r\nHost: wasmcc\r\nConnection: close\r\n\r\n").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_keep_neither_a_peer_nor_the_admin_api_out() {
    raise_fd_limit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), free_ports(10));
    // Short, so the test sees the flood closed soon; a peer opens its stream in milliseconds.
    config.connections.handshake_timeout_ms = 3_000;
    let daemon = Daemon::start(&config).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap();
    let (info, _) = api.install(write_package("counter", &wasm("counter"), &[]).unwrap()).await.unwrap();

    // Far more idle sockets than one port keeps pending: each newcomer evicts the oldest.
    let mut idle = silent_connections(info.route.address.as_deref().unwrap(), 2_000).await;

    // A real peer still gets REGISTER and completes a transaction, and the admin API answers.
    let peer = PeerSim::new();
    let conn = peer
        .connect(info.route.address.as_deref().unwrap(), &info.ccid)
        .await
        .expect("a peer connects through the flood");
    assert_eq!(conn.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"1");
    let answer = health(daemon.admin_addr()).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"ok\""), "{answer}");
    assert_eq!(api.list().await.unwrap().len(), 1);

    // The host closes every idle socket (evicted, or past the handshake timeout)...
    all_closed_by_host(&mut idle, Duration::from_secs(60)).await;
    // ...but not the peer's stream, open for longer than that by now.
    assert_eq!(conn.invoke("ch", args(["inc", "hits"])).await.unwrap().payload(), b"2");
    daemon.shutdown().await;
}

/// Keeps `ring` silent connections open to `addr`, replacing the oldest by a new one as fast as it can, until told
/// to stop (or a bounded number of rounds): the sustained flood that used to make every real peer miss its dial.
fn flood(addr: String, ring: usize, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut open = VecDeque::with_capacity(ring);
        let mut made = 0;
        for _ in 0..200_000 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(socket) = TcpStream::connect(&addr).await else {
                tokio::task::yield_now().await;
                continue;
            };
            made += 1;
            if open.len() == ring {
                open.pop_front();
            }
            open.push_back(socket);
        }
        made
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_clients_never_delay_a_real_mtls_peer() {
    raise_fd_limit().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (host_ca, peer_ca) = (ca("host CA"), ca("peer CA"));
    let suffix = "hygiene.test";
    let (server_cert, server_key) =
        issue(&host_ca, &[&format!("*.{suffix}")], true, ExtendedKeyUsagePurpose::ServerAuth);
    let (peer_cert, peer_key) = issue(&peer_ca, &[], false, ExtendedKeyUsagePurpose::ClientAuth);
    std::fs::write(dir.path().join("server.pem"), format!("{server_cert}{}", host_ca.pem())).unwrap();
    std::fs::write(dir.path().join("server.key"), &server_key).unwrap();
    std::fs::write(dir.path().join("peers-ca.pem"), peer_ca.pem()).unwrap();
    let shared_port = free_port();
    let (port_min, port_max) = free_ports(10);
    let toml = format!(
        "data_dir = \"data\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"test-token\"\n\
         [chaincodes]\nport_min = {port_min}\nport_max = {port_max}\n\
         [tls]\ncert = \"server.pem\"\nkey = \"server.key\"\nclient_ca = \"peers-ca.pem\"\n\
         shared_listen = \"127.0.0.1:{shared_port}\"\nsni_suffix = \"{suffix}\"\n\
         [connections]\nhandshake_timeout_ms = 60000\n"
    );
    // A handshake timeout far beyond the bound below: only eviction can make room for the peer, not the timeout.
    std::fs::write(dir.path().join("host.toml"), toml).unwrap();
    let config = wasmcc_host::config::Config::load(&dir.path().join("host.toml")).unwrap();
    let daemon = Daemon::start(&config).await.unwrap();
    let api = AdminClient::new(&daemon.admin_url(), Some(daemon.token().to_string()), None).unwrap();
    let (info, _) = api.install(write_package("counter", &wasm("counter"), &[]).unwrap()).await.unwrap();
    let identity = PeerConfig::from_pem(&peer_cert, &peer_key).unwrap();
    let via_sni = wasmcc_host::connection_json::for_chaincode(&info, Some(&identity)).unwrap();
    let own_port = wasmcc_host::connection_json::ConnectionJson {
        address: info.route.address.clone().unwrap(),
        domain: None,
        ..via_sni.clone()
    };

    // More silent clients than pending slots on both ports, then a sustained flood on top.
    let pending = limits::MAX_PENDING_CONNECTIONS + 44;
    let _held =
        [silent_connections(&own_port.address, pending).await, silent_connections(&via_sni.address, pending).await];
    let stop = Arc::new(AtomicBool::new(false));
    let floods =
        [flood(own_port.address.clone(), 400, stop.clone()), flood(via_sni.address.clone(), 400, stop.clone())];

    let peer = PeerSim::new();
    let patient = ConnectOptions { dial_timeout: Duration::from_secs(10), ..ConnectOptions::default() };
    for (json, route) in [(&own_port, "own port"), (&via_sni, "shared SNI port")] {
        let connect = peer.connect_json(json, &info.ccid, patient.clone());
        let conn = timeout(Duration::from_secs(5), connect)
            .await
            .unwrap_or_else(|_| panic!("{route}: the peer was kept waiting by silent clients"))
            .unwrap_or_else(|e| panic!("{route}: {e}"));
        assert_eq!(conn.invoke("ch", args(["inc", "hits"])).await.unwrap().status(), Some(200), "{route}");
    }
    stop.store(true, Ordering::Relaxed);
    for flood in floods {
        assert!(flood.await.unwrap() > 0);
    }
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_slowloris_and_stalled_bodies_are_closed_by_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = host_config(dir.path(), free_ports(10));
    config.connections.admin_header_timeout_ms = 1_000;
    config.connections.admin_body_timeout_ms = 1_000;
    // Far beyond the header timeout, so that it is the header timeout that closes them.
    config.connections.handshake_timeout_ms = 60_000;
    let daemon = Daemon::start(&config).await.unwrap();
    let admin = daemon.admin_addr();

    // Slowloris: headers started and never finished, one more byte every 200 ms.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut socket = TcpStream::connect(admin).await.unwrap();
        socket.write_all(b"GET /v1/health HTTP/1.1\r\nHost: wasmcc\r\nX-Slow: ").await.unwrap();
        slow.push(socket);
    }
    let dribble = async {
        for _ in 0..150 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut alive = 0;
            for socket in &mut slow {
                alive += usize::from(socket.write_all(b"a").await.is_ok());
            }
            if alive == 0 {
                return;
            }
        }
        panic!("slowloris connections still open after 30 s");
    };
    // The API answers meanwhile.
    let (answer, ()) = tokio::join!(health(admin), dribble);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    all_closed_by_host(&mut slow, Duration::from_secs(30)).await;

    // A body that stops short of its Content-Length: answered and closed after the body timeout.
    let stalled = http(
        admin,
        "POST /v1/chaincodes HTTP/1.1\r\nHost: wasmcc\r\nAuthorization: Bearer test-token\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n0123456789",
    )
    .await;
    assert!(stalled.starts_with("HTTP/1.1 4"), "{stalled}");
    assert!(health(admin).await.starts_with("HTTP/1.1 200"));
    daemon.shutdown().await;
}

/// The HTTP/2 frames a client sends, by hand: the server's limit is what is tested, so nothing on this side may
/// enforce it first (a real HTTP/2 client would queue the excess streams itself).
mod h2_frames {
    pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    pub const HEADERS: u8 = 0x1;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const GOAWAY: u8 = 0x7;
    pub const END_HEADERS: u8 = 0x4;
    pub const ACK: u8 = 0x1;
    pub const REFUSED_STREAM: u32 = 0x7;

    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = len.to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(stream.to_be_bytes());
        out.extend(payload);
        out
    }

    /// HPACK, literal fields without indexing and without Huffman coding: the request headers of a gRPC
    /// `protos.Chaincode/Connect` call.
    pub fn connect_headers() -> Vec<u8> {
        let mut block = vec![0x83, 0x86]; // :method POST, :scheme http (static table 3 and 6)
        let mut literal = |prefix: &[u8], value: &str| {
            block.extend(prefix);
            block.push(value.len() as u8);
            block.extend(value.as_bytes());
        };
        literal(&[0x04], "/protos.Chaincode/Connect"); // :path (static 4)
        literal(&[0x01], "localhost"); // :authority (static 1)
        literal(&[0x0f, 0x10], "application/grpc"); // content-type (static 31)
        literal(&[0x00, 0x02, b't', b'e'], "trailers");
        block
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_http2_connection_cannot_open_more_than_max_concurrent_streams() {
    use h2_frames::*;
    let mut host = TestHost::new();
    let served = host.serve("counter", "counter", TxLimits::default()).await;
    let mut socket = TcpStream::connect(served.addr).await.unwrap();
    let streams: Vec<u32> = (0..40).map(|i| 2 * i + 1).collect();
    let mut hello = PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    for &id in &streams {
        hello.extend(frame(HEADERS, END_HEADERS, id, &connect_headers()));
    }
    socket.write_all(&hello).await.unwrap();

    let max = limits::MAX_STREAMS_PER_CONNECTION as usize;
    let mut refused = BTreeSet::new();
    let read_frames = async {
        while refused.len() < streams.len() - max {
            let mut head = [0u8; 9];
            socket.read_exact(&mut head).await.expect("the connection stays up");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let (kind, flags) = (head[3], head[4]);
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            let mut payload = vec![0u8; len];
            socket.read_exact(&mut payload).await.unwrap();
            match kind {
                SETTINGS if flags & ACK == 0 => socket.write_all(&frame(SETTINGS, ACK, 0, &[])).await.unwrap(),
                RST_STREAM => {
                    let code = u32::from_be_bytes(payload[..4].try_into().unwrap());
                    assert_eq!(code, REFUSED_STREAM, "stream {stream} reset with code {code}");
                    refused.insert(stream);
                }
                GOAWAY => panic!("the server gave up the connection: {payload:?}"),
                _ => {}
            }
        }
    };
    timeout(Duration::from_secs(30), read_frames).await.expect("the excess streams are refused");
    // Exactly the streams past the limit were refused; the first ones are open (their sessions sent REGISTER).
    let expected: BTreeSet<u32> = streams[max..].iter().copied().collect();
    assert_eq!(refused, expected);
}
