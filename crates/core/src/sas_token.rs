//! Checking a SAS token a person pastes for a storage connection (Settings → Azure storage
//! connections), before anything is sent: cloud discovery lists the container and reads the
//! start of each blob, and the server copies the blobs with read URLs built from the token, so
//! it needs **Read** and **List**, on the blob service, for containers and objects, not
//! expired, and no IP restriction (spec §4.5, troubleshooting "403 CannotVerifyCopySource").
//!
//! [`inspect_token`] reads only the token's query fields; whether the signature is good is
//! for the storage service to say (the live check lists the container). Times come in as Unix
//! seconds; this module reads no clock. No message here ever repeats the signature.

use crate::cloud::{ConnectionAuth, StorageConnection};
use crate::sas::iso8601_utc;

/// How to make a token that works, appended to every problem.
pub const HOW_TO_MAKE_ONE: &str = "Make a new one in the Azure portal (storage account → \
Security + networking → Shared access signature): Allowed services Blob; Allowed resource types \
Service, Container and Object; Allowed permissions Read and List; an end date after your sync; \
Allowed IP addresses empty; then Generate SAS and paste the SAS token. Or with the Azure CLI: \
az storage account generate-sas --account-name <account> --services b --resource-types sco \
--permissions rl --expiry <YYYY-MM-DDTHH:MMZ> --https-only --output tsv";

/// What kind of SAS a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// An account SAS (`ss`, `srt`).
    Account,
    /// A service SAS for one container (`sr=c`).
    Container,
    /// Anything else we recognise by `sr` (one blob, a directory, …).
    Other(String),
}

/// Something that stops the token from working for discovery and copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("this is not a SAS token: it has no signature (sig=). Paste the part after the ? of a SAS URL, starting with sv=")]
    NotASas,
    #[error("the token expired on {0} (se=)")]
    Expired(String),
    #[error("the token has no expiry (se=) and names no stored access policy (si=)")]
    NoExpiry,
    #[error("the token's expiry {0:?} is not a date Azure would accept")]
    BadExpiry(String),
    #[error("the token only becomes valid on {0} (st=)")]
    NotYetValid(String),
    #[error(
        "the token lacks the {0} permission (it has sp={1}); discovery needs Read (r) and List (l)"
    )]
    MissingPermission(&'static str, String),
    #[error("the token is not for the blob service (ss={0}); it must include b")]
    NotBlobService(String),
    #[error("the token does not cover containers (srt={0}): listing the container needs c")]
    NoContainerResource(String),
    #[error("the token does not cover objects (srt={0}): reading the images needs o")]
    NoObjectResource(String),
    #[error("the token is for a single {0}, not a container or the account: it cannot list the container")]
    WrongResource(String),
    #[error("the token says neither which services (ss=) nor which resource (sr=) it is for")]
    UnknownKind,
}

/// Worth knowing, but the token can work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenWarning {
    #[error("the token is restricted to the IP addresses {0} (sip=): the server copies the images from its own address, which then gets 403 AuthenticationFailed. Make a token without Allowed IP addresses, or use a connection string")]
    IpRestricted(String),
    #[error("the token expires on {0}, in less than a day: a long scan or sync may outlive it")]
    ExpiresSoon(String),
    #[error("the token uses the stored access policy {0:?} (si=): its permissions and expiry are in the policy, so only the live check can tell whether they allow Read and List")]
    StoredPolicy(String),
    #[error("the token lacks Service (s) in its resource types (srt={0}): discovery works, but the spec's copy rule asks for srt=sco")]
    NoServiceResource(String),
}

/// What [`inspect_token`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReport {
    pub kind: Option<TokenKind>,
    /// `se` as Unix seconds, when present and valid.
    pub expires_unix: Option<i64>,
    pub problems: Vec<TokenProblem>,
    pub warnings: Vec<TokenWarning>,
}

impl TokenReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// One message for the person: every problem, then how to make a token that works.
    /// `None` when the token has no problem.
    pub fn explain(&self) -> Option<String> {
        if self.ok() {
            return None;
        }
        let list: Vec<String> = self.problems.iter().map(|p| p.to_string()).collect();
        Some(format!(
            "This SAS token cannot be used: {}. {HOW_TO_MAKE_ONE}",
            list.join("; ")
        ))
    }
}

/// The token's query fields (without a leading `?`; a whole SAS URL gives its query part).
/// Values are percent-decoded; keys are lower-cased.
pub fn token_fields(token: &str) -> Vec<(String, String)> {
    let t = token.trim();
    let q = match t.split_once('?') {
        Some((_, q)) => q,
        None => t,
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.trim().to_ascii_lowercase(), percent_decode(v))
        })
        .collect()
}

/// Splits a pasted SAS URL (`https://acct.blob.core.windows.net/?sv=…`) into the blob
/// endpoint (no trailing `/`) and the token. A bare token gives `None` for the endpoint.
pub fn split_sas_url(input: &str) -> (Option<String>, String) {
    let t = input.trim();
    if t.starts_with("http://") || t.starts_with("https://") {
        if let Some((base, q)) = t.split_once('?') {
            return (Some(base.trim_end_matches('/').to_string()), q.to_string());
        }
        return (Some(t.trim_end_matches('/').to_string()), String::new());
    }
    (None, t.trim_start_matches('?').to_string())
}

/// Checks a SAS token for cloud discovery and server-side copy at `now_unix`.
pub fn inspect_token(token: &str, now_unix: i64) -> TokenReport {
    let fields = token_fields(token);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let mut r = TokenReport {
        kind: None,
        expires_unix: None,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    if get("sig").is_none_or(str::is_empty) {
        r.problems.push(TokenProblem::NotASas);
        return r;
    }
    let policy = get("si").filter(|s| !s.is_empty());
    if let Some(si) = policy {
        r.warnings.push(TokenWarning::StoredPolicy(si.to_string()));
    }

    match get("se") {
        None | Some("") => {
            if policy.is_none() {
                r.problems.push(TokenProblem::NoExpiry);
            }
        }
        Some(se) => match parse_iso8601(se) {
            None => r.problems.push(TokenProblem::BadExpiry(se.to_string())),
            Some(t) => {
                r.expires_unix = Some(t);
                if t <= now_unix {
                    r.problems.push(TokenProblem::Expired(iso8601_utc(t)));
                } else if t - now_unix < 86_400 {
                    r.warnings.push(TokenWarning::ExpiresSoon(iso8601_utc(t)));
                }
            }
        },
    }
    if let Some(st) = get("st").filter(|s| !s.is_empty()) {
        match parse_iso8601(st) {
            None => r.problems.push(TokenProblem::BadExpiry(st.to_string())),
            Some(t) if t > now_unix + 300 => {
                r.problems.push(TokenProblem::NotYetValid(iso8601_utc(t)))
            }
            Some(_) => {}
        }
    }

    match get("sp") {
        Some(sp) if !sp.is_empty() => {
            if !sp.contains('r') {
                r.problems
                    .push(TokenProblem::MissingPermission("Read (r)", sp.to_string()));
            }
            if !sp.contains('l') {
                r.problems
                    .push(TokenProblem::MissingPermission("List (l)", sp.to_string()));
            }
        }
        _ if policy.is_some() => {}
        _ => {
            r.problems
                .push(TokenProblem::MissingPermission("Read (r)", String::new()));
            r.problems
                .push(TokenProblem::MissingPermission("List (l)", String::new()));
        }
    }

    match (get("ss"), get("srt"), get("sr")) {
        (Some(ss), srt, _) => {
            r.kind = Some(TokenKind::Account);
            if !ss.contains('b') {
                r.problems
                    .push(TokenProblem::NotBlobService(ss.to_string()));
            }
            let srt = srt.unwrap_or("");
            if !srt.contains('c') {
                r.problems
                    .push(TokenProblem::NoContainerResource(srt.to_string()));
            }
            if !srt.contains('o') {
                r.problems
                    .push(TokenProblem::NoObjectResource(srt.to_string()));
            }
            if srt.contains('c') && srt.contains('o') && !srt.contains('s') {
                r.warnings
                    .push(TokenWarning::NoServiceResource(srt.to_string()));
            }
        }
        (None, _, Some("c")) => r.kind = Some(TokenKind::Container),
        (None, _, Some(sr)) => {
            let what = match sr {
                "b" => "blob",
                "bs" => "blob snapshot",
                "bv" => "blob version",
                "d" => "directory",
                other => other,
            };
            r.kind = Some(TokenKind::Other(sr.to_string()));
            r.problems
                .push(TokenProblem::WrongResource(what.to_string()));
        }
        (None, _, None) => r.problems.push(TokenProblem::UnknownKind),
    }

    if let Some(sip) = get("sip").filter(|s| !s.is_empty()) {
        r.warnings.push(TokenWarning::IpRestricted(sip.to_string()));
    }
    r
}

impl StorageConnection {
    /// What is wrong with the stored credentials before anything is sent: for a SAS token,
    /// [`inspect_token`] at `now_unix` (its report); for a connection
    /// string, whether it parses. `Err` carries the message for the person.
    pub fn check_credentials(&self, now_unix: i64) -> Result<Option<TokenReport>, String> {
        match &self.auth {
            ConnectionAuth::SasToken { token, .. } => {
                let report = inspect_token(token, now_unix);
                match report.explain() {
                    Some(text) => Err(text),
                    None => Ok(Some(report)),
                }
            }
            ConnectionAuth::ConnectionString { value } => {
                crate::sas::Account::from_connection_string(value).map(|_| None).map_err(|e| {
                    format!(
                        "{e}. Copy the whole connection string from the Azure portal (storage account → Security + networking → Access keys → Connection string)."
                    )
                })
            }
        }
    }

    /// The credentials as the page shows them: the kind and a few characters, never the
    /// signature or key.
    pub fn masked(&self) -> String {
        match &self.auth {
            ConnectionAuth::SasToken { token, .. } => {
                let fields = token_fields(token);
                let get = |k: &str| {
                    fields
                        .iter()
                        .find(|(key, _)| key == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                format!(
                    "SAS token (sp={}, expires {}, signature ••••••)",
                    get("sp"),
                    Some(get("se"))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "?".into())
                )
            }
            ConnectionAuth::ConnectionString { .. } => {
                "connection string (AccountKey ••••••)".to_string()
            }
        }
    }
}

/// `YYYY-MM-DD`, `YYYY-MM-DDTHH:MMZ` or `YYYY-MM-DDTHH:MM:SS[.fff]Z` (the forms Azure accepts
/// in `st`/`se`) → Unix seconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = 0i64;
    if let Some(t) = time {
        let t = t.strip_suffix('Z')?;
        let t = t.split('.').next()?;
        let parts: Vec<&str> = t.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let h: i64 = parts[0].parse().ok()?;
        let mi: i64 = parts[1].parse().ok()?;
        let se: i64 = parts.get(2).map_or(Some(0), |x| x.parse().ok())?;
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs = h * 3600 + mi * 60 + se;
    }
    Some(crate::calendar::days_from_civil(y, m, day) * 86_400 + secs)
}

/// Decodes `%XX` escapes and `+` (as a space would be in a form-encoded query). Invalid escapes
/// are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cloud::test_connection as conn;

    #[test]
    fn credentials_are_checked_and_masked() {
        let expired = conn(ConnectionAuth::SasToken {
            blob_endpoint: "https://acct.blob.core.windows.net".into(),
            token: "sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2020-01-01&sig=SECRET".into(),
        });
        let e = expired.check_credentials(1_795_694_400).unwrap_err();
        assert!(e.contains("expired on 2020-01-01T00:00:00Z"), "{e}");
        assert!(!e.contains("SECRET"));
        assert_eq!(
            expired.masked(),
            "SAS token (sp=rl, expires 2020-01-01, signature ••••••)"
        );
        let cs = conn(ConnectionAuth::ConnectionString {
            value: "AccountName=a;AccountKey=c2VjcmV0".into(),
        });
        assert_eq!(cs.check_credentials(0), Ok(None));
        assert!(!cs.masked().contains("c2VjcmV0"));
        let bad = conn(ConnectionAuth::ConnectionString {
            value: "AccountName=a".into(),
        });
        assert!(bad
            .check_credentials(0)
            .unwrap_err()
            .contains("no AccountKey"));
    }

    /// 2026-11-26T12:00:00Z
    const NOW: i64 = 1_795_694_400;

    fn good_account() -> &'static str {
        "sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2027-01-01T00:00:00Z&st=2026-11-01T00:00:00Z&spr=https&sig=abc%2Bdef%3D"
    }

    #[test]
    fn a_good_account_token_passes() {
        let r = inspect_token(good_account(), NOW);
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!(r.kind, Some(TokenKind::Account));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.expires_unix, parse_iso8601("2027-01-01T00:00:00Z"));
        assert_eq!(r.explain(), None);
        // With a leading `?` or as a whole URL it reads the same.
        assert!(inspect_token(&format!("?{}", good_account()), NOW).ok());
        assert!(inspect_token(
            &format!("https://a.blob.core.windows.net/?{}", good_account()),
            NOW
        )
        .ok());
    }

    #[test]
    fn a_container_sas_passes_and_a_blob_sas_does_not() {
        let c = inspect_token("sv=2022-11-02&sr=c&sp=rl&se=2027-01-01&sig=x", NOW);
        assert!(c.ok(), "{:?}", c.problems);
        assert_eq!(c.kind, Some(TokenKind::Container));
        let b = inspect_token("sv=2022-11-02&sr=b&sp=r&se=2027-01-01&sig=x", NOW);
        assert!(b
            .problems
            .contains(&TokenProblem::WrongResource("blob".into())));
        assert!(b
            .problems
            .contains(&TokenProblem::MissingPermission("List (l)", "r".into())));
    }

    #[test]
    fn expired_tokens_say_when() {
        let r = inspect_token(
            "sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2026-11-25T08:30:00Z&sig=x",
            NOW,
        );
        assert_eq!(
            r.problems,
            vec![TokenProblem::Expired("2026-11-25T08:30:00Z".into())]
        );
        let text = r.explain().unwrap();
        assert!(text.contains("expired on 2026-11-25T08:30:00Z"), "{text}");
        assert!(text.contains("--permissions rl"), "{text}");
        // Expiring exactly now is expired; within a day is a warning.
        let at_now = inspect_token(
            &format!("ss=b&srt=sco&sp=rl&se={}&sig=x", iso8601_utc(NOW)),
            NOW,
        );
        assert!(matches!(at_now.problems[..], [TokenProblem::Expired(_)]));
        let soon = inspect_token(
            &format!("ss=b&srt=sco&sp=rl&se={}&sig=x", iso8601_utc(NOW + 3600)),
            NOW,
        );
        assert!(soon.ok());
        assert!(matches!(soon.warnings[..], [TokenWarning::ExpiresSoon(_)]));
    }

    #[test]
    fn missing_list_is_named() {
        let r = inspect_token(
            "sv=2022-11-02&ss=b&srt=sco&sp=r&se=2027-01-01T00:00:00Z&sig=x",
            NOW,
        );
        assert_eq!(
            r.problems,
            vec![TokenProblem::MissingPermission("List (l)", "r".into())]
        );
        assert!(r
            .explain()
            .unwrap()
            .contains("lacks the List (l) permission"));
        let no_read = inspect_token("ss=b&srt=sco&sp=lw&se=2027-01-01&sig=x", NOW);
        assert_eq!(
            no_read.problems,
            vec![TokenProblem::MissingPermission("Read (r)", "lw".into())]
        );
    }

    #[test]
    fn resource_types_and_services() {
        let no_o = inspect_token("ss=b&srt=sc&sp=rl&se=2027-01-01&sig=x", NOW);
        assert_eq!(
            no_o.problems,
            vec![TokenProblem::NoObjectResource("sc".into())]
        );
        let no_c = inspect_token("ss=bf&srt=o&sp=rl&se=2027-01-01&sig=x", NOW);
        assert_eq!(
            no_c.problems,
            vec![TokenProblem::NoContainerResource("o".into())]
        );
        let files = inspect_token("ss=f&srt=sco&sp=rl&se=2027-01-01&sig=x", NOW);
        assert_eq!(
            files.problems,
            vec![TokenProblem::NotBlobService("f".into())]
        );
        let co = inspect_token("ss=b&srt=co&sp=rl&se=2027-01-01&sig=x", NOW);
        assert!(co.ok());
        assert_eq!(
            co.warnings,
            vec![TokenWarning::NoServiceResource("co".into())]
        );
    }

    #[test]
    fn ip_restrictions_warn_and_policies_defer_to_the_live_check() {
        let r = inspect_token(
            "ss=b&srt=sco&sp=rl&se=2027-01-01&sip=10.0.0.1-10.0.0.9&sig=x",
            NOW,
        );
        assert!(r.ok());
        let w = r.warnings[0].to_string();
        assert!(
            w.contains("10.0.0.1-10.0.0.9") && w.contains("AuthenticationFailed"),
            "{w}"
        );
        let p = inspect_token("sv=2022-11-02&sr=c&si=readers&sig=x", NOW);
        assert!(p.ok(), "{:?}", p.problems);
        assert_eq!(
            p.warnings,
            vec![TokenWarning::StoredPolicy("readers".into())]
        );
    }

    #[test]
    fn not_a_token() {
        for t in [
            "",
            "hello",
            "sv=2022-11-02&sp=rl",
            "AccountName=a;AccountKey=b",
        ] {
            let r = inspect_token(t, NOW);
            assert_eq!(r.problems, vec![TokenProblem::NotASas], "{t}");
        }
        let unknown = inspect_token("sp=rl&se=2027-01-01&sig=x", NOW);
        assert_eq!(unknown.problems, vec![TokenProblem::UnknownKind]);
        let no_expiry = inspect_token("ss=b&srt=sco&sp=rl&sig=x", NOW);
        assert_eq!(no_expiry.problems, vec![TokenProblem::NoExpiry]);
        let bad = inspect_token("ss=b&srt=sco&sp=rl&se=tomorrow&sig=x", NOW);
        assert_eq!(
            bad.problems,
            vec![TokenProblem::BadExpiry("tomorrow".into())]
        );
        let later = inspect_token("ss=b&srt=sco&sp=rl&st=2026-12-01&se=2027-01-01&sig=x", NOW);
        assert_eq!(
            later.problems,
            vec![TokenProblem::NotYetValid("2026-12-01T00:00:00Z".into())]
        );
    }

    #[test]
    fn explanations_never_repeat_the_signature() {
        let r = inspect_token("ss=q&srt=s&sp=w&se=2020-01-01&sig=SECRETSIG", NOW);
        assert!(r.problems.len() >= 4, "{:?}", r.problems);
        assert!(!r.explain().unwrap().contains("SECRETSIG"));
    }

    #[test]
    fn dates_round_trip() {
        for t in [0, 951_782_400, NOW, NOW + 12_345, 4_102_444_800] {
            assert_eq!(parse_iso8601(&iso8601_utc(t)), Some(t));
        }
        assert_eq!(parse_iso8601("2026-11-26T12:00Z"), Some(NOW));
        assert_eq!(parse_iso8601("2026-11-26T12:00:00.1234567Z"), Some(NOW));
        assert_eq!(parse_iso8601("2026-11-26"), Some(NOW - 12 * 3600));
        for bad in [
            "2026-13-01",
            "2026-11-26T12:00:00",
            "26-11",
            "2026-11-26T25:00Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_split_into_endpoint_and_token() {
        assert_eq!(
            split_sas_url("https://acct.blob.core.windows.net/?sv=1&sig=x"),
            (
                Some("https://acct.blob.core.windows.net".into()),
                "sv=1&sig=x".into()
            )
        );
        assert_eq!(split_sas_url(" ?sv=1&sig=x "), (None, "sv=1&sig=x".into()));
        assert_eq!(percent_decode("a%2Bb%3D%zz%"), "a+b=%zz%");
    }
}
