//! The HTTP API (`/api/v1/...`, documented in `docs/api.md`), the encounter pages, the demo
//! config and the app's static bundle.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use finsync_core::api::{
    self, CommitResult, CommitResults, CommitSessions, CreateUploadSessions, EncounterRef,
    FindOrCreateEncounter, KeyStatus, PopulationRef, SessionStatus, StatusResponse, UploadSession,
    UploadSessions,
};
use finsync_core::fingerprint::is_valid_key;
use finsync_core::normalize::{distance_km, normalize_text};
use rusqlite::{params, OptionalExtension};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{self, KeyCheck};
use crate::db;
use crate::error::AppError;
use crate::AppState;

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
        ]);
    let api = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/encounters/find-or-create", post(find_or_create))
        .route("/api/v1/encounters/{id}", get(encounter_json))
        .route("/api/v1/upload-sessions", post(create_sessions))
        .route("/api/v1/upload-sessions/commit", post(commit))
        .fallback(api_not_found)
        .layer(cors)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ));
    let mut app = Router::new()
        .merge(api)
        .route("/encounters/{id}", get(encounter_page));
    if state.config.demo {
        app = app.route("/demo-config.json", get(demo_config));
    }
    if let Some(dir) = &state.config.static_dir {
        let index = dir.join("index.html");
        app = app.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(index)),
        );
    }
    app.with_state(state)
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
            Err(rejection) => Err(AppError::bad("invalidJson", rejection.body_text())),
        }
    }
}

async fn api_not_found() -> AppError {
    AppError::NotFound("this API route".into())
}

async fn status(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<StatusResponse>, AppError> {
    let key = auth::bearer(&headers);
    let check = s.db.tx(move |tx| auth::check(tx, key.as_deref())).await?;
    let (key_status, population) = match check {
        KeyCheck::Missing => (KeyStatus::NotProvisioned, None),
        KeyCheck::Invalid => (KeyStatus::Invalid, None),
        KeyCheck::Denied(p) => (KeyStatus::AccessDenied, Some(p)),
        KeyCheck::Ready(p) => (KeyStatus::Ready, Some(p)),
    };
    Ok(Json(StatusResponse {
        server_version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: api::API_VERSION,
        key_status,
        population: population.map(|p| PopulationRef {
            id: p.id,
            name: p.name,
            organisation: p.organisation,
        }),
    }))
}

fn validate_encounter(req: &FindOrCreateEncounter) -> Result<(), AppError> {
    let date_ok = req.date.len() == 10
        && req.date.as_bytes().iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !date_ok {
        return Err(AppError::bad(
            "invalidDate",
            format!("date {:?} is not YYYY-MM-DD", req.date),
        ));
    }
    if normalize_text(&req.location_name).is_empty() || req.location_name.len() > 200 {
        return Err(AppError::bad(
            "invalidLocation",
            "locationName must be 1–200 characters",
        ));
    }
    if normalize_text(&req.photographer).is_empty() || req.photographer.len() > 200 {
        return Err(AppError::bad(
            "invalidPhotographer",
            "photographer must be 1–200 characters",
        ));
    }
    if let Some(g) = req.gps {
        if !(-90.0..=90.0).contains(&g.lat) || !(-180.0..=180.0).contains(&g.lon) {
            return Err(AppError::bad(
                "invalidGps",
                format!("GPS {},{} is out of range", g.lat, g.lon),
            ));
        }
    }
    Ok(())
}

async fn find_or_create(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<FindOrCreateEncounter>,
) -> Result<Json<EncounterRef>, AppError> {
    validate_encounter(&req)?;
    let key = auth::bearer(&headers);
    let (id, created) = s
        .db
        .tx(move |tx| {
            let pop = auth::require(tx, key.as_deref())?;
            let loc = normalize_text(&req.location_name);
            let who = normalize_text(&req.photographer);
            // Spec decision 6: same population, day and photographer; location equal by
            // name or GPS within 1 km; several matches → the oldest.
            let mut stmt = tx.prepare(
                "SELECT id, location_norm, lat, lon FROM encounters
                 WHERE population_id = ?1 AND date = ?2 AND photographer_norm = ?3 ORDER BY id",
            )?;
            let candidates: Vec<(i64, String, Option<f64>, Option<f64>)> = stmt
                .query_map(params![pop.id, req.date, who], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<_, _>>()?;
            let matches: Vec<i64> = candidates
                .into_iter()
                .filter(|(_, l, lat, lon)| {
                    *l == loc
                        || match (req.gps, lat, lon) {
                            (Some(g), Some(a), Some(b)) => distance_km(g.lat, g.lon, *a, *b) <= 1.0,
                            _ => false,
                        }
                })
                .map(|(id, ..)| id)
                .collect();
            if let Some(&first) = matches.first() {
                if matches.len() > 1 {
                    db::audit(tx, "sync", "encounter.match.several", &format!("matched {matches:?}; using {first}"))?;
                }
                return Ok((first, false));
            }
            tx.execute(
                "INSERT INTO encounters (population_id, date, time, location_name, location_norm, lat, lon,
                 photographer, photographer_norm, notes, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    pop.id,
                    req.date,
                    req.time,
                    req.location_name.trim(),
                    loc,
                    req.gps.map(|g| g.lat),
                    req.gps.map(|g| g.lon),
                    req.photographer.trim(),
                    who,
                    req.notes,
                    crate::now_unix()
                ],
            )?;
            let id = tx.last_insert_rowid();
            db::audit(tx, "sync", "encounter.create", &format!("encounter {id} in population {}", pop.id))?;
            Ok((id, true))
        })
        .await?;
    Ok(Json(EncounterRef {
        id,
        created,
        url: format!("/encounters/{id}"),
    }))
}

fn validate_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > api::MAX_FILE_NAME_BYTES {
        return Err(format!(
            "file name must be 1–{} bytes long",
            api::MAX_FILE_NAME_BYTES
        ));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "file name {name:?} contains a path separator or control character"
        ));
    }
    Ok(())
}

/// Upload SAS lifetime: 10 minutes plus 10 s per MB (the seed's 60 s + 10 s/MB is the floor).
fn sas_lifetime_secs(size: u64) -> i64 {
    600 + 10 * (size / 1_000_000) as i64
}

async fn create_sessions(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateUploadSessions>,
) -> Result<Json<UploadSessions>, AppError> {
    if req.items.is_empty() || req.items.len() > api::MAX_BATCH {
        return Err(AppError::bad(
            "invalidBatch",
            format!("a batch holds 1–{} items", api::MAX_BATCH),
        ));
    }
    for (i, item) in req.items.iter().enumerate() {
        if !is_valid_key(&item.idempotency_key) {
            return Err(AppError::bad(
                "invalidKey",
                format!("item {i}: idempotencyKey is not a v1 key"),
            ));
        }
        validate_file_name(&item.file_name)
            .map_err(|m| AppError::bad("invalidFileName", format!("item {i}: {m}")))?;
        if item.size == 0 || item.size > api::MAX_IMAGE_BYTES {
            return Err(AppError::bad(
                "invalidSize",
                format!(
                    "item {i} ({}): size must be 1 byte to 5 GiB",
                    item.file_name
                ),
            ));
        }
    }
    let key = auth::bearer(&headers);
    let rows = s
        .db
        .tx(move |tx| {
            let pop = auth::require(tx, key.as_deref())?;
            let owner: Option<i64> = tx
                .query_row(
                    "SELECT population_id FROM encounters WHERE id = ?1",
                    params![req.encounter_id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner != Some(pop.id) {
                return Err(AppError::NotFound(format!("encounter {}", req.encounter_id)));
            }
            let now = crate::now_unix();
            let mut out = Vec::with_capacity(req.items.len());
            for item in &req.items {
                let existing: Option<(i64, i64, String, String)> = tx
                    .query_row(
                        "SELECT id, size, status, blob_name FROM upload_sessions
                         WHERE population_id = ?1 AND idempotency_key = ?2",
                        params![pop.id, item.idempotency_key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                let row = match existing {
                    Some((id, size, status, blob)) => {
                        if size as u64 != item.size {
                            return Err(AppError::Conflict(format!(
                                "session {} was created for {size} bytes, not {}",
                                item.idempotency_key, item.size
                            )));
                        }
                        if status == "complete" {
                            (item.idempotency_key.clone(), id, SessionStatus::Complete, None)
                        } else {
                            // Sessions are upserts (spec decision 8): any earlier state resumes.
                            tx.execute(
                                "UPDATE upload_sessions SET status = 'pending', error = NULL, updated_at = ?2 WHERE id = ?1",
                                params![id, now],
                            )?;
                            (item.idempotency_key.clone(), id, SessionStatus::Pending, Some((blob, item.size)))
                        }
                    }
                    None => {
                        let blob = format!(
                            "encounters/{}/{}/{}",
                            req.encounter_id, item.idempotency_key, item.file_name
                        );
                        tx.execute(
                            "INSERT INTO upload_sessions (population_id, encounter_id, idempotency_key, file_name,
                             size, content_type, blob_name, status, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8)",
                            params![
                                pop.id,
                                req.encounter_id,
                                item.idempotency_key,
                                item.file_name,
                                item.size as i64,
                                item.content_type,
                                blob,
                                now
                            ],
                        )?;
                        (item.idempotency_key.clone(), tx.last_insert_rowid(), SessionStatus::Pending, Some((blob, item.size)))
                    }
                };
                out.push(row);
            }
            db::audit(tx, "sync", "sessions.create", &format!("{} sessions for encounter {}", out.len(), req.encounter_id))?;
            Ok(out)
        })
        .await?;
    let now = crate::now_unix();
    let sessions = rows
        .into_iter()
        .map(|(key, id, status, upload)| {
            let (upload_url, expires_at) = match upload {
                Some((blob, size)) => {
                    let expiry = now + sas_lifetime_secs(size);
                    (
                        Some(s.blob.upload_url(&blob, expiry)),
                        Some(finsync_core::sas::iso8601_utc(expiry)),
                    )
                }
                None => (None, None),
            };
            UploadSession {
                idempotency_key: key,
                session_id: id,
                status,
                upload_url,
                expires_at,
            }
        })
        .collect();
    Ok(Json(UploadSessions { sessions }))
}

struct SessionRow {
    key: String,
    id: Option<i64>,
    encounter_id: i64,
    size: u64,
    status: String,
    blob: String,
    file_name: String,
}

async fn commit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CommitSessions>,
) -> Result<Json<CommitResults>, AppError> {
    if req.idempotency_keys.is_empty() || req.idempotency_keys.len() > api::MAX_BATCH {
        return Err(AppError::bad(
            "invalidBatch",
            format!("a batch holds 1–{} keys", api::MAX_BATCH),
        ));
    }
    let key = auth::bearer(&headers);
    let keys = req.idempotency_keys.clone();
    let (pop_id, rows) = s
        .db
        .tx(move |tx| {
            let pop = auth::require(tx, key.as_deref())?;
            let mut rows = Vec::with_capacity(keys.len());
            for k in keys {
                let row = tx
                    .query_row(
                        "SELECT id, encounter_id, size, status, blob_name, file_name FROM upload_sessions
                         WHERE population_id = ?1 AND idempotency_key = ?2",
                        params![pop.id, k],
                        |r| {
                            Ok(SessionRow {
                                key: k.clone(),
                                id: Some(r.get(0)?),
                                encounter_id: r.get(1)?,
                                size: r.get::<_, i64>(2)? as u64,
                                status: r.get(3)?,
                                blob: r.get(4)?,
                                file_name: r.get(5)?,
                            })
                        },
                    )
                    .optional()?;
                rows.push(row.unwrap_or(SessionRow {
                    key: k,
                    id: None,
                    encounter_id: 0,
                    size: 0,
                    status: String::new(),
                    blob: String::new(),
                    file_name: String::new(),
                }));
            }
            Ok((pop.id, rows))
        })
        .await?;

    // Verify blobs outside the database lock.
    let mut checked = Vec::with_capacity(rows.len());
    for row in rows {
        let verdict = if row.id.is_none() {
            Err((
                "unknownSession",
                "no upload session has this key; create one first".to_string(),
            ))
        } else if row.status == "complete" {
            Ok(())
        } else {
            match s.blob.blob_size(&row.blob).await? {
                None => Err((
                    "blobMissing",
                    format!("{}: the blob was never uploaded", row.file_name),
                )),
                Some(n) if n != row.size => Err((
                    "sizeMismatch",
                    format!(
                        "{}: uploaded {n} bytes, expected {}",
                        row.file_name, row.size
                    ),
                )),
                Some(_) => Ok(()),
            }
        };
        checked.push((row, verdict));
    }

    let results = s
        .db
        .tx(move |tx| {
            let now = crate::now_unix();
            let mut results = Vec::with_capacity(checked.len());
            let mut committed = 0usize;
            for (row, verdict) in checked {
                let Some(session_id) = row.id else {
                    let (code, message) = verdict.err().unwrap_or(("unknownSession", String::new()));
                    results.push(error_result(row.key, code, message));
                    continue;
                };
                match verdict {
                    Ok(()) => {
                        // UNIQUE(session_id) makes a second commit a no-op.
                        tx.execute(
                            "INSERT OR IGNORE INTO file_items (session_id, encounter_id, blob_name, file_name, size, created_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![session_id, row.encounter_id, row.blob, row.file_name, row.size as i64, now],
                        )?;
                        tx.execute(
                            "UPDATE upload_sessions SET status = 'complete', error = NULL, updated_at = ?2 WHERE id = ?1",
                            params![session_id, now],
                        )?;
                        let item: i64 = tx.query_row(
                            "SELECT id FROM file_items WHERE session_id = ?1",
                            params![session_id],
                            |r| r.get(0),
                        )?;
                        committed += 1;
                        results.push(CommitResult {
                            idempotency_key: row.key,
                            status: SessionStatus::Complete,
                            file_item_id: Some(item),
                            error: None,
                        });
                    }
                    Err((code, message)) => {
                        tx.execute(
                            "UPDATE upload_sessions SET status = 'error', error = ?2, updated_at = ?3 WHERE id = ?1",
                            params![session_id, message, now],
                        )?;
                        results.push(error_result(row.key, code, message));
                    }
                }
            }
            db::audit(tx, "sync", "sessions.commit", &format!("{committed} committed in population {pop_id}"))?;
            Ok(results)
        })
        .await?;
    Ok(Json(CommitResults { results }))
}

fn error_result(key: String, code: &str, message: String) -> CommitResult {
    CommitResult {
        idempotency_key: key,
        status: SessionStatus::Error,
        file_item_id: None,
        error: Some(api::ApiError {
            code: code.to_string(),
            message,
        }),
    }
}

/// An encounter with its committed images.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterDetail {
    pub id: i64,
    pub date: String,
    pub location_name: String,
    pub photographer: String,
    pub images: Vec<ImageDetail>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetail {
    pub file_item_id: i64,
    pub file_name: String,
    pub size: u64,
    pub blob_name: String,
}

fn load_encounter(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    population: Option<i64>,
) -> Result<EncounterDetail, AppError> {
    let row: Option<(i64, String, String, String)> = tx
        .query_row(
            "SELECT population_id, date, location_name, photographer FROM encounters WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((pop, date, location_name, photographer)) = row else {
        return Err(AppError::NotFound(format!("encounter {id}")));
    };
    if population.is_some_and(|p| p != pop) {
        return Err(AppError::NotFound(format!("encounter {id}")));
    }
    let mut stmt = tx.prepare(
        "SELECT id, file_name, size, blob_name FROM file_items WHERE encounter_id = ?1 ORDER BY id",
    )?;
    let images = stmt
        .query_map(params![id], |r| {
            Ok(ImageDetail {
                file_item_id: r.get(0)?,
                file_name: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                blob_name: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(EncounterDetail {
        id,
        date,
        location_name,
        photographer,
        images,
    })
}

async fn encounter_json(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<EncounterDetail>, AppError> {
    let key = auth::bearer(&headers);
    let detail =
        s.db.tx(move |tx| {
            let pop = auth::require(tx, key.as_deref())?;
            load_encounter(tx, id, Some(pop.id))
        })
        .await?;
    Ok(Json(detail))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The stable page of an encounter that the app links to.
async fn encounter_page(State(s): State<AppState>, Path(id): Path<i64>) -> Response {
    match s.db.tx(move |tx| load_encounter(tx, id, None)).await {
        Ok(e) => {
            let rows: String = e
                .images
                .iter()
                .map(|i| format!("<li>{} ({} bytes)</li>", html_escape(&i.file_name), i.size))
                .collect();
            Html(format!(
                "<!doctype html><meta charset=utf-8><title>Encounter {id}</title>\
                 <h1>Encounter {id}</h1><p>{} · {} · {}</p><h2>{} images</h2><ul>{rows}</ul>",
                html_escape(&e.date),
                html_escape(&e.location_name),
                html_escape(&e.photographer),
                e.images.len()
            ))
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn demo_config(State(s): State<AppState>) -> Result<Json<api::DemoConfig>, AppError> {
    let db_path = s.config.database.clone();
    let db = s.db.clone();
    let (api_key, _) = tokio::task::spawn_blocking(move || crate::demo::ensure(&db, &db_path))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(Json(api::DemoConfig {
        server_url: s.config.public_url.clone(),
        api_key,
    }))
}
