//! The tests' own PostgreSQL: a temporary cluster starts, takes connections, keeps what was committed across a crash
//! (`immediate` stop) and a restart, and NOTIFY reaches a listener: what the many-hosts store will stand on.

use std::time::Duration;

use futures::StreamExt;
use wasmcc_tests::postgres::TempPostgres;

async fn connect(pg: &TempPostgres) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls).await.expect("connecting");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_cluster_serves_survives_a_crash_and_notifies() {
    let pg = TempPostgres::start();
    let client = connect(&pg).await;
    client.batch_execute("CREATE TABLE records (ccid text PRIMARY KEY, port int NOT NULL)").await.unwrap();
    client.execute("INSERT INTO records VALUES ($1, $2)", &[&"cc:ab", &9101i32]).await.unwrap();

    // LISTEN on one connection, NOTIFY from another.
    let (listener, mut connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls).await.unwrap();
    let (tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    listener.batch_execute("LISTEN chaincodes").await.unwrap();
    client.batch_execute("NOTIFY chaincodes, 'installed cc:ab'").await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(5), notes.recv()).await.expect("a notification in time");
    assert_eq!(note.as_deref(), Some("installed cc:ab"));

    // A crash of the server loses nothing committed.
    drop((client, listener));
    pg.stop();
    pg.restart();
    let client = connect(&pg).await;
    let port: i32 = client.query_one("SELECT port FROM records WHERE ccid = $1", &[&"cc:ab"]).await.unwrap().get(0);
    assert_eq!(port, 9101);
}
