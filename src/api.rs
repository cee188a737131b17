//! The sync API client: typed requests to the reference (or finwave) server with gloo-net.
//! The API key travels only in the `Authorization` header, never in a URL or a log.

use finsync_core::api::{
    ApiError, CommitResults, CommitSessions, CreateUploadSessions, DemoConfig, EncounterRef,
    FindOrCreateEncounterFull, ProvisionKey, ProvisionedKey, SessionInfo, SignIn, StatusResponse,
    UploadSessions,
};
use gloo_net::http::{Request, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why an API call failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("cannot reach the server at {0}: check the server URL and your connection")]
    Network(String),
    #[error("the server answered {status}: {}", .error.message)]
    Api {
        status: u16,
        error: ApiError,
        /// The answer's `Retry-After`, in ms from now ([`retry_after_ms`]).
        retry_after_ms: Option<u64>,
    },
    #[error("the server answered {status} without a readable error body")]
    Http {
        status: u16,
        retry_after_ms: Option<u64>,
    },
    #[error("the server sent a response finsync cannot read: {0}")]
    BadResponse(String),
}

impl CallError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Api { status, .. } | CallError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A configured server, with the API key or session token it sends (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    base: String,
    key: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field(
                "key",
                &if self.key.is_empty() {
                    "(none)"
                } else {
                    "(hidden)"
                },
            )
            .finish()
    }
}

impl Client {
    pub fn new(server_url: &str, api_key: &str) -> Client {
        Client {
            base: server_url.trim().trim_end_matches('/').to_string(),
            key: api_key.trim().to_string(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn authed(&self, req: RequestBuilder) -> RequestBuilder {
        if self.key.is_empty() {
            req
        } else {
            req.header("Authorization", &format!("Bearer {}", self.key))
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: Result<Request, gloo_net::Error>,
    ) -> Result<T, CallError> {
        let req = req.map_err(|e| CallError::BadResponse(e.to_string()))?;
        let resp = req
            .send()
            .await
            .map_err(|_| CallError::Network(self.base.clone()))?;
        let status = resp.status();
        let content_type = resp.headers().get("content-type").unwrap_or_default();
        let retry_after = resp.headers().get("retry-after");
        let retry_after_ms = retry_after
            .as_deref()
            .and_then(|v| self::retry_after_ms(v, js_sys::Date::now()));
        // A body cut off mid-read is a network failure (retried), not an empty answer.
        let body = resp
            .text()
            .await
            .map_err(|_| CallError::Network(self.base.clone()))?;
        if (200..300).contains(&status) {
            // 204 No Content has no body: read as JSON null, which is what `()` is.
            let json = if status == 204 && body.trim().is_empty() {
                "null"
            } else {
                body.as_str()
            };
            return serde_json::from_str::<T>(json)
                .map_err(|e| CallError::BadResponse(unreadable_answer(&self.base, &body, &e)));
        }
        match serde_json::from_str::<ApiError>(&body) {
            Ok(mut error) => {
                if let Some(hint) = what_to_do(status, &error.code) {
                    error.message = format!("{}: {hint}", error.message);
                }
                Err(CallError::Api {
                    status,
                    error,
                    retry_after_ms,
                })
            }
            Err(_) if body.trim().is_empty() && content_type.is_empty() => Err(CallError::Http {
                status,
                retry_after_ms,
            }),
            // Not the server's own error (a proxy's page, a plain-text limit): say what it
            // was and what to do, in the shape of an API error so the message reaches the UI.
            Err(_) => Err(CallError::Api {
                status,
                error: ApiError {
                    code: format!("http{status}"),
                    message: foreign_error(status, &content_type, retry_after.as_deref(), &body),
                },
                retry_after_ms,
            }),
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let req = self
            .authed(Request::post(&format!("{}{path}", self.base)))
            .json(body);
        self.send(req).await
    }

    pub async fn status(&self) -> Result<StatusResponse, CallError> {
        let req = self
            .authed(Request::get(&format!("{}/api/v1/status", self.base)))
            .build();
        self.send(req).await
    }

    /// Find-or-create in the server's full form (licence, organisations, notes, known
    /// individuals, photographer user). The answer's extra `individuals` are not needed.
    pub async fn find_or_create(
        &self,
        e: &FindOrCreateEncounterFull,
    ) -> Result<EncounterRef, CallError> {
        self.post("/api/v1/encounters/find-or-create", e).await
    }

    /// `POST /api/v1/users`: creates a "Create on sync" photographer (idempotent on the email,
    /// or on the generated placeholder email for the same name).
    pub async fn create_user(
        &self,
        u: &finsync_core::api::CreateUser,
    ) -> Result<finsync_core::api::CreatedUser, CallError> {
        self.post("/api/v1/users", u).await
    }

    pub async fn create_sessions(
        &self,
        req: &CreateUploadSessions,
    ) -> Result<UploadSessions, CallError> {
        self.post("/api/v1/upload-sessions", req).await
    }

    pub async fn commit(&self, req: &CommitSessions) -> Result<CommitResults, CallError> {
        self.post("/api/v1/upload-sessions/commit", req).await
    }

    /// `POST /api/v1/upload-sessions/copy`: the server copies each source blob (read through
    /// its short-lived read SAS URL) into the item's session blob. The URLs are in the body
    /// only, never in a URL or a log of this app.
    pub async fn copy(
        &self,
        req: &finsync_core::api::CopyBlobs,
    ) -> Result<finsync_core::api::CopyResults, CallError> {
        self.post("/api/v1/upload-sessions/copy", req).await
    }

    /// `GET /api/v1/users?query=&limit=`: members of the key's organisation whose name or email
    /// contains `query` (photographer resolution).
    pub async fn search_users(
        &self,
        query: &str,
        limit: u32,
    ) -> Result<finsync_core::api::UserList, CallError> {
        let q: String = js_sys::encode_uri_component(query.trim()).into();
        let req = self
            .authed(Request::get(&format!(
                "{}/api/v1/users?query={q}&limit={limit}",
                self.base
            )))
            .build();
        self.send(req).await
    }
    /// Creates the individuals of `ids` that the population does not have yet.
    pub async fn ensure_individuals(
        &self,
        ids: &[String],
    ) -> Result<finsync_core::api::EnsureIndividualsResult, CallError> {
        let body = finsync_core::api::EnsureIndividuals { ids: ids.to_vec() };
        self.post("/api/v1/individuals/ensure", &body).await
    }

    /// Signs a person in; the answer carries a short-lived session token. The password is
    /// sent once, in the body, and never stored.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<SessionInfo, CallError> {
        let body = SignIn {
            email: email.trim().to_string(),
            password: password.to_string(),
        };
        self.post("/api/v1/auth/sign-in", &body).await
    }

    /// Ends the session whose token is this client's credential.
    pub async fn sign_out(&self) -> Result<(), CallError> {
        self.send(
            self.authed(Request::post(&format!(
                "{}/api/v1/auth/sign-out",
                self.base
            )))
            .build(),
        )
        .await
    }

    /// Creates an API key for this browser in `population_id`, with a session token as the
    /// client's credential (`Client::new(url, session_token)`).
    pub async fn provision_key(&self, population_id: i64) -> Result<ProvisionedKey, CallError> {
        let body = ProvisionKey {
            population_id,
            label: Some(browser_label()),
        };
        self.post("/api/v1/keys/provision", &body).await
    }
}

/// A `Retry-After` header's value in ms from `now_ms` (ms since the epoch): delay-seconds or
/// an HTTP date (a date in the past is 0). `None` when it is neither.
pub fn retry_after_ms(value: &str, now_ms: f64) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = js_sys::Date::parse(value);
    at.is_finite().then(|| (at - now_ms).max(0.0).ceil() as u64)
}

/// What the person can do about a server error whose message does not say it.
fn what_to_do(status: u16, code: &str) -> Option<&'static str> {
    match (status, code) {
        (401, "invalidKey") => Some(
            "sign in again in Settings and Re-provision the population's key, or enter a new API \
             key in Settings, then Retry — what was uploaded is kept",
        ),
        (403, "notInPopulation") => Some(
            "the API key in Settings is for another population than this encounter (or the \
             server no longer has it) — enter this population's key in Settings, or press Reset on the \
             population's card, then Sync",
        ),
        (429, _) => Some("Retry after that"),
        _ => None,
    }
}

/// The message for a 2xx answer that is not the JSON finsync expects.
fn unreadable_answer(base: &str, body: &str, e: &serde_json::Error) -> String {
    let what = if body.trim_start().starts_with('<') {
        "an HTML page"
    } else if body.trim().is_empty() {
        "an empty body"
    } else {
        "broken JSON"
    };
    format!(
        "the server at {base} answered with {what} instead of finsync JSON ({e}); nothing was \
         recorded for this step — check that the server URL in Settings is a finsync server, \
         then Retry"
    )
}

/// The message for an error answer without a finsync error body: a proxy's HTML page, a
/// plain-text 413, a bare 429.
fn foreign_error(status: u16, content_type: &str, retry_after: Option<&str>, body: &str) -> String {
    let title = html_title(body)
        .map(|t| format!(" (“{t}”)"))
        .unwrap_or_default();
    let page = if content_type.contains("html") || body.trim_start().starts_with('<') {
        format!("an error page{title}")
    } else {
        "no finsync error".to_string()
    };
    match status {
        413 => format!(
            "the request was refused as too large (413, {page}): a proxy in front of the \
             server limits request bodies — ask the server's admin to allow at least 1 MiB"
        ),
        429 => {
            let wait = retry_after
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(|s| format!(" for {s} s"))
                .unwrap_or_default();
            format!("the server is busy and asked finsync to wait{wait} (429): Retry after that")
        }
        500..=599 => format!(
            "the server's gateway answered {status} with {page} instead of finsync's answer: \
             the server may be down or restarting — Retry in a minute; if it persists, tell \
             the server's admin"
        ),
        _ => format!("the server answered {status} with {page}: check the server URL in Settings"),
    }
}

/// The text of an HTML page's `<title>`, trimmed to 80 characters.
fn html_title(body: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let t: String = body.get(start..end)?.trim().chars().take(80).collect();
    (!t.is_empty()).then_some(t)
}

/// "finsync in <browser>" from the user agent, to tell keys apart in the server's key list.
fn browser_label() -> String {
    let ua = web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    let browser = ["Firefox", "Edg", "Chrome", "Safari"]
        .into_iter()
        .find(|b| ua.contains(b))
        .map(|b| if b == "Edg" { "Edge" } else { b })
        .unwrap_or("a browser");
    format!("finsync in {browser}")
}

/// The demo settings a development server offers at `/demo-config.json` (same origin as the
/// app), if any.
pub async fn demo_config() -> Option<DemoConfig> {
    let resp = Request::get("/demo-config.json").send().await.ok()?;
    if !resp.ok() {
        return None;
    }
    resp.json::<DemoConfig>().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn foreign_errors_say_what_happened_and_what_to_do() {
        let nginx = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
        let m = foreign_error(502, "text/html", None, nginx);
        assert!(
            m.contains("“502 Bad Gateway”") && m.contains("Retry in a minute"),
            "{m}"
        );
        let m = foreign_error(413, "text/plain", None, "too big");
        assert!(m.contains("413") && m.contains("at least 1 MiB"), "{m}");
        let m = foreign_error(429, "", Some("7"), "");
        assert!(m.contains("wait for 7 s"), "{m}");
        assert_eq!(html_title("<TITLE> x </TITLE>"), Some("x".into()));
        let now = js_sys::Date::parse("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after_ms(" 7 ", now), Some(7_000));
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2015 07:28:09 GMT", now),
            Some(9_000)
        );
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(0)
        );
        assert_eq!(retry_after_ms("soon", now), None);
        assert_eq!(html_title("<title></title>"), None);
        let e = serde_json::from_str::<ApiError>("{\"id\": tru").expect_err("broken");
        let m = unreadable_answer("http://s", "{\"id\": tru", &e);
        assert!(m.contains("broken JSON") && m.contains("Settings"), "{m}");
        assert!(what_to_do(401, "invalidKey").is_some_and(|h| h.contains("Settings")));
        assert!(what_to_do(403, "notInPopulation").is_some_and(|h| h.contains("Settings")));
        assert_eq!(what_to_do(400, "invalidDate"), None);
    }

    #[wasm_bindgen_test]
    fn debug_does_not_show_the_key() {
        let shown = format!("{:?}", Client::new("http://s/", "fsk_secret_value"));
        assert!(!shown.contains("fsk_secret_value"), "{shown}");
        assert!(
            shown.contains("http://s") && shown.contains("(hidden)"),
            "{shown}"
        );
    }
}
