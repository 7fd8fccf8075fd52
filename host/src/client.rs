//! A client of the admin API (docs/admin-api.md), used by the CLI, the demo and the tests.

use reqwest::StatusCode;

use crate::admin::ChaincodeInfo;
use crate::tls::{self, PemRole, PemSource};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the wasmcc admin API at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    /// The API answered with an error; `message` is its one-line reason.
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("bad CA certificate for the admin API: {0}")]
    Ca(String),
    #[error("building the HTTP client: {0}")]
    Build(String),
}

pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl AdminClient {
    /// `base` is `http://host:port` or `https://host:port`; `ca_pem` verifies an HTTPS API's certificate (the
    /// public web roots are used when it is absent).
    pub fn new(base: &str, token: Option<String>, ca_pem: Option<&[u8]>) -> Result<Self, ClientError> {
        let ca = ca_pem.map(|pem| PemSource::Pem(String::from_utf8_lossy(pem).into_owned()));
        let tls = tls::client_config(ca.as_ref(), PemRole::AdminCa).map_err(|e| ClientError::Ca(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(AdminClient { base: base.trim_end_matches('/').to_string(), token, http })
    }

    /// Uploads a package; `true` when it was installed now, `false` when it already was.
    pub async fn install(&self, package: Vec<u8>) -> Result<(ChaincodeInfo, bool), ClientError> {
        self.install_on(package, None).await
    }

    /// [`AdminClient::install`] on the port the operator pins (refused if it ever belonged to another chaincode).
    pub async fn install_on(&self, package: Vec<u8>, port: Option<u16>) -> Result<(ChaincodeInfo, bool), ClientError> {
        let path = match port {
            Some(port) => format!("/v1/chaincodes?port={port}"),
            None => "/v1/chaincodes".to_string(),
        };
        let req = self
            .http
            .post(self.url(&path))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(package);
        let resp = self.send(self.auth(req)).await?;
        let created = resp.status() == StatusCode::CREATED;
        Ok((self.json(resp).await?, created))
    }

    /// One of the host's open endpoints (`/metrics`, `/healthz`, `/readyz`): its status and text, whatever the
    /// status, as a scraper or a probe reads them.
    pub async fn probe(&self, path: &str) -> Result<(u16, String), ClientError> {
        let unreachable = |source| ClientError::Unreachable { url: self.base.clone(), source };
        let resp = self.http.get(self.url(path)).send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        Ok((status, resp.text().await.map_err(unreachable)?))
    }

    pub async fn list(&self) -> Result<Vec<ChaincodeInfo>, ClientError> {
        let resp = self.send(self.http.get(self.url("/v1/chaincodes"))).await?;
        self.json(resp).await
    }

    pub async fn show(&self, ccid: &str) -> Result<ChaincodeInfo, ClientError> {
        let resp = self.send(self.http.get(self.url(&format!("/v1/chaincodes/{ccid}")))).await?;
        self.json(resp).await
    }

    /// Removes a chaincode; answers what was removed (its route stays reserved for it).
    pub async fn remove(&self, ccid: &str) -> Result<ChaincodeInfo, ClientError> {
        let req = self.http.delete(self.url(&format!("/v1/chaincodes/{ccid}")));
        let resp = self.send(self.auth(req)).await?;
        self.json(resp).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// Sends a request; an error status becomes [`ClientError::Api`] with the API's one-line reason.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = req.send().await.map_err(|source| ClientError::Unreachable { url: self.base.clone(), source })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or(text);
        Err(ClientError::Api { status, message })
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, ClientError> {
        let status = resp.status().as_u16();
        resp.json().await.map_err(|e| ClientError::Api { status, message: format!("unreadable answer: {e}") })
    }
}
