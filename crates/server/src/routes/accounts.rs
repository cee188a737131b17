//! Sign-in sessions, API-key provisioning and revocation, users (search and create-on-sync)
//! and the populations a caller can see.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use finsync_core::api::{
    CreateUser, CreatedUser, KeyInfo, KeyList, KeyStatus, PopulationList, PopulationRef,
    PopulationSummary, ProvisionKey, ProvisionedKey, SessionInfo, SignIn, UserList,
};
use rusqlite::{params, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use super::{ApiJson, ApiPath, ApiQuery};
use crate::accounts::{self, clean_name, normalize_email};
use crate::auth::{self, PasswordCost, Session};
use crate::db;
use crate::error::{excerpt, AppError};
use crate::AppState;

fn session_info(
    tx: &Transaction<'_>,
    session: &Session,
    token: Option<String>,
) -> Result<SessionInfo, AppError> {
    let user = accounts::user(tx, session.user_id)?.ok_or(AppError::InvalidSession)?;
    let (organisations, populations) = accounts::memberships(tx, session.user_id)?;
    Ok(SessionInfo {
        token,
        expires_at: db::iso(session.expires_at),
        user,
        organisations,
        populations,
    })
}

/// A hash to verify against when the email is unknown, so both cases take as long.
fn dummy_hash(cost: PasswordCost) -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| auth::hash_password("finsync-timing-equaliser", cost).ok())
        .as_deref()
}

/// `POST /api/v1/auth/sign-in`.
pub async fn sign_in(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<SignIn>,
) -> Result<Json<SessionInfo>, AppError> {
    let email = normalize_email(&req.email);
    let e = email.clone();
    let stored: Option<(i64, Option<String>)> =
        s.db.tx(move |tx| {
            let Some(email) = e else { return Ok(None) };
            match accounts::user_by_email(tx, &email)? {
                Some(u) => Ok(Some((u.id, accounts::password_hash(tx, u.id)?))),
                None => Ok(None),
            }
        })
        .await?;
    let cost = PasswordCost::from_config(&s.config);
    let password = req.password;
    let user_id = tokio::task::spawn_blocking(move || match stored {
        Some((id, Some(phc))) => auth::verify_password(&password, &phc).then_some(id),
        _ => {
            if let Some(d) = dummy_hash(cost) {
                let _ = auth::verify_password(&password, d);
            }
            None
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("password check failed: {e}")))?;
    let ttl = s.config.session_ttl_secs;
    let result =
        s.db.tx(move |tx| {
            let Some(user_id) = user_id else {
                // No email in the log: people type passwords into the wrong field.
                db::audit(
                    tx,
                    "anonymous",
                    "auth.signIn.failed",
                    "wrong email or password",
                )?;
                return Ok(None);
            };
            let (token, expires_at) = auth::create_session(tx, user_id, ttl)?;
            let session = Session {
                id: 0,
                user_id,
                expires_at,
            };
            db::audit(tx, &session.actor(), "auth.signIn", "session created")?;
            Ok(Some(session_info(tx, &session, Some(token))?))
        })
        .await?;
    result.map(Json).ok_or(AppError::InvalidCredentials)
}

/// `POST /api/v1/auth/sign-out`: ends the presented session.
pub async fn sign_out(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let token = auth::bearer(&headers);
    s.db.tx(move |tx| {
        let session = auth::require_session(tx, token.as_deref())?;
        auth::end_session(tx, &session)?;
        db::audit(tx, &session.actor(), "auth.signOut", "session ended")
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/auth/me`.
pub async fn me(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, AppError> {
    let token = auth::bearer(&headers);
    let info =
        s.db.tx(move |tx| {
            let session = auth::require_session(tx, token.as_deref())?;
            session_info(tx, &session, None)
        })
        .await?;
    Ok(Json(info))
}

fn clean_label(label: Option<&str>) -> Result<String, AppError> {
    let l = label.unwrap_or("browser").trim();
    if l.is_empty() || l.chars().count() > 100 || l.chars().any(char::is_control) {
        return Err(AppError::bad(
            "invalidLabel",
            "label must be 1–100 characters without control characters",
        ));
    }
    Ok(l.to_string())
}

/// `POST /api/v1/keys/provision` (session token).
pub async fn provision(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ProvisionKey>,
) -> Result<Json<ProvisionedKey>, AppError> {
    let label = clean_label(req.label.as_deref())?;
    let token = auth::bearer(&headers);
    let out =
        s.db.tx(move |tx| {
            let session = auth::require_session(tx, token.as_deref())?;
            let forbidden = || {
                AppError::Forbidden(format!(
                    "you have no role in population {}; a population admin can add you",
                    req.population_id
                ))
            };
            let pop = db::population(tx, req.population_id)?.ok_or_else(forbidden)?;
            if !accounts::may_sync(tx, session.user_id, &pop)? {
                return Err(forbidden());
            }
            let (api_key, key_id) =
                auth::create_key_for(tx, pop.id, &label, Some(session.user_id), &session.actor())?;
            Ok(ProvisionedKey {
                api_key,
                key_id,
                key_status: if pop.sync_enabled {
                    KeyStatus::Ready
                } else {
                    KeyStatus::AccessDenied
                },
                population: PopulationRef {
                    id: pop.id,
                    name: pop.name,
                    organisation: pop.organisation,
                },
            })
        })
        .await?;
    Ok(Json(out))
}

fn key_info(tx: &Transaction<'_>, id: i64) -> Result<Option<KeyInfo>, AppError> {
    Ok(tx
        .query_row(
            "SELECT id, population_id, label, user_id, created_at, revoked_at FROM api_keys WHERE id = ?1",
            params![id],
            |r| {
                Ok(KeyInfo {
                    id: r.get(0)?,
                    population_id: r.get(1)?,
                    label: r.get(2)?,
                    user_id: r.get(3)?,
                    created_at: db::iso(r.get(4)?),
                    revoked_at: r.get::<_, Option<i64>>(5)?.map(db::iso),
                })
            },
        )
        .optional()?)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeysQuery {
    population_id: Option<i64>,
}

/// `GET /api/v1/keys?populationId=` (session): an organisation admin sees every key of the
/// population; others see their own keys.
pub async fn list_keys(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<KeysQuery>,
) -> Result<Json<KeyList>, AppError> {
    let token = auth::bearer(&headers);
    let keys =
        s.db.tx(move |tx| {
            let session = auth::require_session(tx, token.as_deref())?;
            let all_of = match q.population_id {
                Some(p) => match db::population(tx, p)? {
                    Some(pop)
                        if accounts::is_org_admin(tx, session.user_id, pop.organisation_id)? =>
                    {
                        Some(p)
                    }
                    _ => None,
                },
                None => None,
            };
            let mut stmt = tx.prepare(
                "SELECT id FROM api_keys
                 WHERE (?1 IS NOT NULL AND population_id = ?1)
                    OR (?1 IS NULL AND user_id = ?2 AND (?3 IS NULL OR population_id = ?3))
                 ORDER BY id",
            )?;
            let ids: Vec<i64> = stmt
                .query_map(params![all_of, session.user_id, q.population_id], |r| {
                    r.get(0)
                })?
                .collect::<Result<_, _>>()?;
            let mut keys = Vec::with_capacity(ids.len());
            for id in ids {
                keys.extend(key_info(tx, id)?);
            }
            Ok(keys)
        })
        .await?;
    Ok(Json(KeyList { keys }))
}

/// `POST /api/v1/keys/{id}/revoke` (session): by an admin of the population's organisation or
/// the key's own user. Idempotent.
pub async fn revoke_key(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<KeyInfo>, AppError> {
    let token = auth::bearer(&headers);
    let info =
        s.db.tx(move |tx| {
            let session = auth::require_session(tx, token.as_deref())?;
            let not_found = || AppError::NotFound(format!("key {id}"));
            let info = key_info(tx, id)?.ok_or_else(not_found)?;
            let pop = db::population(tx, info.population_id)?.ok_or_else(not_found)?;
            let own = info.user_id == Some(session.user_id);
            if !own && !accounts::is_org_admin(tx, session.user_id, pop.organisation_id)? {
                return Err(not_found());
            }
            auth::revoke_key_id(tx, id, pop.id, &session.actor())?;
            key_info(tx, id)?.ok_or_else(not_found)
        })
        .await?;
    Ok(Json(info))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsersQuery {
    #[serde(default)]
    query: String,
    limit: Option<u32>,
}

/// `GET /api/v1/users?query=&limit=`: users of the key's organisation.
pub async fn search_users(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<UsersQuery>,
) -> Result<Json<UserList>, AppError> {
    if q.query.chars().count() > 100 {
        return Err(AppError::bad(
            "invalidQuery",
            "query holds at most 100 characters",
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(AppError::bad("invalidQuery", "limit must be 1–50"));
    }
    let key = auth::bearer(&headers);
    let users =
        s.db.tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            accounts::search_members(tx, k.population.organisation_id, &q.query, limit)
        })
        .await?;
    Ok(Json(UserList { users }))
}

/// ASCII slug of a name for placeholder emails.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t: String = out.trim_matches('-').chars().take(30).collect();
    if t.is_empty() {
        "x".into()
    } else {
        t
    }
}

/// The deterministic placeholder email of a create-on-sync user without one: the same name in
/// the same organisation gives the same address, so a retried sync creates no second user.
pub fn placeholder_email(first: &str, last: &str, organisation_id: i64) -> String {
    let norm = |s: &str| finsync_core::normalize::normalize_text(s);
    let digest = Sha256::digest(format!("{}\0{}", norm(first), norm(last)).as_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "placeholder+{}.{}-{tag}.o{organisation_id}@finsync.invalid",
        slug(first),
        slug(last)
    )
}

/// `POST /api/v1/users`: create-on-sync; idempotent on the (given or placeholder) email.
pub async fn create_user(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<Response, AppError> {
    let first = clean_name("firstName", &req.first_name)?;
    let last = clean_name("lastName", &req.last_name)?;
    let email = match &req.email {
        Some(e) => Some(normalize_email(e).ok_or_else(|| {
            AppError::bad(
                "invalidEmail",
                format!("{} is not an email address", excerpt(e)),
            )
        })?),
        None => None,
    };
    let key = auth::bearer(&headers);
    let (out, created) =
        s.db.tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            let org = k.population.organisation_id;
            let placeholder = email.is_none();
            let email = email.unwrap_or_else(|| placeholder_email(&first, &last, org));
            if let Some(u) = accounts::user_by_email(tx, &email)? {
                if accounts::org_role(tx, u.id, org)?.is_some() {
                    return Ok((u, false));
                }
                return Err(AppError::ConflictCode {
                    code: "emailInUse",
                    message: format!(
                        "a user with email {email} exists in another organisation; \
                         ask them to join this one, or resolve the photographer to them"
                    ),
                });
            }
            let id = accounts::create_user(tx, &email, &first, &last, None, placeholder)?;
            accounts::set_member(tx, org, id, finsync_core::api::OrganisationRole::Member)?;
            db::audit_in(
                tx,
                Some(k.population.id),
                &k.actor(),
                "user.create",
                &format!(
                    "user {id} created on sync in organisation {org}{}",
                    if placeholder {
                        " (placeholder email)"
                    } else {
                        ""
                    }
                ),
            )?;
            let user = accounts::user(tx, id)?
                .ok_or_else(|| AppError::Internal("new user vanished".into()))?;
            Ok((user, true))
        })
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(CreatedUser { user: out, created })).into_response())
}

/// `GET /api/v1/populations`: with an API key its population; with a session token every
/// population the user may sync. Counts are computed by the server.
pub async fn populations(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<PopulationList>, AppError> {
    let token = auth::bearer(&headers);
    let populations =
        s.db.tx(move |tx| {
            let mut out = Vec::new();
            if token
                .as_deref()
                .is_some_and(|t| t.starts_with(auth::SESSION_PREFIX))
            {
                let session = auth::require_session(tx, token.as_deref())?;
                let (_, pops) = accounts::memberships(tx, session.user_id)?;
                for p in pops {
                    out.push(PopulationSummary {
                        counts: db::population_counts(tx, p.id)?,
                        id: p.id,
                        name: p.name,
                        organisation_id: p.organisation_id,
                        organisation: p.organisation,
                        sync_enabled: p.sync_enabled,
                        role: p.role,
                    });
                }
            } else {
                let k = auth::require_key(tx, token.as_deref())?;
                let role = match k.user_id {
                    Some(u) => accounts::population_role(tx, u, k.population.id)?,
                    None => None,
                };
                let p = k.population;
                out.push(PopulationSummary {
                    counts: db::population_counts(tx, p.id)?,
                    id: p.id,
                    name: p.name,
                    organisation_id: p.organisation_id,
                    organisation: p.organisation,
                    sync_enabled: p.sync_enabled,
                    role,
                });
            }
            Ok(out)
        })
        .await?;
    Ok(Json(PopulationList { populations }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_emails_are_stable_and_valid() {
        let a = placeholder_email("Rebecca", "Wellard", 3);
        assert_eq!(a, placeholder_email(" rebecca ", "WELLARD", 3));
        assert_ne!(a, placeholder_email("Rebecca", "Wellard", 4));
        assert!(a.starts_with("placeholder+rebecca.wellard-"), "{a}");
        assert!(normalize_email(&a).is_some());
        let u = placeholder_email("Åsa", "Öberg", 1);
        assert!(u.is_ascii() && normalize_email(&u).is_some(), "{u}");
        assert_ne!(u, placeholder_email("Asa", "Oberg", 1));
    }
}
