//! Images that live in Azure Blob Storage (issue 8): saved storage connections, where an
//! image's bytes are ([`ImageSource`]), and the short-lived read URL the server copies from.
//!
//! A connection's credentials stay in the browser (IndexedDB); they never go into logs, the
//! activity log or a URL shown on screen: `Debug` redacts them and [`crate::sas::redact_sas`]
//! removes the signature of any URL built here.
//!
//! Times come in as Unix seconds; this module reads no clock.

use serde::{Deserialize, Serialize};

use crate::sas::{self, Account, Resource, SasError};

/// How long a minted per-blob read SAS stays valid (spec §4.5: read-only, one hour).
pub const READ_SAS_SECS: i64 = 3600;

/// Where an image's bytes are. Rows written before issue 8 have no source: they are local.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ImageSource {
    /// A file of a folder picked in this browser; the bytes are PUT from the page.
    #[default]
    Local,
    /// A blob in a research group's storage account; the server copies it (blob-to-blob).
    Azure(BlobRef),
}

impl ImageSource {
    pub fn is_azure(&self) -> bool {
        matches!(self, ImageSource::Azure(_))
    }

    /// Short label for tables: "local" or "azure: <connection>/<container>".
    pub fn label(&self) -> String {
        match self {
            ImageSource::Local => "local".into(),
            ImageSource::Azure(b) => format!("azure: {}", b.container),
        }
    }
}

/// One source blob: which saved connection reaches it, its container and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobRef {
    pub connection_id: String,
    pub container: String,
    /// The blob's full name (may contain `/`), not percent-encoded.
    pub blob: String,
}

/// How a connection authenticates.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ConnectionAuth {
    /// A SAS token (account SAS with `srt=sco`, or a container SAS) for the account's blob
    /// endpoint; needs Read + List. Stored without a leading `?`.
    SasToken {
        blob_endpoint: String,
        token: String,
    },
    /// An account connection string with `AccountKey=`; read SAS are signed per blob.
    ConnectionString { value: String },
}

impl std::fmt::Debug for ConnectionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionAuth::SasToken { blob_endpoint, .. } => f
                .debug_struct("SasToken")
                .field("blob_endpoint", blob_endpoint)
                .field("token", &"<redacted>")
                .finish(),
            ConnectionAuth::ConnectionString { .. } => f
                .debug_struct("ConnectionString")
                .field("value", &"<redacted>")
                .finish(),
        }
    }
}

/// A saved storage connection (Settings → Azure storage connections).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageConnection {
    /// Local id (IndexedDB key); referenced by [`BlobRef::connection_id`].
    pub id: String,
    /// The person's name for it.
    pub name: String,
    /// The storage account's name.
    pub account: String,
    pub auth: ConnectionAuth,
    /// ISO-8601 UTC.
    pub created_at: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CloudError {
    #[error("connection \"{name}\": {source}")]
    Credentials {
        name: String,
        #[source]
        source: SasError,
    },
    #[error(
        "connection \"{0}\" has an empty SAS token; paste a token with Read and List permission"
    )]
    EmptyToken(String),
}

impl StorageConnection {
    /// The blob service endpoint (no trailing `/`).
    pub fn blob_endpoint(&self) -> Result<String, CloudError> {
        match &self.auth {
            ConnectionAuth::SasToken { blob_endpoint, .. } => {
                Ok(blob_endpoint.trim_end_matches('/').to_string())
            }
            ConnectionAuth::ConnectionString { .. } => Ok(self.account_key()?.blob_endpoint),
        }
    }

    fn account_key(&self) -> Result<Account, CloudError> {
        match &self.auth {
            ConnectionAuth::ConnectionString { value } => Account::from_connection_string(value)
                .map_err(|source| CloudError::Credentials {
                    name: self.name.clone(),
                    source,
                }),
            ConnectionAuth::SasToken { .. } => Err(CloudError::Credentials {
                name: self.name.clone(),
                source: SasError::MissingField("AccountKey"),
            }),
        }
    }

    /// A URL the server can read one blob through: for a connection string, a read-only
    /// service SAS for that one blob valid [`READ_SAS_SECS`] from `now_unix`; for a SAS-token
    /// connection, the blob's URL with the stored token.
    pub fn read_url(
        &self,
        container: &str,
        blob: &str,
        now_unix: i64,
    ) -> Result<String, CloudError> {
        match &self.auth {
            ConnectionAuth::SasToken {
                blob_endpoint,
                token,
            } => {
                let token = token.trim().trim_start_matches('?');
                if token.is_empty() {
                    return Err(CloudError::EmptyToken(self.name.clone()));
                }
                Ok(format!(
                    "{}/{}/{}?{token}",
                    blob_endpoint.trim_end_matches('/'),
                    container,
                    sas::encode_path(blob)
                ))
            }
            ConnectionAuth::ConnectionString { .. } => {
                let account = self.account_key()?;
                let expiry = sas::iso8601_utc(now_unix + READ_SAS_SECS);
                let query =
                    account.service_sas(container, Resource::Blob(blob), "r", None, &expiry);
                Ok(format!(
                    "{}?{query}",
                    account.url(container, Resource::Blob(blob))
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(auth: ConnectionAuth) -> StorageConnection {
        StorageConnection {
            id: "c1".into(),
            name: "Archive".into(),
            account: "devstoreaccount1".into(),
            auth,
            created_at: "2026-11-26T12:00:00Z".into(),
        }
    }

    #[test]
    fn local_is_the_default_source_of_old_rows() {
        #[derive(Deserialize)]
        struct Row {
            #[serde(default)]
            source: ImageSource,
        }
        let r: Row = serde_json::from_str("{}").unwrap();
        assert_eq!(r.source, ImageSource::Local);
        let azure = ImageSource::Azure(BlobRef {
            connection_id: "c1".into(),
            container: "photos".into(),
            blob: "2024/a b.jpg".into(),
        });
        let json = serde_json::to_string(&azure).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"azure","connectionId":"c1","container":"photos","blob":"2024/a b.jpg"}"#
        );
        assert_eq!(serde_json::from_str::<ImageSource>(&json).unwrap(), azure);
    }

    #[test]
    fn connection_string_mints_a_one_hour_read_sas_for_one_blob() {
        let c = conn(ConnectionAuth::ConnectionString {
            value: "UseDevelopmentStorage=true".into(),
        });
        let url = c.read_url("photos", "2024/a b.jpg", 1_795_694_400).unwrap();
        assert!(url.starts_with("http://127.0.0.1:10000/devstoreaccount1/photos/2024/a%20b.jpg?"));
        assert!(url.contains("&sr=b&sp=r&"), "{url}");
        assert!(url.contains("se=2026-11-26T13%3A00%3A00Z"), "{url}");
        assert_eq!(
            c.blob_endpoint().unwrap(),
            "http://127.0.0.1:10000/devstoreaccount1"
        );
    }

    #[test]
    fn sas_token_connection_appends_the_token() {
        let c = conn(ConnectionAuth::SasToken {
            blob_endpoint: "https://acct.blob.core.windows.net/".into(),
            token: "?sv=2022-11-02&sp=rl&sig=abc".into(),
        });
        assert_eq!(
            c.read_url("photos", "x.jpg", 0).unwrap(),
            "https://acct.blob.core.windows.net/photos/x.jpg?sv=2022-11-02&sp=rl&sig=abc"
        );
        let empty = conn(ConnectionAuth::SasToken {
            blob_endpoint: "https://acct.blob.core.windows.net".into(),
            token: " ".into(),
        });
        assert!(matches!(
            empty.read_url("photos", "x.jpg", 0),
            Err(CloudError::EmptyToken(_))
        ));
    }

    #[test]
    fn debug_never_shows_credentials() {
        let c = conn(ConnectionAuth::ConnectionString {
            value: "AccountName=a;AccountKey=c2VjcmV0".into(),
        });
        let d = format!("{c:?}");
        assert!(!d.contains("c2VjcmV0"), "{d}");
        let t = conn(ConnectionAuth::SasToken {
            blob_endpoint: "https://a.blob.core.windows.net".into(),
            token: "sig=topsecret".into(),
        });
        assert!(!format!("{t:?}").contains("topsecret"));
    }

    #[test]
    fn bad_connection_string_names_the_connection() {
        let c = conn(ConnectionAuth::ConnectionString {
            value: "AccountName=a".into(),
        });
        let e = c.read_url("p", "x.jpg", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "connection \"Archive\": the connection string has no AccountKey"
        );
    }
}
