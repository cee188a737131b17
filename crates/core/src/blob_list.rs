//! The Blob service's answers that cloud discovery reads in the browser: a page of
//! [List Blobs](https://learn.microsoft.com/rest/api/storageservices/list-blobs) (XML), an
//! error body (`<Error><Code>…`), and what each failure means for the person.
//!
//! The XML is read by a small tag walker, not a general XML parser: the service's answers are
//! flat, machine-written documents, and only a handful of elements matter (blob name, size,
//! last-modified time, content type, `NextMarker`). Entities and numeric character references
//! are decoded; a name the service had to percent-encode (`<Name Encoded="true">`) is decoded
//! too.

use crate::calendar::days_from_civil;
use crate::cloud::{CloudError, ConnectionAuth, StorageConnection, READ_SAS_SECS};
use crate::media::{classify, is_hidden_dir, FileClass};
use crate::sas::{self, Account, Resource};
use crate::sas_token::percent_decode;

/// Blobs asked for per List Blobs page.
pub const PAGE_SIZE: u32 = 1000;

/// One blob of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedBlob {
    /// The full blob name (may contain `/`), decoded.
    pub name: String,
    pub size: u64,
    /// `Last-Modified` as Unix milliseconds (0 when the service sent none).
    pub last_modified_ms: f64,
    pub content_type: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub blobs: Vec<ListedBlob>,
    /// Where the next page starts; `None` on the last page.
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the storage service's answer is not a blob listing (no EnumerationResults); is the blob endpoint right?")]
    NotAListing,
    #[error("the storage service's listing is cut off or malformed near byte {0}")]
    Malformed(usize),
    #[error("the listing has a blob with a bad size {0:?}")]
    BadSize(String),
}

/// A `<tag …>`, `</tag>` or text, in document order.
enum Token<'a> {
    Open {
        name: &'a str,
        attrs: &'a str,
    },
    Close(&'a str),
    /// A self-closing `<tag/>`.
    Empty,
    Text(&'a str),
}

/// Walks the tags and text of a document; comments, processing instructions and DOCTYPEs are
/// skipped, CDATA sections come out as text.
fn tokens(xml: &str) -> impl Iterator<Item = Result<Token<'_>, usize>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = &xml[at..];
        if rest.is_empty() {
            return None;
        }
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            at += end;
            return Some(Ok(Token::Text(&rest[..end])));
        }
        for (open, close) in [("<?", "?>"), ("<!--", "-->"), ("<!DOCTYPE", ">")] {
            if rest.starts_with(open) {
                return match rest.find(close) {
                    Some(e) => {
                        at += e + close.len();
                        Some(Ok(Token::Text("")))
                    }
                    None => Some(Err(at)),
                };
            }
        }
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            return match cdata.find("]]>") {
                Some(e) => {
                    at += 9 + e + 3;
                    Some(Ok(Token::Text(&cdata[..e])))
                }
                None => Some(Err(at)),
            };
        }
        let Some(end) = rest.find('>') else {
            let here = at;
            at = xml.len();
            return Some(Err(here));
        };
        let inner = &rest[1..end];
        at += end + 1;
        if let Some(name) = inner.strip_prefix('/') {
            return Some(Ok(Token::Close(name.trim())));
        }
        let (inner, empty) = match inner.strip_suffix('/') {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let (name, attrs) = inner
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((inner, ""));
        Some(Ok(if empty {
            Token::Empty
        } else {
            Token::Open { name, attrs }
        }))
    })
}

/// Decodes `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` and `&#…;` references.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest.find(';').filter(|&n| n <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .or_else(|| e.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses one List Blobs page.
pub fn parse_list_page(xml: &str) -> Result<ListPage, ListError> {
    let mut path: Vec<&str> = Vec::new();
    let mut page = ListPage::default();
    let mut seen_root = false;
    let mut text = String::new();
    let mut encoded = false;
    let mut blob: Option<ListedBlob> = None;
    for t in tokens(xml) {
        match t.map_err(ListError::Malformed)? {
            Token::Open { name, attrs } => {
                if path.is_empty() && name == "EnumerationResults" {
                    seen_root = true;
                }
                path.push(name);
                text.clear();
                encoded = attrs.contains("Encoded=\"true\"") || attrs.contains("Encoded='true'");
                if path == ["EnumerationResults", "Blobs", "Blob"] {
                    blob = Some(ListedBlob {
                        name: String::new(),
                        size: 0,
                        last_modified_ms: 0.0,
                        content_type: None,
                    });
                }
            }
            Token::Empty => {}
            Token::Text(s) => text.push_str(s),
            Token::Close(name) => {
                if path.last() != Some(&name) {
                    return Err(ListError::Malformed(0));
                }
                let value = unescape(text.trim());
                match (path.as_slice(), blob.as_mut()) {
                    (["EnumerationResults", "Blobs", "Blob", "Name"], Some(b)) => {
                        b.name = if encoded {
                            percent_decode(&value)
                        } else {
                            value
                        };
                    }
                    (
                        ["EnumerationResults", "Blobs", "Blob", "Properties", "Content-Length"],
                        Some(b),
                    ) => {
                        b.size = value.parse().map_err(|_| ListError::BadSize(value))?;
                    }
                    (
                        ["EnumerationResults", "Blobs", "Blob", "Properties", "Last-Modified"],
                        Some(b),
                    ) => b.last_modified_ms = parse_http_date(&value).unwrap_or(0) as f64 * 1000.0,
                    (
                        ["EnumerationResults", "Blobs", "Blob", "Properties", "Content-Type"],
                        Some(b),
                    ) => b.content_type = Some(value).filter(|v| !v.is_empty()),
                    (["EnumerationResults", "Blobs", "Blob"], Some(_)) => {
                        if let Some(b) = blob.take() {
                            page.blobs.push(b);
                        }
                    }
                    (["EnumerationResults", "NextMarker"], _) => {
                        page.next_marker = Some(value).filter(|v| !v.is_empty());
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
        }
    }
    if !seen_root {
        return Err(ListError::NotAListing);
    }
    if !path.is_empty() {
        return Err(ListError::Malformed(xml.len()));
    }
    Ok(page)
}

/// The `Code` and `Message` of a storage service error body, when it has them.
pub fn parse_error(xml: &str) -> (Option<String>, Option<String>) {
    let mut path: Vec<&str> = Vec::new();
    let mut text = String::new();
    let (mut code, mut message) = (None, None);
    for t in tokens(xml) {
        let Ok(t) = t else { break };
        match t {
            Token::Open { name, .. } => {
                path.push(name);
                text.clear();
            }
            Token::Text(s) => text.push_str(s),
            Token::Empty => {}
            Token::Close(_) => {
                match path.as_slice() {
                    ["Error", "Code"] => code = Some(unescape(text.trim())),
                    ["Error", "Message"] => {
                        // The message ends with "RequestId:… Time:…" lines; keep the sentence.
                        let m = unescape(text.trim());
                        let first = m.lines().next().unwrap_or("").trim().to_string();
                        message = Some(first);
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
        }
    }
    (code, message)
}

/// An HTTP date (`Thu, 26 Nov 2026 12:00:00 GMT`, RFC 7231 IMF-fixdate) → Unix seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.split_once(", ").map_or(s, |(_, rest)| rest);
    let mut p = s.split_ascii_whitespace();
    let day: u32 = p.next()?.parse().ok()?;
    let month = match p.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = p.next()?.parse().ok()?;
    let mut hms = p.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if p.next()? != "GMT" {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

impl StorageConnection {
    /// The URL of one List Blobs page of `container` (names starting with `prefix`, from
    /// `marker`, at most `max_results`): with the stored SAS token, or for a connection string
    /// a read + list service SAS for the container valid [`READ_SAS_SECS`] from `now_unix`.
    pub fn list_url(
        &self,
        container: &str,
        prefix: &str,
        marker: Option<&str>,
        max_results: u32,
        now_unix: i64,
    ) -> Result<String, CloudError> {
        let mut q = format!("restype=container&comp=list&maxresults={max_results}");
        if !prefix.is_empty() {
            q.push_str(&format!("&prefix={}", sas::encode_query(prefix)));
        }
        if let Some(m) = marker.filter(|m| !m.is_empty()) {
            q.push_str(&format!("&marker={}", sas::encode_query(m)));
        }
        let container_path = sas::encode_query(container);
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
                    "{}/{container_path}?{q}&{token}",
                    blob_endpoint.trim_end_matches('/')
                ))
            }
            ConnectionAuth::ConnectionString { value } => {
                let account = Account::from_connection_string(value).map_err(|source| {
                    CloudError::Credentials {
                        name: self.name.clone(),
                        source,
                    }
                })?;
                let expiry = sas::iso8601_utc(now_unix + READ_SAS_SECS);
                let sas = account.service_sas(container, Resource::Container, "rl", None, &expiry);
                Ok(format!(
                    "{}?{q}&{sas}",
                    account.url(container, Resource::Container)
                ))
            }
        }
    }
}

/// How a scan treats a blob, by its full name: like a file of a picked folder, where the
/// `/`-separated parts before the last are folders (a blob under a hidden or system folder
/// such as `.trash/` or `__MACOSX/` is hidden). A name ending in `/` (a folder marker) is
/// [`FileClass::Other`].
pub fn classify_blob(name: &str) -> FileClass {
    let mut parts: Vec<&str> = name.split('/').collect();
    let file = parts.pop().unwrap_or("");
    if parts.iter().any(|d| is_hidden_dir(d)) {
        return FileClass::Hidden;
    }
    if file.is_empty() {
        return FileClass::Other;
    }
    classify(file)
}

/// What the page was doing when the storage service refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOp {
    /// Listing the container (the connection's live check, or a scan).
    List,
    /// Reading the start or end of one blob (a scan).
    Read,
}

/// The rule the storage account needs so this app's page may call it (a fetch that fails with
/// a `TypeError` is most often a missing CORS rule).
pub fn cors_rule_text(origin: &str) -> String {
    format!(
        "The storage account must allow this page's origin through CORS: in the Azure portal, \
storage account → Settings → Resource sharing (CORS) → Blob service, add a rule with Allowed \
origins {origin}, Allowed methods GET, HEAD, OPTIONS, Allowed headers x-ms-*,range, Exposed \
headers x-ms-*,content-range,content-length, Max age 3600. Or: az storage cors add \
--account-name <account> --services b --methods GET HEAD OPTIONS --origins {origin} \
--allowed-headers 'x-ms-*,range' --exposed-headers 'x-ms-*,content-range,content-length' \
--max-age 3600. If the account has firewall rules, this browser's network must be allowed too."
    )
}

/// A message for a request the storage service answered with `status` (and error `code`).
/// `target`: the container (listing) or blob (read) involved.
pub fn explain_status(op: BlobOp, status: u16, code: Option<&str>, target: &str) -> String {
    let doing = match op {
        BlobOp::List => format!("Listing the container “{target}”"),
        BlobOp::Read => format!("Reading “{target}”"),
    };
    let code_text = code.map(|c| format!(" {c}")).unwrap_or_default();
    let why = match (status, code) {
        (403, Some("AuthorizationPermissionMismatch")) => {
            "the token does not grant the permission needed: discovery needs Read (r) and List (l). Make a SAS token with sp=rl (and srt=sco for an account SAS) and add the connection again".to_string()
        }
        (403, Some("AuthorizationResourceTypeMismatch")) => {
            "the token does not cover this kind of resource: an account SAS needs the resource types container and object (srt=sco). Make a new token and add the connection again".to_string()
        }
        (403, Some("AuthorizationServiceMismatch")) => {
            "the token is not for the blob service: make one with Allowed services Blob (ss=b)".to_string()
        }
        (403, Some("AuthorizationSourceIPMismatch")) => {
            "the token is restricted to other IP addresses (sip=). Make a token without Allowed IP addresses (the server copies from its own address too), or use a connection string".to_string()
        }
        (403, Some("AuthorizationFailure")) => {
            "the storage service refused the token or this network: the signature does not match (the token was pasted incompletely, or the account key was rotated), or the account's firewall does not admit this network. Paste the whole token again or make a new one with Read and List, and check the account's Networking settings".to_string()
        }
        (403, Some("AuthenticationFailed")) | (403, None) => {
            "the storage service does not accept the token: it is expired, not yet valid, was pasted incompletely, is restricted to other IP addresses, or its account key was rotated. Check the token's start and end dates, or make a new one with Read and List and add the connection again".to_string()
        }
        (404, Some("ContainerNotFound")) | (404, None) if op == BlobOp::List => {
            format!("there is no container named “{target}” in this account. Check the name (lower case) in the Azure portal")
        }
        (404, _) if op == BlobOp::Read => {
            "the blob is gone (deleted or renamed since the listing). Scan the container again".to_string()
        }
        (404, Some("ResourceNotFound")) => {
            "the account or container was not found: check the account name and blob endpoint".to_string()
        }
        (409, Some("PublicAccessNotPermitted" | "KeyBasedAuthenticationNotPermitted")) => {
            "the account does not allow SAS or key access (Allow storage account key access is off). Ask the account's admin to allow it, or use another account".to_string()
        }
        (416, _) => "the blob is smaller than it was when listed: scan the container again".to_string(),
        (s, _) if s >= 500 => {
            "the storage service had a temporary problem; try again in a minute".to_string()
        }
        _ => "unexpected answer".to_string(),
    };
    format!("{doing} failed (HTTP {status}{code_text}): {why}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cloud::test_connection as conn;

    #[test]
    fn list_urls_page_through_a_prefix() {
        let c = conn(ConnectionAuth::SasToken {
            blob_endpoint: "https://acct.blob.core.windows.net/".into(),
            token: "?sv=2022-11-02&ss=b&srt=sco&sp=rl&sig=abc".into(),
        });
        assert_eq!(
            c.list_url("source", "2024/a b", Some("2!9!x=="), 1000, 0).unwrap(),
            "https://acct.blob.core.windows.net/source?restype=container&comp=list&maxresults=1000&prefix=2024%2Fa%20b&marker=2%219%21x%3D%3D&sv=2022-11-02&ss=b&srt=sco&sp=rl&sig=abc"
        );
        let k = conn(ConnectionAuth::ConnectionString {
            value: "UseDevelopmentStorage=true".into(),
        });
        let url = k.list_url("source", "", None, 5, 1_795_694_400).unwrap();
        assert!(url.starts_with("http://127.0.0.1:10000/devstoreaccount1/source?restype=container&comp=list&maxresults=5&sv="), "{url}");
        assert!(url.contains("&sr=c&sp=rl&"), "{url}");
    }

    const PAGE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://acct.blob.core.windows.net/" ContainerName="source">
  <Prefix>2024/</Prefix>
  <MaxResults>2</MaxResults>
  <Blobs>
    <Blob>
      <Name>2024/Trip 1/IMG 0001.jpg</Name>
      <Properties>
        <Creation-Time>Tue, 25 Nov 2026 10:00:00 GMT</Creation-Time>
        <Last-Modified>Thu, 26 Nov 2026 12:00:00 GMT</Last-Modified>
        <Etag>0x8DC</Etag>
        <Content-Length>204800</Content-Length>
        <Content-Type>image/jpeg</Content-Type>
        <BlobType>BlockBlob</BlobType>
      </Properties>
      <Metadata />
    </Blob>
    <Blob>
      <Name>2024/Baleine à bosse &amp; co/ヒレ &#x1F40B; 2.JPG</Name>
      <Properties>
        <Last-Modified>Sun, 01 Mar 2026 08:05:09 GMT</Last-Modified>
        <Content-Length>17</Content-Length>
        <Content-Type />
      </Properties>
    </Blob>
  </Blobs>
  <NextMarker>2!96!MDAwMDM1IXNvdXJjZS8yMDI0L2IuanBnITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--</NextMarker>
</EnumerationResults>"#;

    #[test]
    fn a_page_with_a_next_marker() {
        let p = parse_list_page(PAGE).unwrap();
        assert_eq!(p.blobs.len(), 2);
        assert_eq!(
            p.blobs[0],
            ListedBlob {
                name: "2024/Trip 1/IMG 0001.jpg".into(),
                size: 204_800,
                last_modified_ms: 1_795_694_400_000.0,
                content_type: Some("image/jpeg".into()),
            }
        );
        assert_eq!(p.blobs[1].name, "2024/Baleine à bosse & co/ヒレ 🐋 2.JPG");
        assert_eq!(p.blobs[1].size, 17);
        assert_eq!(p.blobs[1].content_type, None);
        assert_eq!(
            p.blobs[1].last_modified_ms,
            parse_http_date("Sun, 01 Mar 2026 08:05:09 GMT").unwrap() as f64 * 1000.0
        );
        assert_eq!(
            p.next_marker.as_deref(),
            Some("2!96!MDAwMDM1IXNvdXJjZS8yMDI0L2IuanBnITAwMDAyOCE5OTk5LTEyLTMxVDIzOjU5OjU5Ljk5OTk5OTlaIQ--")
        );
    }

    #[test]
    fn the_last_page_has_an_empty_marker() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ContainerName="c"><Blobs /><NextMarker /></EnumerationResults>"#;
        assert_eq!(parse_list_page(xml).unwrap(), ListPage::default());
        let azurite = "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" ContainerName=\"c\"><Prefix/><MaxResults>5000</MaxResults><Blobs><Blob><Name>a b/c.jpg</Name><Properties><Last-Modified>Thu, 26 Nov 2026 17:00:00 GMT</Last-Modified><Content-Length>3</Content-Length></Properties></Blob></Blobs><NextMarker/></EnumerationResults>";
        let p = parse_list_page(azurite).unwrap();
        assert_eq!(p.blobs[0].name, "a b/c.jpg");
        assert_eq!(p.next_marker, None);
    }

    #[test]
    fn encoded_names_are_decoded() {
        let xml = r#"<EnumerationResults><Blobs><Blob><Name Encoded="true">bad%EF%BF%BEname.jpg</Name><Properties><Content-Length>1</Content-Length></Properties></Blob></Blobs></EnumerationResults>"#;
        assert_eq!(
            parse_list_page(xml).unwrap().blobs[0].name,
            "bad\u{FFFE}name.jpg"
        );
    }

    #[test]
    fn not_a_listing_or_cut_off() {
        assert_eq!(
            parse_list_page("<html><body>Sign in</body></html>"),
            Err(ListError::NotAListing)
        );
        assert!(matches!(
            parse_list_page("<EnumerationResults><Blobs><Blob><Name>a"),
            Err(ListError::Malformed(_))
        ));
        assert!(matches!(
            parse_list_page("<EnumerationResults><Blobs><Blob><Name>a</Blob>"),
            Err(ListError::Malformed(_))
        ));
        assert_eq!(
            parse_list_page("<EnumerationResults><Blobs><Blob><Name>a</Name><Properties><Content-Length>-3</Content-Length></Properties></Blob></Blobs></EnumerationResults>"),
            Err(ListError::BadSize("-3".into()))
        );
    }

    #[test]
    fn error_bodies() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.\nRequestId:1f2e\nTime:2026-11-26T12:00:00.0000000Z</Message></Error>";
        let (code, message) = parse_error(xml);
        assert_eq!(code.as_deref(), Some("AuthorizationPermissionMismatch"));
        assert_eq!(
            message.as_deref(),
            Some("This request is not authorized to perform this operation using this permission.")
        );
        assert_eq!(parse_error("garbage"), (None, None));
    }

    #[test]
    fn failures_are_explained() {
        let m = explain_status(
            BlobOp::List,
            403,
            Some("AuthorizationPermissionMismatch"),
            "source",
        );
        assert!(
            m.starts_with(
                "Listing the container “source” failed (HTTP 403 AuthorizationPermissionMismatch)"
            ),
            "{m}"
        );
        assert!(m.contains("Read (r) and List (l)"), "{m}");
        let a = explain_status(BlobOp::List, 403, Some("AuthenticationFailed"), "source");
        assert!(a.contains("expired"), "{a}");
        let n = explain_status(BlobOp::List, 404, Some("ContainerNotFound"), "sourc");
        assert!(n.contains("no container named “sourc”"), "{n}");
        let r = explain_status(BlobOp::Read, 404, Some("BlobNotFound"), "a.jpg");
        assert!(r.contains("Scan the container again"), "{r}");
        let cors = cors_rule_text("https://app.example.org");
        assert!(cors.contains("--origins https://app.example.org"), "{cors}");
        assert!(cors.contains("GET HEAD OPTIONS"), "{cors}");
    }

    #[test]
    fn blobs_are_classified_like_files_of_a_folder() {
        assert_eq!(classify_blob("2024/Trip 1/IMG 0001.JPG"), FileClass::Image);
        assert_eq!(classify_blob("a.jpg"), FileClass::Image);
        assert_eq!(classify_blob("2024/.thumbs/a.jpg"), FileClass::Hidden);
        assert_eq!(classify_blob("__MACOSX/2024/a.jpg"), FileClass::Hidden);
        assert_eq!(classify_blob("2024/._a.jpg"), FileClass::Hidden);
        assert_eq!(classify_blob("2024/Thumbs.db"), FileClass::Hidden);
        assert_eq!(classify_blob("2024/a.nef"), FileClass::Raw);
        assert_eq!(classify_blob("2024/notes.xlsx"), FileClass::Other);
        assert_eq!(classify_blob("2024/"), FileClass::Other);
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Thu, 26 Nov 2026 12:00:00 GMT"),
            Some(1_795_694_400)
        );
        assert_eq!(parse_http_date("26 Nov 2026 12:00:00 PST"), None);
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
