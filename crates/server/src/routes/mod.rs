//! The HTTP API (`/api/v1/...`, documented in `docs/api.md`), the encounter pages, the demo
//! config and the app's static bundle.
//!
//! * [`accounts`] — sign-in, key provisioning and revocation, users, populations.
//! * [`encounters`] — find-or-create, encounter JSON and pages, variants, individuals.
//! * [`uploads`] — upload sessions, commit, copy, jobs, audit.
//! * [`static_files`] — the app's bundle: precompressed files, cache rules, CSP and the other
//!   security headers.
//!
//! Every handler authenticates inside its first database transaction and never holds one
//! across blob I/O.

pub mod accounts;
pub mod encounters;
pub mod openapi;
pub mod static_files;
pub mod uploads;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use finsync_core::api::{self, KeyStatus, PopulationRef, SetKeyStatus, StatusResponse};
use rusqlite::params;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{self, KeyCheck};
use crate::error::{AppError, AuthFailure};
use crate::{db, faults, ratelimit, AppState};

/// Largest JSON request body.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let origins: Vec<HeaderValue> = state
        .config
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
        ])
        .expose_headers([axum::http::header::RETRY_AFTER]);
    let mut api = Router::new();
    for (path, handler) in api_routes(state.config.test_mode) {
        api = api.route(path, handler);
    }
    api = api
        .fallback(api_not_found)
        .layer(from_fn_with_state(state.clone(), ratelimit::limit));
    if state.config.test_mode {
        api = api.layer(from_fn_with_state(state.clone(), faults::inject));
    }
    // The body limit sits inside CORS, so a 413 carries the CORS headers and the app can
    // read it (outside, the browser would see a bare network error).
    let api = api
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(cors);
    let mut app = Router::new().merge(api);
    for (path, handler) in page_routes(state.config.demo) {
        app = app.route(path, handler);
    }
    if let Some(dir) = &state.config.static_dir {
        let bundle = std::sync::Arc::new(static_files::StaticBundle::new(dir, &state.config));
        app = app.fallback(move |req: Request| bundle.clone().serve(req));
    }
    app.with_state(state)
}

/// The API routes (`/api/v1/...`), with the test-mode ones when `test_mode`. [`router`] adds
/// exactly these, so a test can enumerate every route (see `tests/security.rs`).
fn api_routes(test_mode: bool) -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut routes: Vec<(&'static str, MethodRouter<AppState>)> = vec![
        ("/api/v1/status", get(status)),
        ("/api/v1/auth/sign-in", post(accounts::sign_in)),
        ("/api/v1/auth/sign-out", post(accounts::sign_out)),
        ("/api/v1/auth/me", get(accounts::me)),
        ("/api/v1/keys/provision", post(accounts::provision)),
        ("/api/v1/keys", get(accounts::list_keys)),
        ("/api/v1/keys/{id}/revoke", post(accounts::revoke_key)),
        (
            "/api/v1/users",
            get(accounts::search_users).post(accounts::create_user),
        ),
        ("/api/v1/populations", get(accounts::populations)),
        (
            "/api/v1/encounters/find-or-create",
            post(encounters::find_or_create),
        ),
        ("/api/v1/encounters/{id}", get(encounters::encounter_json)),
        (
            "/api/v1/individuals/ensure",
            post(encounters::ensure_individuals),
        ),
        ("/api/v1/upload-sessions", post(uploads::create_sessions)),
        ("/api/v1/upload-sessions/commit", post(uploads::commit)),
        ("/api/v1/upload-sessions/copy", post(uploads::copy)),
        ("/api/v1/jobs", get(uploads::jobs)),
        ("/api/v1/audit", get(uploads::audit)),
    ];
    if test_mode {
        routes.push((
            "/api/v1/test/faults",
            get(faults::get_faults).post(faults::set_faults),
        ));
        routes.push(("/api/v1/test/key-status", post(set_key_status)));
    }
    routes
}

/// The routes outside the API: the public encounter pages and, with `demo`, the demo config.
fn page_routes(demo: bool) -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut routes: Vec<(&'static str, MethodRouter<AppState>)> = vec![
        ("/encounters/{id}", get(encounters::encounter_page)),
        (
            "/encounters/{id}/images/{file_item_id}/{variant}",
            get(encounters::variant_image),
        ),
    ];
    if demo {
        routes.push(("/demo-config.json", get(demo_config)));
    }
    routes
}

/// Every route path the router serves for this configuration (API routes first), besides the
/// static bundle's fallback. The methods of each are what a `405` answer's `Allow` lists.
pub fn route_paths(test_mode: bool, demo: bool) -> Vec<&'static str> {
    api_routes(test_mode)
        .into_iter()
        .chain(page_routes(demo))
        .map(|(path, _)| path)
        .collect()
}

/// `Json<T>` whose rejections are [`AppError`]s with a JSON body naming the problem.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            // A body sent without a length runs into the limit while being read.
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::TooLarge(MAX_BODY_BYTES))
            }
            Err(rejection) => Err(AppError::bad("invalidJson", rejection.body_text())),
        }
    }
}

/// `Path<T>` whose rejections are `400 invalidPath` (e.g. a non-numeric id).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => Err(AppError::bad("invalidPath", rejection.body_text())),
        }
    }
}

/// `Query<T>` whose rejections are `400 invalidQuery`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(AppError::bad("invalidQuery", rejection.body_text())),
        }
    }
}

async fn api_not_found() -> AppError {
    AppError::NotFound("this API route".into())
}

/// The bearer credential of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    auth::bearer(headers)
}

fn status_of(check: KeyCheck) -> StatusResponse {
    let (key_status, population) = match check {
        KeyCheck::Missing => (KeyStatus::NotProvisioned, None),
        KeyCheck::Invalid => (KeyStatus::Invalid, None),
        KeyCheck::Denied(k) => (KeyStatus::AccessDenied, Some(k.population)),
        KeyCheck::Ready(k) => (KeyStatus::Ready, Some(k.population)),
    };
    StatusResponse {
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: api::API_VERSION,
        key_status,
        population: population.map(|p| PopulationRef {
            id: p.id,
            name: p.name,
            organisation: p.organisation,
        }),
    }
}

async fn status(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let key = auth::bearer(&headers);
    let check = s.db.tx(move |tx| auth::check(tx, key.as_deref())).await?;
    let body = status_of(check);
    let invalid = body.key_status == KeyStatus::Invalid;
    let mut resp = Json(body).into_response();
    if invalid {
        // A wrong key is a failed attempt even here, or status would be a free oracle.
        resp.extensions_mut().insert(AuthFailure);
    }
    Ok(resp)
}

/// `POST /api/v1/test/key-status` (test mode only): puts the presented key into a status.
async fn set_key_status(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SetKeyStatus>,
) -> Result<Json<StatusResponse>, AppError> {
    let key = auth::bearer(&headers).ok_or(AppError::InvalidKey)?;
    let (revoked, denied) = match req.status {
        KeyStatus::Ready => (false, false),
        KeyStatus::Invalid => (true, false),
        KeyStatus::AccessDenied => (false, true),
        KeyStatus::NotProvisioned | KeyStatus::Provisioning => {
            return Err(AppError::bad(
                "invalidStatus",
                "the server can set ready, invalid or accessDenied; notProvisioned and provisioning are client states",
            ))
        }
    };
    let k = key.clone();
    s.db.tx(move |tx| {
        let row = auth::find_key(tx, &k)?.ok_or(AppError::InvalidKey)?;
        tx.execute(
            "UPDATE api_keys SET revoked_at = ?2, denied = ?3 WHERE id = ?1",
            params![row.id, revoked.then(crate::now_unix), denied],
        )?;
        db::audit_in(
            tx,
            Some(row.population_id),
            "test-mode",
            "key.testStatus",
            &format!("key {} set to {:?}", row.id, req.status),
        )
    })
    .await?;
    let check = s.db.tx(move |tx| auth::check(tx, Some(&key))).await?;
    Ok(Json(status_of(check)))
}

async fn demo_config(State(s): State<AppState>) -> Result<Json<api::DemoConfig>, AppError> {
    let db_path = s.config.database.clone();
    let db = s.db.clone();
    let cost = auth::PasswordCost::from_config(&s.config);
    let (api_key, user) = tokio::task::spawn_blocking(move || {
        let (key, _) = crate::demo::ensure(&db, &db_path)?;
        let user = crate::demo::ensure_user(&db, &db_path, cost)?;
        Ok::<_, AppError>((key, user))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(Json(api::DemoConfig {
        server_url: s.config.public_url.clone(),
        api_key,
        email: Some(user.email),
        password: Some(user.password),
    }))
}
