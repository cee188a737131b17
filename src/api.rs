//! The sync API client: typed requests to the reference (or finwave) server with gloo-net.
//! The API key travels only in the `Authorization` header, never in a URL or a log.

use finsync_core::api::{
    ApiError, CommitResults, CommitSessions, CreateUploadSessions, DemoConfig, EncounterRef,
    FindOrCreateEncounter, ProvisionKey, ProvisionedKey, SessionInfo, SignIn, StatusResponse,
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
    Api { status: u16, error: ApiError },
    #[error("the server answered {status} without a readable error body")]
    Http { status: u16 },
    #[error("the server sent a response finsync cannot read: {0}")]
    BadResponse(String),
}

impl CallError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Api { status, .. } | CallError::Http { status } => Some(*status),
            _ => None,
        }
    }
}

/// A configured server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    base: String,
    key: String,
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
        if (200..300).contains(&status) {
            return resp
                .json::<T>()
                .await
                .map_err(|e| CallError::BadResponse(e.to_string()));
        }
        match resp.json::<ApiError>().await {
            Ok(error) => Err(CallError::Api { status, error }),
            Err(_) => Err(CallError::Http { status }),
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

    pub async fn find_or_create(
        &self,
        e: &FindOrCreateEncounter,
    ) -> Result<EncounterRef, CallError> {
        self.post("/api/v1/encounters/find-or-create", e).await
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
