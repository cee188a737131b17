//! Upload sessions (upserts), commit, server-side copy, jobs and the audit log.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use finsync_core::api::{
    self, AuditEntry, AuditPage, CommitResults, CommitSessions, CopyBlobs, CopyResults,
    CreateUploadSessionsFull, Job, JobList, SessionStatus, UploadSession, UploadSessions,
};
use finsync_core::fingerprint::is_valid_key;
use rusqlite::{params, OptionalExtension};

use super::{ApiJson, ApiQuery};
use crate::auth;
use crate::db;
use crate::error::AppError;
use crate::ingest;
use crate::AppState;

/// Commits or copies of one request in flight at once.
const ITEM_CONCURRENCY: usize = 4;

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

/// Canonical base64 of a 16-byte MD5, or `None` if `s` is not one.
fn parse_md5(s: &str) -> Option<String> {
    let bytes = B64.decode(s.trim()).ok()?;
    (bytes.len() == 16).then(|| B64.encode(bytes))
}

/// Upload SAS lifetime: 10 minutes plus 10 s per MB (the seed's 60 s + 10 s/MB is the floor).
fn sas_lifetime_secs(size: u64) -> i64 {
    600 + 10 * (size / 1_000_000) as i64
}

fn check_keys<'a>(keys: impl Iterator<Item = &'a String>) -> Result<(), AppError> {
    for (i, k) in keys.enumerate() {
        if !is_valid_key(k) {
            return Err(AppError::bad(
                "invalidKey",
                format!("item {i}: idempotencyKey is not a v1 key"),
            ));
        }
    }
    Ok(())
}

/// `POST /api/v1/upload-sessions`.
pub async fn create_sessions(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(mut req): ApiJson<CreateUploadSessionsFull>,
) -> Result<Json<UploadSessions>, AppError> {
    let _uploading = s.variants.uploads_active();
    if req.items.is_empty() || req.items.len() > api::MAX_BATCH {
        return Err(AppError::bad(
            "invalidBatch",
            format!("a batch holds 1–{} items", api::MAX_BATCH),
        ));
    }
    check_keys(req.items.iter().map(|i| &i.idempotency_key))?;
    for (i, item) in req.items.iter_mut().enumerate() {
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
        if let Some(m) = &item.content_md5 {
            item.content_md5 = Some(parse_md5(m).ok_or_else(|| {
                AppError::bad(
                    "invalidMd5",
                    format!(
                        "item {i} ({}): contentMd5 is not the base64 of 16 bytes",
                        item.file_name
                    ),
                )
            })?);
        }
    }
    let key = auth::bearer(&headers);
    let rows = s
        .db
        .tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            let pop = &k.population;
            let owner: Option<i64> = tx
                .query_row(
                    "SELECT population_id FROM encounters WHERE id = ?1",
                    params![req.encounter_id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner != Some(pop.id) {
                return Err(AppError::NotInPopulation(format!(
                    "encounter {}",
                    req.encounter_id
                )));
            }
            let now = crate::now_unix();
            let mut out = Vec::with_capacity(req.items.len());
            let mut created = 0usize;
            let mut reissued = Vec::new();
            for item in &req.items {
                let existing: Option<(i64, i64, String, String, i64)> = tx
                    .query_row(
                        "SELECT id, size, status, blob_name, encounter_id FROM upload_sessions
                         WHERE population_id = ?1 AND idempotency_key = ?2",
                        params![pop.id, item.idempotency_key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()?;
                let row = match existing {
                    Some((id, size, status, blob, _)) => {
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
                                "UPDATE upload_sessions SET status = 'pending', error = NULL, updated_at = ?2,
                                 content_md5 = COALESCE(?3, content_md5) WHERE id = ?1",
                                params![id, now, item.content_md5],
                            )?;
                            reissued.push((id, blob.clone()));
                            (item.idempotency_key.clone(), id, SessionStatus::Pending, Some((blob, item.size)))
                        }
                    }
                    None => {
                        let blob = ingest::final_blob_name(
                            req.encounter_id,
                            &item.idempotency_key,
                            &item.file_name,
                        );
                        tx.execute(
                            "INSERT INTO upload_sessions (population_id, encounter_id, idempotency_key, file_name,
                             size, content_type, blob_name, status, created_at, updated_at, content_md5)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?9)",
                            params![
                                pop.id,
                                req.encounter_id,
                                item.idempotency_key,
                                item.file_name,
                                item.size as i64,
                                item.content_type,
                                blob,
                                now,
                                item.content_md5
                            ],
                        )?;
                        created += 1;
                        (item.idempotency_key.clone(), tx.last_insert_rowid(), SessionStatus::Pending, Some((blob, item.size)))
                    }
                };
                out.push(row);
            }
            db::audit_in(
                tx,
                Some(pop.id),
                &k.actor(),
                "sessions.upsert",
                &format!(
                    "{} sessions ({created} new) for encounter {}",
                    out.len(),
                    req.encounter_id
                ),
            )?;
            Ok((out, reissued))
        })
        .await?;
    let (rows, reissued) = rows;
    // An uncommitted session asked for again may have a lease on its blob (a refused commit
    // whose release failed, an interrupted commit): break it, or the new URL's PUT would be
    // refused with 412 LeaseIdMissing. Only for sessions that existed: a new one has no blob.
    if !reissued.is_empty() {
        let state = s.clone();
        ingest::bounded(reissued, ITEM_CONCURRENCY, move |(id, blob)| {
            let state = state.clone();
            async move {
                ingest::free_for_upload(state, id, blob).await;
                Ok(())
            }
        })
        .await?;
    }
    let now = crate::now_unix();
    let sessions = rows
        .into_iter()
        .map(|(key, id, status, upload)| {
            let (upload_url, expires_at) = match upload {
                Some((blob, size)) => {
                    let expiry = now + sas_lifetime_secs(size);
                    (
                        Some(s.blob.upload_url(&blob, expiry)),
                        Some(db::iso(expiry)),
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

/// `POST /api/v1/upload-sessions/commit`.
pub async fn commit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CommitSessions>,
) -> Result<Json<CommitResults>, AppError> {
    let _uploading = s.variants.uploads_active();
    if req.idempotency_keys.is_empty() || req.idempotency_keys.len() > api::MAX_BATCH {
        return Err(AppError::bad(
            "invalidBatch",
            format!("a batch holds 1–{} keys", api::MAX_BATCH),
        ));
    }
    check_keys(req.idempotency_keys.iter())?;
    let key = auth::bearer(&headers);
    let k =
        s.db.tx(move |tx| auth::require_key(tx, key.as_deref()))
            .await?;
    let (pop, actor) = (k.population.id, k.actor());
    let state = s.clone();
    let results = ingest::bounded(req.idempotency_keys, ITEM_CONCURRENCY, move |key| {
        ingest::commit_one(state.clone(), pop, actor.clone(), key)
    })
    .await?;
    Ok(Json(CommitResults { results }))
}

/// `POST /api/v1/upload-sessions/copy`.
pub async fn copy(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CopyBlobs>,
) -> Result<Json<CopyResults>, AppError> {
    let _uploading = s.variants.uploads_active();
    if req.items.is_empty() || req.items.len() > api::MAX_BATCH {
        return Err(AppError::bad(
            "invalidBatch",
            format!("a batch holds 1–{} items", api::MAX_BATCH),
        ));
    }
    check_keys(req.items.iter().map(|i| &i.idempotency_key))?;
    for (i, item) in req.items.iter().enumerate() {
        let ok = item.source_url.len() <= 8192
            && reqwest::Url::parse(&item.source_url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.path().len() > 1
            });
        if !ok {
            return Err(AppError::bad(
                "invalidSourceUrl",
                format!("item {i}: sourceUrl must be an http(s) URL of a blob (with its read SAS)"),
            ));
        }
    }
    let key = auth::bearer(&headers);
    let k =
        s.db.tx(move |tx| auth::require_key(tx, key.as_deref()))
            .await?;
    let (pop, actor) = (k.population.id, k.actor());
    let state = s.clone();
    let items: Vec<(String, String)> = req
        .items
        .into_iter()
        .map(|i| (i.idempotency_key, i.source_url))
        .collect();
    let results = ingest::bounded(items, ITEM_CONCURRENCY, move |(key, url)| {
        ingest::copy_one(state.clone(), pop, actor.clone(), key, url)
    })
    .await?;
    Ok(Json(CopyResults { results }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobsQuery {
    encounter_id: i64,
}

/// `GET /api/v1/jobs?encounterId=`.
pub async fn jobs(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> Result<Json<JobList>, AppError> {
    let key = auth::bearer(&headers);
    let jobs =
        s.db.tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            let owner: Option<i64> = tx
                .query_row(
                    "SELECT population_id FROM encounters WHERE id = ?1",
                    params![q.encounter_id],
                    |r| r.get(0),
                )
                .optional()?;
            if owner != Some(k.population.id) {
                return Err(AppError::NotInPopulation(format!(
                    "encounter {}",
                    q.encounter_id
                )));
            }
            let mut stmt = tx.prepare(
                "SELECT id, encounter_id, file_item_id, kind, state, created_at, updated_at
                 FROM jobs WHERE encounter_id = ?1 ORDER BY id",
            )?;
            let jobs = stmt
                .query_map(params![q.encounter_id], |r| {
                    Ok(Job {
                        id: r.get(0)?,
                        encounter_id: r.get(1)?,
                        file_item_id: r.get(2)?,
                        kind: r.get(3)?,
                        state: r.get(4)?,
                        created_at: db::iso(r.get(5)?),
                        updated_at: db::iso(r.get(6)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(jobs)
        })
        .await?;
    Ok(Json(JobList { jobs }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u32>,
    before: Option<i64>,
}

/// `GET /api/v1/audit?limit=&before=`: the key's population, newest first.
pub async fn audit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::bad("invalidQuery", "limit must be 1–200"));
    }
    let key = auth::bearer(&headers);
    let page =
        s.db.tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            let mut stmt = tx.prepare(
                "SELECT id, at, actor, action, detail FROM audit_log
                 WHERE population_id = ?1 AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3",
            )?;
            let entries = stmt
                .query_map(params![k.population.id, q.before, limit + 1], |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: db::iso(r.get(1)?),
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        detail: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(entries)
        })
        .await?;
    let mut entries = page;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_before = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}

#[cfg(test)]
mod tests {
    use super::sas_lifetime_secs;

    #[test]
    fn upload_sas_lifetime_grows_10_s_per_mb_from_10_minutes() {
        assert_eq!(sas_lifetime_secs(0), 600);
        assert_eq!(sas_lifetime_secs(999_999), 600, "whole MB only");
        assert_eq!(sas_lifetime_secs(100_000_000), 600 + 1_000);
        // The largest image (5 GiB = 5,368 MB): about 15 hours, enough for a block upload at
        // 1 Mbit/s (~12 h) without renewing the URL.
        let max = finsync_core::api::MAX_IMAGE_BYTES;
        assert_eq!(sas_lifetime_secs(max), 600 + 53_680);
        // Never shorter than the seed's floor of 60 s + 10 s/MB.
        for size in [0, 1, 1_000_000, 100_000_000, 1_000_000_000, max] {
            assert!(sas_lifetime_secs(size) >= 60 + 10 * (size / 1_000_000) as i64);
        }
    }
}
