//! Images that live in Azure Blob Storage (issue 8): saved storage connections, where an
//! image's bytes are ([`ImageSource`]), and the short-lived read URL the server copies from.
//!
//! A connection's credentials stay in the browser (IndexedDB); they never go into logs, the
//! activity log or a URL shown on screen: `Debug` redacts them and [`crate::sas::redact_sas`]
//! removes the signature of any URL built here.
//!
//! Times come in as Unix seconds; this module reads no clock.

use serde::{Deserialize, Serialize};

use crate::api::{ApiError, CopyItem, CopyResult, CopyStatus};
use crate::engine::CopyRef;
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

/// Per-item copy error code the driver answers itself when an image's connection is not in
/// this browser any more (deleted, or the data was cleared).
pub const CONNECTION_MISSING: &str = "connectionMissing";
/// Per-item copy error code the driver answers itself when a connection cannot make a read
/// URL (a connection string without a key, an empty SAS token).
pub const CONNECTION_INVALID: &str = "connectionInvalid";

/// What a person does about a source the storage service cannot read.
pub const FIX_SOURCE_SAS: &str = "Fix: Settings → Azure storage connections: add a SAS with \
     Read + List, srt=sco, no IP restriction (or use a connection string), then press Retry.";

/// What the sync does with a copy item the server (or the driver) reports as `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyErrorAction {
    /// Not finished yet on the storage service's side: try again (copy retry policy).
    Retry,
    /// The source blob is gone: skip the image, as for a local file deleted since the scan.
    SourceMissing(String),
    /// Fail the image with this explanation (what happened and what to do).
    Fail(String),
}

/// Classifies a per-item copy error by its code (the server's, see docs/api.md, or
/// [`CONNECTION_MISSING`]/[`CONNECTION_INVALID`]) and explains it. `message` is the server's
/// (or driver's) text, kept in the explanation for the details.
pub fn copy_error(code: &str, message: &str) -> CopyErrorAction {
    match code {
        "copyTimeout" | "copyPending" => CopyErrorAction::Retry,
        "copySourceNotFound" => CopyErrorAction::SourceMissing(format!(
            "the source blob is not in the container any more (404 CannotVerifyCopySource): \
             run discovery of the container again. {message}"
        )),
        "copySourceDenied" => CopyErrorAction::Fail(format!(
            "403 CannotVerifyCopySource: the storage service could not read the source blob \
             with this connection's SAS — it has expired, lacks Read permission, is restricted \
             to other IP addresses (the storage service reads the blob, not this browser), or \
             has the wrong resource types. {FIX_SOURCE_SAS} The storage service said: {}",
            service_words(message, "CannotVerifyCopySource")
        )),
        "copySourceAuthFailed" => CopyErrorAction::Fail(format!(
            "403 AuthenticationFailed: the source blob's SAS was rejected, typically because \
             the token is restricted to certain IP addresses. {FIX_SOURCE_SAS} The storage \
             service said: {}",
            service_words(message, "AuthenticationFailed")
        )),
        CONNECTION_MISSING | CONNECTION_INVALID => CopyErrorAction::Fail(message.to_string()),
        _ => CopyErrorAction::Fail(if message.is_empty() {
            format!("the server could not copy the image ({code})")
        } else {
            message.to_string()
        }),
    }
}

/// The storage service's own words inside the reference server's message
/// (`"<file>: … (403 <code>: <words>). <advice>"`), or the whole message when it has another
/// shape (another server).
fn service_words<'a>(message: &'a str, code: &str) -> &'a str {
    let Some((_, rest)) = message.split_once(&format!("{code}: ")) else {
        return message;
    };
    // The reference server's advice follows the parenthesis (crates/server/src/ingest.rs).
    ["). The source SAS", "). This is typical"]
        .iter()
        .find_map(|end| rest.split_once(end).map(|(words, _)| words))
        .unwrap_or(rest)
        .trim()
}

/// The message of a [`CONNECTION_MISSING`] item: names the connection and what to do (the
/// Sync page names the image beside it).
pub fn connection_missing_message(connection_id: &str, blob: &BlobRef) -> String {
    format!(
        "the storage connection \"{connection_id}\" this image was discovered with is not \
         saved in this browser any more (deleted, or the browser's data was cleared). Add the \
         connection again under Settings → Azure storage connections and scan the container \
         \"{}\" again, then sync the new manifest.",
        blob.container
    )
}

/// The copy request the driver sends for [`crate::engine::CopyBlobRefs`]: one
/// [`CopyItem`] per item whose connection (`connection(id)`) can mint a read URL at
/// `now_unix`, and the driver's own `error` results for the others
/// ([`CONNECTION_MISSING`], [`CONNECTION_INVALID`]), which are not sent.
pub fn mint_copy_items<'a>(
    items: &[CopyRef],
    connection: impl Fn(&str) -> Option<&'a StorageConnection>,
    now_unix: i64,
) -> (Vec<CopyItem>, Vec<CopyResult>) {
    let mut send = Vec::new();
    let mut answered = Vec::new();
    for item in items {
        let error = |code: &str, message: String| CopyResult {
            idempotency_key: item.idempotency_key.clone(),
            status: CopyStatus::Error,
            error: Some(ApiError {
                code: code.into(),
                message,
            }),
        };
        let b = &item.source;
        match connection(&b.connection_id) {
            None => answered.push(error(
                CONNECTION_MISSING,
                connection_missing_message(&b.connection_id, b),
            )),
            Some(c) => match c.read_url(&b.container, &b.blob, now_unix) {
                Ok(source_url) => send.push(CopyItem {
                    idempotency_key: item.idempotency_key.clone(),
                    source_url,
                }),
                Err(e) => answered.push(error(
                    CONNECTION_INVALID,
                    format!(
                        "{e}. Fix the connection under Settings → Azure storage connections, \
                         then press Retry."
                    ),
                )),
            },
        }
    }
    (send, answered)
}

/// The connection the crate's tests use: "Archive", id `c1`, on Azurite's account.
#[cfg(test)]
pub(crate) fn test_connection(auth: ConnectionAuth) -> StorageConnection {
    StorageConnection {
        id: "c1".into(),
        name: "Archive".into(),
        account: "devstoreaccount1".into(),
        auth,
        created_at: "2026-11-26T12:00:00Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_connection as conn;

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
    fn copy_errors_are_explained_with_the_fix() {
        let server = "a.jpg: the storage service could not read the source blob (403 \
                      CannotVerifyCopySource: Server failed to authenticate the request (sv). \
                      RequestId:1). The source SAS has probably expired.";
        let CopyErrorAction::Fail(m) = copy_error("copySourceDenied", server) else {
            panic!()
        };
        for part in [
            "CannotVerifyCopySource",
            "expired",
            "Read",
            "IP",
            "Settings → Azure storage connections",
            "Read + List, srt=sco, no IP restriction",
            "connection string",
            "The storage service said: Server failed to authenticate the request (sv). RequestId:1",
        ] {
            assert!(m.contains(part), "{part}: {m}");
        }
        assert!(
            !m.contains("probably expired"),
            "the server's advice is not repeated: {m}"
        );
        // Another server's message is kept whole.
        let CopyErrorAction::Fail(m) = copy_error("copySourceDenied", "server says why") else {
            panic!()
        };
        assert!(
            m.ends_with("The storage service said: server says why"),
            "{m}"
        );
        let CopyErrorAction::Fail(m) = copy_error("copySourceAuthFailed", "x") else {
            panic!()
        };
        assert!(
            m.contains("AuthenticationFailed") && m.contains("IP"),
            "{m}"
        );
        assert_eq!(copy_error("copyTimeout", "slow"), CopyErrorAction::Retry);
        assert_eq!(copy_error("copyPending", ""), CopyErrorAction::Retry);
        assert!(matches!(
            copy_error("copySourceNotFound", "gone"),
            CopyErrorAction::SourceMissing(m) if m.contains("discovery")
        ));
        assert_eq!(
            copy_error("unknownSession", "create one first"),
            CopyErrorAction::Fail("create one first".into())
        );
        let b = BlobRef {
            connection_id: "conn-7".into(),
            container: "source".into(),
            blob: "2024/a.jpg".into(),
        };
        let m = connection_missing_message("conn-7", &b);
        assert!(
            m.contains("\"conn-7\"") && m.contains("\"source\"") && m.contains("Settings"),
            "{m}"
        );
        assert_eq!(
            copy_error(CONNECTION_MISSING, &m),
            CopyErrorAction::Fail(m.clone())
        );
    }

    #[test]
    fn copy_items_are_minted_at_send_time_and_bad_connections_answered_locally() {
        let good = conn(ConnectionAuth::ConnectionString {
            value: "UseDevelopmentStorage=true".into(),
        });
        let mut keyless = conn(ConnectionAuth::ConnectionString {
            value: "AccountName=a".into(),
        });
        keyless.id = "c2".into();
        let item = |k: &str, c: &str| CopyRef {
            idempotency_key: k.into(),
            source: BlobRef {
                connection_id: c.into(),
                container: "source".into(),
                blob: format!("{k}.jpg"),
            },
        };
        let saved = [good.clone(), keyless.clone()];
        let (send, answered) = mint_copy_items(
            &[item("k1", "c1"), item("k2", "deleted"), item("k3", "c2")],
            |id| saved.iter().find(|c| c.id == id),
            1_795_694_400,
        );
        assert_eq!(send.len(), 1);
        assert_eq!(
            send[0].source_url,
            good.read_url("source", "k1.jpg", 1_795_694_400).unwrap()
        );
        let codes: Vec<_> = answered
            .iter()
            .map(|r| {
                (
                    r.idempotency_key.as_str(),
                    r.error.as_ref().unwrap().code.as_str(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [("k2", CONNECTION_MISSING), ("k3", CONNECTION_INVALID)]
        );
        let m = &answered[0].error.as_ref().unwrap().message;
        assert!(m.contains("\"deleted\"") && m.contains("Settings"), "{m}");
        let m = &answered[1].error.as_ref().unwrap().message;
        assert!(m.contains("Archive") && m.contains("AccountKey"), "{m}");
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
