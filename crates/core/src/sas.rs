//! Azure Blob Storage shared access signatures, signed with an account key.
//!
//! No maintained crate signs account-key SAS (the new Azure SDK signs user-delegation SAS
//! only), so this module implements the documented string-to-sign for service SAS (version
//! 2020-12-06 and later) and account SAS, with HMAC-SHA256 over the base64-decoded key.
//! The reference server's tests check every kind against Azurite.
//!
//! Times are passed in as ISO-8601 strings (see [`iso8601_utc`]); this module reads no clock.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The storage service version finsync signs and speaks.
pub const SAS_VERSION: &str = "2022-11-02";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SasError {
    #[error("the storage account key is not valid base64")]
    BadKey,
    #[error("the connection string has no {0}")]
    MissingField(&'static str),
    #[error("the connection string part {0:?} is not of the form Name=value")]
    BadPart(String),
}

/// Which resource a service SAS covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Container,
    Blob(&'a str),
}

/// A storage account: name, key and blob endpoint (no trailing slash).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    key: Vec<u8>,
    pub blob_endpoint: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never appears in logs.
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .field("blob_endpoint", &self.blob_endpoint)
            .finish()
    }
}

/// Azurite's well-known development account (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Account {
    pub fn new(name: &str, key_base64: &str, blob_endpoint: &str) -> Result<Self, SasError> {
        let key = B64
            .decode(key_base64.trim())
            .map_err(|_| SasError::BadKey)?;
        Ok(Account {
            name: name.to_string(),
            key,
            blob_endpoint: blob_endpoint.trim_end_matches('/').to_string(),
        })
    }

    /// Parses an Azure connection string
    /// (`DefaultEndpointsProtocol=https;AccountName=..;AccountKey=..;EndpointSuffix=..` or with
    /// an explicit `BlobEndpoint=`). `UseDevelopmentStorage=true` means Azurite on 127.0.0.1.
    pub fn from_connection_string(cs: &str) -> Result<Self, SasError> {
        let mut fields = std::collections::HashMap::new();
        for part in cs.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| SasError::BadPart(part.chars().take(20).collect()))?;
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        if fields.get("usedevelopmentstorage").map(|v| v.as_str()) == Some("true") {
            return Account::new(
                AZURITE_ACCOUNT,
                AZURITE_KEY,
                "http://127.0.0.1:10000/devstoreaccount1",
            );
        }
        let name = fields
            .get("accountname")
            .ok_or(SasError::MissingField("AccountName"))?;
        let key = fields
            .get("accountkey")
            .ok_or(SasError::MissingField("AccountKey"))?;
        let endpoint = match fields.get("blobendpoint") {
            Some(e) => e.clone(),
            None => {
                let proto = fields
                    .get("defaultendpointsprotocol")
                    .map(String::as_str)
                    .unwrap_or("https");
                let suffix = fields
                    .get("endpointsuffix")
                    .map(String::as_str)
                    .unwrap_or("core.windows.net");
                format!("{proto}://{name}.blob.{suffix}")
            }
        };
        Account::new(name, key, &endpoint)
    }

    fn sign(&self, string_to_sign: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(string_to_sign.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// The lease ID the server holds on a committed blob: a GUID derived from the account key
    /// and the blob's name (HMAC-SHA256), so it is the same after a restart and on every
    /// retry, yet nobody without the account key — such as a client holding the blob's
    /// upload SAS — can compute it and write through the lease.
    pub fn lease_id(&self, container: &str, blob: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(b"finsync lease\n");
        mac.update(container.as_bytes());
        mac.update(b"/");
        mac.update(blob.as_bytes());
        let h = mac.finalize().into_bytes();
        let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    /// URL of a container or blob (path segments percent-encoded), without a query.
    pub fn url(&self, container: &str, resource: Resource<'_>) -> String {
        match resource {
            Resource::Container => format!("{}/{}", self.blob_endpoint, container),
            Resource::Blob(blob) => {
                format!("{}/{}/{}", self.blob_endpoint, container, encode_path(blob))
            }
        }
    }

    /// A service SAS query string (without `?`) for one container or blob.
    ///
    /// `permissions` uses Azure's letters in canonical order (`racwdl...`), `expiry` an
    /// ISO-8601 UTC time such as `2026-11-26T12:00:00Z`.
    pub fn service_sas(
        &self,
        container: &str,
        resource: Resource<'_>,
        permissions: &str,
        start: Option<&str>,
        expiry: &str,
    ) -> String {
        let (canonical, sr) = match resource {
            Resource::Container => (format!("/blob/{}/{}", self.name, container), "c"),
            Resource::Blob(b) => (format!("/blob/{}/{}/{}", self.name, container, b), "b"),
        };
        let protocol = "https,http";
        let st = start.unwrap_or("");
        // sp, st, se, resource, si, sip, spr, sv, sr, snapshot, ses, rscc, rscd, rsce, rscl, rsct
        let string_to_sign = [
            permissions,
            st,
            expiry,
            &canonical,
            "",
            "",
            protocol,
            SAS_VERSION,
            sr,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        let sig = self.sign(&string_to_sign);
        let mut q = format!("sv={SAS_VERSION}&spr={}", encode_query(protocol));
        if !st.is_empty() {
            q.push_str(&format!("&st={}", encode_query(st)));
        }
        q.push_str(&format!(
            "&se={}&sr={sr}&sp={permissions}&sig={}",
            encode_query(expiry),
            encode_query(&sig)
        ));
        q
    }

    /// An account SAS for the blob service. `resource_types` is a subset of `sco`
    /// (service, container, object) in that order.
    pub fn account_sas(&self, permissions: &str, resource_types: &str, expiry: &str) -> String {
        let protocol = "https,http";
        // account, sp, ss, srt, st, se, sip, spr, sv, ses, and a trailing newline
        let string_to_sign = format!(
            "{}\n{permissions}\nb\n{resource_types}\n\n{expiry}\n\n{protocol}\n{SAS_VERSION}\n\n",
            self.name
        );
        let sig = self.sign(&string_to_sign);
        format!(
            "sv={SAS_VERSION}&ss=b&srt={resource_types}&sp={permissions}&se={}&spr={}&sig={}",
            encode_query(expiry),
            encode_query(protocol),
            encode_query(&sig)
        )
    }
}

/// Removes the signature from a URL so it can be shown or logged: `sig=...` becomes
/// `sig=REDACTED`.
pub fn redact_sas(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|p| {
            if p.to_ascii_lowercase().starts_with("sig=") {
                "sig=REDACTED".to_string()
            } else {
                p.to_string()
            }
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// ISO-8601 UTC (`YYYY-MM-DDTHH:MM:SSZ`) of a Unix time in seconds.
pub fn iso8601_utc(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = crate::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix time in seconds.
pub fn date_utc(unix_secs: i64) -> String {
    iso8601_utc(unix_secs)[..10].to_string()
}

fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn encode_query(s: &str) -> String {
    encode(s, false)
}

/// Percent-encodes a blob path, keeping `/` separators.
pub fn encode_path(s: &str) -> String {
    encode(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Account {
        Account::new(
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            "http://127.0.0.1:10000/devstoreaccount1/",
        )
        .unwrap()
    }

    #[test]
    fn lease_ids_are_guids_per_blob_and_key() {
        let a = dev();
        let id = a.lease_id("c", "encounters/1/k/a.jpg");
        assert_eq!(id.len(), 36, "{id}");
        let dashes: Vec<usize> = id.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!(dashes, [8, 13, 18, 23], "{id}");
        assert!(
            id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{id}"
        );
        assert_eq!(id, a.lease_id("c", "encounters/1/k/a.jpg"), "stable");
        assert_ne!(id, a.lease_id("c", "encounters/1/k/b.jpg"));
        assert_ne!(id, a.lease_id("d", "encounters/1/k/a.jpg"));
        let other = Account::new("devstoreaccount1", "b3RoZXIga2V5", "http://h/a").unwrap();
        assert_ne!(id, other.lease_id("c", "encounters/1/k/a.jpg"), "keyed");
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601_utc(1_795_694_400), "2026-11-26T12:00:00Z");
        assert_eq!(iso8601_utc(-1), "1969-12-31T23:59:59Z");
        assert_eq!(date_utc(1_795_694_400), "2026-11-26");
    }

    #[test]
    fn service_sas_has_the_documented_fields() {
        let q = dev().service_sas(
            "c",
            Resource::Blob("a b/ü.jpg"),
            "cw",
            None,
            "2030-01-01T00:00:00Z",
        );
        assert!(
            q.starts_with(
                "sv=2022-11-02&spr=https%2Chttp&se=2030-01-01T00%3A00%3A00Z&sr=b&sp=cw&sig="
            ),
            "{q}"
        );
        // Deterministic: the same inputs sign the same way.
        assert_eq!(
            q,
            dev().service_sas(
                "c",
                Resource::Blob("a b/ü.jpg"),
                "cw",
                None,
                "2030-01-01T00:00:00Z"
            )
        );
        let other = dev().service_sas(
            "c",
            Resource::Blob("a b/ü.jpg"),
            "r",
            None,
            "2030-01-01T00:00:00Z",
        );
        assert_ne!(q, other);
    }

    #[test]
    fn urls_encode_blob_paths() {
        assert_eq!(
            dev().url("photos", Resource::Blob("2024/a b#.jpg")),
            "http://127.0.0.1:10000/devstoreaccount1/photos/2024/a%20b%23.jpg"
        );
    }

    #[test]
    fn connection_strings() {
        let a = Account::from_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=AAAA;EndpointSuffix=core.windows.net",
        )
        .unwrap();
        assert_eq!(a.blob_endpoint, "https://acme.blob.core.windows.net");
        let dev = Account::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(dev.name, AZURITE_ACCOUNT);
        assert_eq!(
            Account::from_connection_string("AccountName=x"),
            Err(SasError::MissingField("AccountKey"))
        );
        assert_eq!(
            Account::from_connection_string("AccountName=x;AccountKey=!!"),
            Err(SasError::BadKey)
        );
        assert!(!format!("{dev:?}").contains(AZURITE_KEY));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_sas("http://h/a/b.jpg?sv=1&sig=abc%2B&sp=w"),
            "http://h/a/b.jpg?sv=1&sig=REDACTED&sp=w"
        );
        assert_eq!(redact_sas("http://h/a"), "http://h/a");
    }
}
