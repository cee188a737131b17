//! The Azure Blob REST calls the server makes, authorised with account SAS signed by
//! [`finsync_core::sas`]: create the container, set the service's CORS rules, read a blob's
//! size, and mint write-only upload URLs. Works unchanged against Azurite and Azure.

use finsync_core::sas::{self, Account, Resource, SasError};
use reqwest::StatusCode;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid storage connection string: {0}")]
    Config(#[from] SasError),
    #[error("cannot reach blob storage at {endpoint}: {source}")]
    Unreachable {
        endpoint: String,
        source: reqwest::Error,
    },
    #[error("blob storage answered {status} to {operation}: {body}")]
    Status {
        operation: &'static str,
        status: StatusCode,
        body: String,
    },
}

pub struct BlobStore {
    account: Account,
    container: String,
    http: reqwest::Client,
}

/// How long the server's own account SAS lives (minted per call).
const SERVER_SAS_SECS: i64 = 15 * 60;

impl BlobStore {
    pub fn new(config: &Config) -> Result<Self, BlobError> {
        let account = Account::from_connection_string(&config.blob_connection_string)?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| BlobError::Unreachable {
                endpoint: account.blob_endpoint.clone(),
                source: e,
            })?;
        Ok(BlobStore {
            account,
            container: config.container.clone(),
            http,
        })
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    fn server_sas(&self, resource_types: &str) -> String {
        let expiry = sas::iso8601_utc(crate::now_unix() + SERVER_SAS_SECS);
        self.account.account_sas("rwdlac", resource_types, &expiry)
    }

    async fn send(
        &self,
        operation: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, BlobError> {
        req.header("x-ms-version", sas::SAS_VERSION)
            .send()
            .await
            .map_err(|e| BlobError::Unreachable {
                endpoint: self.account.blob_endpoint.clone(),
                source: e.without_url(),
            })
            .inspect(|r| tracing::debug!(operation, status = %r.status(), "blob call"))
    }

    async fn fail(operation: &'static str, resp: reqwest::Response) -> BlobError {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        BlobError::Status {
            operation,
            status,
            body: body.chars().take(500).collect(),
        }
    }

    /// Creates the upload container if it does not exist.
    pub async fn ensure_container(&self) -> Result<(), BlobError> {
        let url = format!(
            "{}?restype=container&{}",
            self.account.url(&self.container, Resource::Container),
            self.server_sas("c")
        );
        let resp = self.send("create container", self.http.put(url)).await?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
            _ => Err(Self::fail("create container", resp).await),
        }
    }

    /// Replaces the blob service's CORS rules so browsers at `origins` can PUT, GET and HEAD.
    pub async fn set_cors(&self, origins: &[String]) -> Result<(), BlobError> {
        let origins = if origins.is_empty() {
            "*".to_string()
        } else {
            origins.join(",")
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><StorageServiceProperties><Cors><CorsRule>\
             <AllowedOrigins>{origins}</AllowedOrigins><AllowedMethods>GET,PUT,HEAD,OPTIONS</AllowedMethods>\
             <MaxAgeInSeconds>3600</MaxAgeInSeconds><ExposedHeaders>*</ExposedHeaders>\
             <AllowedHeaders>*</AllowedHeaders></CorsRule></Cors></StorageServiceProperties>"
        );
        let url = format!(
            "{}/?restype=service&comp=properties&{}",
            self.account.blob_endpoint,
            self.server_sas("s")
        );
        let resp = self
            .send(
                "set CORS rules",
                self.http
                    .put(url)
                    .header("content-type", "application/xml")
                    .body(body),
            )
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(Self::fail("set CORS rules", resp).await)
        }
    }

    /// The size of a blob in the upload container, or `None` if it does not exist.
    pub async fn blob_size(&self, blob: &str) -> Result<Option<u64>, BlobError> {
        let url = format!(
            "{}?{}",
            self.account.url(&self.container, Resource::Blob(blob)),
            self.server_sas("o")
        );
        let resp = self
            .send("read blob properties", self.http.head(url))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(resp
                .headers()
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
            _ => Err(Self::fail("read blob properties", resp).await),
        }
    }

    /// A write-only (create + write) SAS URL for one blob, valid until `expiry_unix`.
    pub fn upload_url(&self, blob: &str, expiry_unix: i64) -> String {
        let query = self.account.service_sas(
            &self.container,
            Resource::Blob(blob),
            "cw",
            None,
            &sas::iso8601_utc(expiry_unix),
        );
        format!(
            "{}?{query}",
            self.account.url(&self.container, Resource::Blob(blob))
        )
    }
}
