//! The client side of the host's admin API (`docs/admin-api.md`): look a CCID up, upload a package, launch.

use crate::limits::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};

use anyhow::{bail, Context};
use reqwest::{StatusCode, Url};

use crate::config::Config;

pub use wasmcc_common::admin::ChaincodeInfo;
use wasmcc_common::admin::ErrorBody;

pub struct Admin {
    base: Url,
    token: Option<String>,
    client: reqwest::Client,
}

impl Admin {
    /// The admin API the configuration names.
    pub fn new(config: &Config) -> anyhow::Result<Admin> {
        Admin::at(&config.admin_url, config.admin_ca.as_deref(), config.admin_token.clone())
    }

    /// The admin API at `admin_url`, verified by `admin_ca` (PEM; `None`: the public web roots), with the bearer
    /// token for writes. `run` uses it with what build recorded rather than the current configuration.
    pub fn at(admin_url: &str, admin_ca: Option<&str>, token: Option<String>) -> anyhow::Result<Admin> {
        // rustls is built without a default provider; ring is the one the workspace uses (gcc only, no cmake).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = Url::parse(admin_url).with_context(|| format!("admin_url {admin_url:?}"))?;
        if base.cannot_be_a_base() {
            bail!("admin_url {admin_url:?} is not a base URL");
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .dns_resolver(std::sync::Arc::new(crate::resolve::Resolver::default()));
        if let Some(ca) = admin_ca {
            let certs = reqwest::Certificate::from_pem_bundle(ca.as_bytes()).context("admin_ca")?;
            if certs.is_empty() {
                bail!("admin_ca holds no certificate");
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().context("setting up the HTTP client")?;
        Ok(Admin { base, token, client })
    }

    /// The admin API's address as the operator configured it, for messages.
    pub fn base(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("checked in new").pop_if_empty().extend(segments);
        url
    }

    /// `GET /v1/chaincodes/{ccid}`: the chaincode, or `None` when the host answers that it does not have it.
    ///
    /// Only the host's own "not installed" (404 with its JSON error body) is `None`. A bare 404 comes from
    /// something else at that URL (a proxy, a wrong path in `admin_url`), and upload mode must not take it as
    /// leave to upload.
    pub async fn find(&self, ccid: &str) -> anyhow::Result<Option<ChaincodeInfo>> {
        let url = self.url(&["v1", "chaincodes", ccid]);
        let response = self.send(self.client.get(url.clone()).timeout(REQUEST_TIMEOUT), &url).await?;
        if response.status() != StatusCode::NOT_FOUND {
            return self.json(response, &url).await.map(Some);
        }
        let body = response.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(_) => Ok(None),
            Err(_) => bail!(
                "the host answered 404 Not Found to {url} without the admin API's error body ({}): is admin_url \
                 the wasmcc admin API?",
                one_line(String::from_utf8_lossy(&body).trim())
            ),
        }
    }

    /// `GET /v1/chaincodes/{ccid}`, for a chaincode that must be there already.
    pub async fn lookup(&self, ccid: &str) -> anyhow::Result<ChaincodeInfo> {
        match self.find(ccid).await? {
            Some(info) => Ok(info),
            None => bail!(
                "chaincode {ccid} is not installed on the host {}: install the same package there first \
                 (wasmcc install), or set \"mode\": \"upload\"",
                self.base()
            ),
        }
    }

    /// `POST /v1/chaincodes` with the package file.
    pub async fn upload(&self, package: Vec<u8>) -> anyhow::Result<ChaincodeInfo> {
        let url = self.url(&["v1", "chaincodes"]);
        let request = self
            .authorized(self.client.post(url.clone()))?
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(package)
            .timeout(REQUEST_TIMEOUT);
        let response = self.send(request, &url).await?;
        self.json(response, &url).await
    }

    /// `POST /v1/launch` with chaincode.json; the host answers when the session it opened to the peer ends.
    pub async fn launch(&self, chaincode_json: Vec<u8>) -> anyhow::Result<()> {
        let url = self.url(&["v1", "launch"]);
        let request = self
            .authorized(self.client.post(url.clone()))?
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(chaincode_json);
        let response = self.send(request, &url).await?;
        self.check(response, &url).await.map(drop)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::RequestBuilder> {
        match &self.token {
            Some(token) => Ok(request.bearer_auth(token)),
            None => bail!("admin_token is not configured, and the host's admin API needs it for this request"),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &Url) -> anyhow::Result<reqwest::Response> {
        request.send().await.map_err(|e| anyhow::anyhow!("cannot reach the wasmcc admin API at {url}: {}", chain(&e)))
    }

    async fn check(&self, response: reqwest::Response, url: &Url) -> anyhow::Result<reqwest::Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        let reason = serde_json::from_slice::<ErrorBody>(&body)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_owned());
        bail!("the host answered {status} to {url}: {}", one_line(&reason))
    }

    async fn json(&self, response: reqwest::Response, url: &Url) -> anyhow::Result<ChaincodeInfo> {
        let response = self.check(response, url).await?;
        let body = response.bytes().await.with_context(|| format!("reading the answer of {url}"))?;
        serde_json::from_slice(&body).with_context(|| format!("unexpected answer from {url}"))
    }
}

/// reqwest's top-level message ("error sending request") hides the cause the operator needs ("connection refused",
/// "no record found"): join the whole chain.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    one_line(&text)
}

pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
pub(crate) mod fake {
    //! A tiny stand-in for the host's admin API, for unit tests.

    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde_json::{json, Value};

    #[derive(Default)]
    pub struct Fake {
        pub installed: Mutex<Vec<Value>>,
        pub uploads: Mutex<Vec<Vec<u8>>>,
        pub launches: Mutex<Vec<Value>>,
        /// The ChaincodeInfo template an upload answers with (its ccid is filled in by the caller).
        pub upload_answer: Mutex<Option<Value>>,
        pub launch_answer: Mutex<Option<(StatusCode, Value)>>,
        /// Replaces every lookup's answer (status and raw body), for hosts that fail or are not wasmcc.
        pub lookup_answer: Mutex<Option<(StatusCode, String)>>,
        pub lookups: Mutex<Vec<String>>,
    }

    pub const TOKEN: &str = "secret";

    pub fn info(ccid: &str, address: &str) -> Value {
        json!({
            "ccid": ccid, "label": ccid.split(':').next(), "module_hash": "00", "module_size": 1,
            "route": {"address": address, "port": 1, "sni": null, "shared_address": null},
            "tls": {"enabled": false, "client_auth": false, "root_cert": null},
        })
    }

    fn authorized(headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v == format!("Bearer {TOKEN}") => Ok(()),
            Some(_) => Err((StatusCode::FORBIDDEN, Json(json!({"error": "wrong token"})))),
            None => Err((StatusCode::UNAUTHORIZED, Json(json!({"error": "missing token"})))),
        }
    }

    pub fn router(fake: Arc<Fake>) -> Router {
        Router::new()
            .route(
                "/v1/chaincodes/{ccid}",
                get(|State(f): State<Arc<Fake>>, Path(ccid): Path<String>| async move {
                    f.lookups.lock().unwrap().push(ccid.clone());
                    if let Some((status, body)) = f.lookup_answer.lock().unwrap().clone() {
                        return (status, body);
                    }
                    let found = f.installed.lock().unwrap().iter().find(|i| i["ccid"] == ccid.as_str()).cloned();
                    match found {
                        Some(info) => (StatusCode::OK, info.to_string()),
                        None => (StatusCode::NOT_FOUND, json!({"error": "not installed"}).to_string()),
                    }
                }),
            )
            .route(
                "/v1/chaincodes",
                post(|State(f): State<Arc<Fake>>, headers: HeaderMap, body: axum::body::Bytes| async move {
                    authorized(&headers)?;
                    f.uploads.lock().unwrap().push(body.to_vec());
                    let answer = f.upload_answer.lock().unwrap().clone().expect("upload answer set");
                    // Installed from now on, as on the real host.
                    f.installed.lock().unwrap().push(answer.clone());
                    Ok::<_, (StatusCode, Json<Value>)>((StatusCode::CREATED, Json(answer)))
                }),
            )
            .route(
                "/v1/launch",
                post(|State(f): State<Arc<Fake>>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    authorized(&headers)?;
                    f.launches.lock().unwrap().push(body);
                    let answer = f.launch_answer.lock().unwrap().clone();
                    let (status, value) = answer.unwrap_or((StatusCode::OK, json!({"result": "closed"})));
                    Ok::<_, (StatusCode, Json<Value>)>((status, Json(value)))
                }),
            )
            .with_state(fake)
    }

    /// Serves the fake on a free loopback port (plain HTTP).
    pub async fn serve(fake: Arc<Fake>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(fake)).await.unwrap() });
        addr
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::fake::{self, Fake};
    use super::*;

    fn config(admin_url: String, token: Option<&str>) -> Config {
        let json = serde_json::json!({"admin_url": admin_url, "admin_token": token});
        Config::parse(&json.to_string()).unwrap()
    }

    #[tokio::test]
    async fn lookup_finds_or_explains() {
        let f = Arc::new(Fake::default());
        f.installed.lock().unwrap().push(fake::info("cc:ab", "10.0.0.1:9101"));
        let addr = fake::serve(f).await;
        let admin = Admin::new(&config(format!("http://{addr}"), None)).unwrap();
        let info = admin.lookup("cc:ab").await.unwrap();
        assert_eq!((info.ccid.as_str(), info.route.address.as_deref()), ("cc:ab", Some("10.0.0.1:9101")));
        let err = admin.lookup("cc:cd").await.unwrap_err().to_string();
        assert!(err.starts_with("chaincode cc:cd is not installed on the host http://127.0.0.1:"), "{err}");
    }

    #[tokio::test]
    async fn only_the_hosts_own_not_installed_means_absent() {
        let f = Arc::new(Fake::default());
        f.installed.lock().unwrap().push(fake::info("cc:ab", "10.0.0.1:9101"));
        let addr = fake::serve(f.clone()).await;
        let admin = Admin::new(&config(format!("http://{addr}"), None)).unwrap();
        assert_eq!(admin.find("cc:ab").await.unwrap().unwrap().ccid, "cc:ab");
        assert!(admin.find("cc:cd").await.unwrap().is_none());

        // A 404 without the API's JSON error: not wasmcc answering, so neither "absent" nor "not installed".
        *f.lookup_answer.lock().unwrap() = Some((axum::http::StatusCode::NOT_FOUND, "404 page not found".into()));
        let err = admin.find("cc:cd").await.unwrap_err().to_string();
        assert!(err.contains("404 Not Found") && err.contains("is admin_url the wasmcc admin API?"), "{err}");
        let err = admin.lookup("cc:cd").await.unwrap_err().to_string();
        assert!(!err.contains("not installed"), "{err}");

        let failing = r#"{"error":"data directory unreadable"}"#.to_owned();
        *f.lookup_answer.lock().unwrap() = Some((axum::http::StatusCode::INTERNAL_SERVER_ERROR, failing));
        let err = admin.find("cc:ab").await.unwrap_err().to_string();
        assert!(err.contains("500 Internal Server Error") && err.contains("data directory unreadable"), "{err}");
    }

    #[tokio::test]
    async fn a_base_path_is_kept() {
        let f = Arc::new(Fake::default());
        let addr = fake::serve(f).await;
        let admin = Admin::new(&config(format!("http://{addr}/prefix/"), None)).unwrap();
        assert_eq!(admin.url(&["v1", "chaincodes", "a+b:1"]).path(), "/prefix/v1/chaincodes/a+b:1");
    }

    #[tokio::test]
    async fn writes_send_the_token_and_report_refusals() {
        let f = Arc::new(Fake::default());
        *f.upload_answer.lock().unwrap() = Some(fake::info("cc:ab", "h:1"));
        let addr = fake::serve(f.clone()).await;
        let ok = Admin::new(&config(format!("http://{addr}"), Some(fake::TOKEN))).unwrap();
        assert_eq!(ok.upload(b"pkg".to_vec()).await.unwrap().ccid, "cc:ab");
        assert_eq!(f.uploads.lock().unwrap().as_slice(), [b"pkg".to_vec()]);

        let wrong = Admin::new(&config(format!("http://{addr}"), Some("nope"))).unwrap();
        let err = wrong.upload(b"pkg".to_vec()).await.unwrap_err().to_string();
        assert!(err.contains("403 Forbidden") && err.contains("wrong token"), "{err}");

        let none = Admin::new(&config(format!("http://{addr}"), None)).unwrap();
        let err = none.upload(b"pkg".to_vec()).await.unwrap_err().to_string();
        assert!(err.contains("admin_token is not configured"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_host_names_the_cause() {
        // Bind then drop: a loopback port with nobody listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let admin = Admin::new(&config(format!("http://127.0.0.1:{port}"), None)).unwrap();
        let err = admin.lookup("cc:ab").await.unwrap_err().to_string();
        assert!(err.contains("cannot reach the wasmcc admin API") && err.contains("onnection refused"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[tokio::test]
    async fn https_with_the_configured_admin_ca() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem(cert.pem().into_bytes(), key.serialize_pem().into())
            .await
            .unwrap();
        let f = Arc::new(Fake::default());
        f.installed.lock().unwrap().push(fake::info("cc:ab", "h:1"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = axum_server::from_tcp_rustls(listener, tls);
        tokio::spawn(server.serve(fake::router(f).into_make_service()));

        let with_ca = serde_json::json!({"admin_url": format!("https://localhost:{port}"), "admin_ca": cert.pem()});
        let admin = Admin::new(&Config::parse(&with_ca.to_string()).unwrap()).unwrap();
        assert_eq!(admin.lookup("cc:ab").await.unwrap().ccid, "cc:ab");

        let without = Admin::new(&config(format!("https://localhost:{port}"), None)).unwrap();
        let err = without.lookup("cc:ab").await.unwrap_err().to_string();
        assert!(err.contains("cannot reach") && err.to_lowercase().contains("certificate"), "{err}");
    }
}
