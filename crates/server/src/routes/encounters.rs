//! Encounters (find-or-create with licence, organisations, notes and attested individuals;
//! JSON detail; the public HTML page and its thumbnails) and the individuals catalogue.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use finsync_core::api::{
    self, ApiError, EncounterRefFull, EnsureCounts, EnsureIndividuals, EnsureIndividualsResult,
    EnsureResult, EnsureStatus, FindOrCreateEncounterFull, Gps, IndividualLink, License,
};
use finsync_core::normalize::{distance_km, normalize_text};
use rusqlite::{params, OptionalExtension, Transaction};

use super::{ApiJson, ApiPath};
use crate::auth;
use crate::db;
use crate::error::{excerpt, AppError};
use crate::AppState;

/// Longest `notes`, in characters.
const MAX_NOTES_CHARS: usize = 10_000;

/// `YYYY-MM-DD` naming a day that exists (no 2024-02-30).
fn valid_date(d: &str) -> bool {
    finsync_core::calendar::Day::parse_iso(d).is_some()
}

fn valid_time(t: &str) -> bool {
    let parts: Vec<&str> = t.split(':').collect();
    let num = |s: &str, max: u32| s.len() == 2 && s.parse::<u32>().is_ok_and(|v| v <= max);
    match parts.as_slice() {
        [h, m] => num(h, 23) && num(m, 59),
        [h, m, s] => num(h, 23) && num(m, 59) && num(s, 60),
        _ => false,
    }
}

/// An individual's identifier, cleaned, with its matching form; `Err` says why not.
pub fn clean_identifier(raw: &str) -> Result<(String, String), String> {
    let t = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() || t.chars().count() > api::MAX_IDENTIFIER_CHARS {
        return Err(format!(
            "identifier {} must be 1–{} characters",
            excerpt(raw),
            api::MAX_IDENTIFIER_CHARS
        ));
    }
    if t.chars()
        .any(|c| !(c.is_alphanumeric() || " -_.'#()".contains(c)))
    {
        return Err(format!(
            "identifier {} may contain letters, digits, spaces and - _ . ' # ( ) only",
            excerpt(raw)
        ));
    }
    let norm = normalize_text(&t);
    Ok((t, norm))
}

fn validate_encounter(req: &FindOrCreateEncounterFull) -> Result<(), AppError> {
    if !valid_date(&req.date) {
        return Err(AppError::bad(
            "invalidDate",
            format!(
                "date {} is not a day in YYYY-MM-DD form",
                excerpt(&req.date)
            ),
        ));
    }
    if let Some(t) = &req.time {
        if !valid_time(t) {
            return Err(AppError::bad(
                "invalidTime",
                format!("time {} is not HH:MM:SS", excerpt(t)),
            ));
        }
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
    if req
        .notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTES_CHARS)
    {
        return Err(AppError::bad(
            "invalidNotes",
            format!("notes hold at most {MAX_NOTES_CHARS} characters"),
        ));
    }
    if req.organisations.len() > api::MAX_ENCOUNTER_LINKS
        || req.known_individuals.len() > api::MAX_ENCOUNTER_LINKS
    {
        return Err(AppError::bad(
            "invalidBatch",
            format!(
                "an encounter lists at most {} organisations and {} known individuals",
                api::MAX_ENCOUNTER_LINKS,
                api::MAX_ENCOUNTER_LINKS
            ),
        ));
    }
    for id in &req.known_individuals {
        clean_identifier(id).map_err(|m| AppError::bad("invalidIdentifier", m))?;
    }
    Ok(())
}

/// Finds or creates an individual of a population; `(id, created)`.
pub fn get_or_create_individual(
    tx: &Transaction<'_>,
    population_id: i64,
    identifier: &str,
    norm: &str,
) -> Result<(i64, bool), AppError> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM individuals WHERE population_id = ?1 AND identifier_norm = ?2",
            params![population_id, norm],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    tx.execute(
        "INSERT INTO individuals (population_id, identifier, identifier_norm, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![population_id, identifier, norm, crate::now_unix()],
    )?;
    Ok((tx.last_insert_rowid(), true))
}

pub async fn find_or_create(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<FindOrCreateEncounterFull>,
) -> Result<Json<EncounterRefFull>, AppError> {
    validate_encounter(&req)?;
    let key = auth::bearer(&headers);
    let (id, created, individuals) = s
        .db
        .tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            let pop = &k.population;
            let actor = k.actor();
            let mut orgs = req.organisations.clone();
            orgs.sort_unstable();
            orgs.dedup();
            for o in &orgs {
                if !db::organisation_exists(tx, *o)? {
                    return Err(AppError::bad(
                        "invalidOrganisation",
                        format!("organisation {o} does not exist"),
                    ));
                }
            }
            if let Some(u) = req.photographer_user_id {
                let member = tx
                    .query_row(
                        "SELECT 1 FROM organisation_members WHERE organisation_id = ?1 AND user_id = ?2",
                        params![pop.organisation_id, u],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                if !member {
                    return Err(AppError::bad(
                        "invalidPhotographerUser",
                        format!(
                            "photographer user {u} is not a member of this population's organisation: \
                             resolve the photographer to a member, or create them on sync"
                        ),
                    ));
                }
            }
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
            let (id, created) = if let Some(&first) = matches.first() {
                if matches.len() > 1 {
                    db::audit_in(
                        tx,
                        Some(pop.id),
                        &actor,
                        "encounter.match.several",
                        &format!("matched {matches:?}; using {first}"),
                    )?;
                }
                (first, false)
            } else {
                tx.execute(
                    "INSERT INTO encounters (population_id, date, time, location_name, location_norm, lat, lon,
                     photographer, photographer_norm, notes, created_at, license, photographer_user_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                        crate::now_unix(),
                        req.license.map(License::as_str),
                        req.photographer_user_id,
                    ],
                )?;
                let id = tx.last_insert_rowid();
                for o in &orgs {
                    tx.execute(
                        "INSERT OR IGNORE INTO encounter_organisations (encounter_id, organisation_id) VALUES (?1, ?2)",
                        params![id, o],
                    )?;
                }
                db::audit_in(
                    tx,
                    Some(pop.id),
                    &actor,
                    "encounter.create",
                    &format!(
                        "encounter {id}, license {}, {} organisations",
                        req.license.map(License::as_str).unwrap_or("none"),
                        orgs.len()
                    ),
                )?;
                (id, true)
            };
            let mut links: Vec<IndividualLink> = Vec::new();
            for raw in &req.known_individuals {
                let (display, norm) =
                    clean_identifier(raw).map_err(|m| AppError::bad("invalidIdentifier", m))?;
                let (ind, ind_created) = get_or_create_individual(tx, pop.id, &display, &norm)?;
                if links.iter().any(|l| l.individual_id == ind) {
                    continue;
                }
                let linked = tx.execute(
                    "INSERT OR IGNORE INTO encounter_individuals (encounter_id, individual_id, evidence_tier, created_at)
                     VALUES (?1, ?2, 'attested', ?3)",
                    params![id, ind, crate::now_unix()],
                )?;
                if ind_created || linked > 0 {
                    db::audit_in(
                        tx,
                        Some(pop.id),
                        &actor,
                        "individual.attest",
                        &format!(
                            "individual {ind}{} attested in encounter {id}",
                            if ind_created { " (created)" } else { "" }
                        ),
                    )?;
                }
                let identifier: String = tx.query_row(
                    "SELECT identifier FROM individuals WHERE id = ?1",
                    params![ind],
                    |r| r.get(0),
                )?;
                links.push(IndividualLink {
                    individual_id: ind,
                    identifier,
                    created: ind_created,
                    evidence_tier: "attested".into(),
                });
            }
            Ok((id, created, links))
        })
        .await?;
    Ok(Json(EncounterRefFull {
        id,
        created,
        url: format!("/encounters/{id}"),
        individuals,
    }))
}

/// An encounter with its committed images.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EncounterDetail {
    pub id: i64,
    pub date: String,
    pub location_name: String,
    pub photographer: String,
    /// The server user the photographer is, when the client named one.
    pub photographer_user_id: Option<i64>,
    pub images: Vec<ImageDetail>,
    pub time: Option<String>,
    pub gps: Option<Gps>,
    pub notes: Option<String>,
    pub license: Option<License>,
    pub organisations: Vec<OrganisationRef>,
    pub individuals: Vec<LinkedIndividual>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationRef {
    pub id: i64,
    pub name: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkedIndividual {
    pub individual_id: i64,
    pub identifier: String,
    pub evidence_tier: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetail {
    pub file_item_id: i64,
    pub file_name: String,
    pub size: u64,
    pub blob_name: String,
    /// The snapshot of `blobName` that commit verified (`x-ms-snapshot`): the committed bytes,
    /// which a pipeline reads (`?snapshot=`). Absent for images committed before snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_snapshot: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Server path of the thumbnail (absent when none was made); for `privateOrganisation`
    /// encounters a read-only SAS URL valid [`PRIVATE_VARIANT_SAS_SECS`] instead, since the
    /// public route does not serve them.
    pub thumbnail_url: Option<String>,
    pub preview_url: Option<String>,
    /// State of the image's variants job: `queued` or `running` (thumbnail not made yet),
    /// `done`, `failed` (does not decode), `skipped` (too large); absent when none was queued.
    pub variants: Option<String>,
    #[serde(skip)]
    thumbnail_blob: Option<String>,
    #[serde(skip)]
    preview_blob: Option<String>,
}

/// Lifetime of the variant SAS URLs of private encounters in the JSON detail.
pub const PRIVATE_VARIANT_SAS_SECS: i64 = 600;

fn load_encounter(
    tx: &Transaction<'_>,
    id: i64,
    population: Option<i64>,
) -> Result<EncounterDetail, AppError> {
    type Row = (
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<f64>,
        Option<f64>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let row: Option<Row> = tx
        .query_row(
            "SELECT population_id, date, location_name, photographer, time, lat, lon, notes, license,
             photographer_user_id FROM encounters WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )
        .optional()?;
    // With a key (`population`), missing and another population's answer alike (403
    // `notInPopulation`); the public page (no key) answers 404 for a missing one.
    let hidden = || match population {
        Some(_) => AppError::NotInPopulation(format!("encounter {id}")),
        None => AppError::NotFound(format!("encounter {id}")),
    };
    let Some((pop, date, location_name, photographer, time, lat, lon, notes, license, user)) = row
    else {
        return Err(hidden());
    };
    if population.is_some_and(|p| p != pop) {
        return Err(hidden());
    }
    let mut stmt = tx.prepare(
        "SELECT f.id, f.file_name, f.size, f.blob_name, f.width, f.height, f.thumbnail_blob,
         f.preview_blob, j.state, f.blob_snapshot
         FROM file_items f LEFT JOIN jobs j ON j.file_item_id = f.id AND j.kind = 'variants'
         WHERE f.encounter_id = ?1 ORDER BY f.id",
    )?;
    let images = stmt
        .query_map(params![id], |r| {
            let fid: i64 = r.get(0)?;
            let thumb: Option<String> = r.get(6)?;
            let preview: Option<String> = r.get(7)?;
            Ok(ImageDetail {
                file_item_id: fid,
                file_name: r.get(1)?,
                size: r.get::<_, i64>(2)?.max(0) as u64,
                blob_name: r.get(3)?,
                blob_snapshot: r.get(9)?,
                width: r.get(4)?,
                height: r.get(5)?,
                thumbnail_url: thumb
                    .as_ref()
                    .map(|_| format!("/encounters/{id}/images/{fid}/thumbnail")),
                preview_url: preview
                    .as_ref()
                    .map(|_| format!("/encounters/{id}/images/{fid}/preview")),
                variants: r.get(8)?,
                thumbnail_blob: thumb,
                preview_blob: preview,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = tx.prepare(
        "SELECT o.id, o.name FROM encounter_organisations eo
         JOIN organisations o ON o.id = eo.organisation_id WHERE eo.encounter_id = ?1 ORDER BY o.id",
    )?;
    let organisations = stmt
        .query_map(params![id], |r| {
            Ok(OrganisationRef {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = tx.prepare(
        "SELECT i.id, i.identifier, ei.evidence_tier FROM encounter_individuals ei
         JOIN individuals i ON i.id = ei.individual_id WHERE ei.encounter_id = ?1 ORDER BY i.identifier_norm",
    )?;
    let individuals = stmt
        .query_map(params![id], |r| {
            Ok(LinkedIndividual {
                individual_id: r.get(0)?,
                identifier: r.get(1)?,
                evidence_tier: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(EncounterDetail {
        id,
        date,
        location_name,
        photographer,
        photographer_user_id: user,
        images,
        time,
        gps: match (lat, lon) {
            (Some(lat), Some(lon)) => Some(Gps { lat, lon }),
            _ => None,
        },
        notes,
        license: license.as_deref().and_then(License::parse),
        organisations,
        individuals,
    })
}

pub async fn encounter_json(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EncounterDetail>, AppError> {
    let key = auth::bearer(&headers);
    let mut detail =
        s.db.tx(move |tx| {
            let pop = auth::require(tx, key.as_deref())?;
            load_encounter(tx, id, Some(pop.id))
        })
        .await?;
    if detail.license == Some(License::PrivateOrganisation) {
        let expiry = crate::now_unix() + PRIVATE_VARIANT_SAS_SECS;
        let container = s.blob.variants_container();
        for img in &mut detail.images {
            img.thumbnail_url = img
                .thumbnail_blob
                .as_deref()
                .map(|b| s.blob.read_url(container, b, expiry));
            img.preview_url = img
                .preview_blob
                .as_deref()
                .map(|b| s.blob.read_url(container, b, expiry));
        }
    }
    Ok(Json(detail))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The stable page of an encounter that the app links to. It is public (no key), so it shows
/// no notes, and no pictures of `privateOrganisation` encounters.
pub async fn encounter_page(State(s): State<AppState>, ApiPath(id): ApiPath<i64>) -> Response {
    match s.db.tx(move |tx| load_encounter(tx, id, None)).await {
        Ok(e) => {
            let private = e.license == Some(License::PrivateOrganisation);
            let rows: String = e
                .images
                .iter()
                .map(|i| {
                    let img = match (&i.thumbnail_url, &i.preview_url, private) {
                        (Some(t), Some(p), false) => format!(
                            "<a href=\"{p}\"><img src=\"{t}\" alt=\"{}\" loading=lazy></a><br>",
                            html_escape(&i.file_name)
                        ),
                        (Some(t), None, false) => format!(
                            "<img src=\"{t}\" alt=\"{}\" loading=lazy><br>",
                            html_escape(&i.file_name)
                        ),
                        (None, _, false)
                            if matches!(i.variants.as_deref(), Some("queued" | "running")) =>
                        {
                            "<div class=pending data-state=pending>Preview being prepared \
                             — reload in a moment</div>"
                                .to_string()
                        }
                        _ => String::new(),
                    };
                    format!(
                        "<li>{img}{} ({} bytes)</li>",
                        html_escape(&i.file_name),
                        i.size
                    )
                })
                .collect();
            let individuals = e
                .individuals
                .iter()
                .map(|i| html_escape(&i.identifier))
                .collect::<Vec<_>>()
                .join(", ");
            Html(format!(
                "<!doctype html><meta charset=utf-8><title>Encounter {id}</title>\
                 <style>ul{{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:12px}}\
                 li{{max-width:260px}}img{{max-width:256px;max-height:256px}}\
                 .pending{{width:256px;height:160px;display:grid;place-items:center;\
                 background:#eee;color:#555;font:14px sans-serif;text-align:center}}</style>\
                 <h1>Encounter {id}</h1><p>{} · {} · {}</p><p>Licence: {}{}</p>\
                 <h2>{} images</h2><ul>{rows}</ul>",
                html_escape(&e.date),
                html_escape(&e.location_name),
                html_escape(&e.photographer),
                e.license.map(License::as_str).unwrap_or("not given"),
                if individuals.is_empty() {
                    String::new()
                } else {
                    format!(" · Known individuals (attested): {individuals}")
                },
                e.images.len()
            ))
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /encounters/{id}/images/{fileItemId}/{thumbnail|preview}`: the variant, streamed
/// through the server (the variants container stays private).
pub async fn variant_image(
    State(s): State<AppState>,
    ApiPath((id, file_item_id, variant)): ApiPath<(i64, i64, String)>,
) -> Result<Response, AppError> {
    let column = match variant.as_str() {
        "thumbnail" => "thumbnail_blob",
        "preview" => "preview_blob",
        _ => return Err(AppError::NotFound(format!("variant {}", excerpt(&variant)))),
    };
    let blob: Option<String> = s
        .db
        .tx(move |tx| {
            Ok(tx
                .query_row(
                    &format!(
                        "SELECT f.{column} FROM file_items f JOIN encounters e ON e.id = f.encounter_id
                         WHERE f.id = ?1 AND e.id = ?2 AND (e.license IS NULL OR e.license != 'privateOrganisation')"
                    ),
                    params![file_item_id, id],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten())
        })
        .await?;
    let not_found = || AppError::NotFound(format!("{variant} of image {file_item_id}"));
    let blob = blob.ok_or_else(not_found)?;
    let (bytes, content_type) = s
        .blob
        .read(s.blob.variants_container(), &blob)
        .await?
        .ok_or_else(not_found)?;
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("image/jpeg")),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(resp)
}

pub async fn ensure_individuals(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EnsureIndividuals>,
) -> Result<Json<EnsureIndividualsResult>, AppError> {
    if req.ids.is_empty() || req.ids.len() > api::MAX_ENSURE_IDS {
        return Err(AppError::bad(
            "invalidBatch",
            format!("a request ensures 1–{} ids", api::MAX_ENSURE_IDS),
        ));
    }
    // Distinct by matching form, first spelling kept, request order kept.
    let mut seen = std::collections::HashSet::new();
    type Cleaned = Result<(String, String), String>;
    let mut wanted: Vec<(String, Cleaned)> = Vec::new();
    for raw in req.ids {
        let cleaned = clean_identifier(&raw);
        let dedup_key = match &cleaned {
            Ok((_, norm)) => format!("ok:{norm}"),
            Err(_) => format!("bad:{raw}"),
        };
        if seen.insert(dedup_key) {
            wanted.push((raw, cleaned));
        }
    }
    let key = auth::bearer(&headers);
    let results =
        s.db.tx(move |tx| {
            let k = auth::require_key(tx, key.as_deref())?;
            let mut out = Vec::with_capacity(wanted.len());
            let mut created_ids = Vec::new();
            for (raw, cleaned) in wanted {
                match cleaned {
                    Err(message) => out.push(EnsureResult {
                        id: raw,
                        status: EnsureStatus::Failed,
                        individual_id: None,
                        error: Some(ApiError {
                            code: "invalidIdentifier".into(),
                            message,
                        }),
                    }),
                    Ok((display, norm)) => {
                        let (id, created) =
                            get_or_create_individual(tx, k.population.id, &display, &norm)?;
                        if created {
                            created_ids.push(id);
                        }
                        out.push(EnsureResult {
                            id: raw,
                            status: if created {
                                EnsureStatus::Created
                            } else {
                                EnsureStatus::Existed
                            },
                            individual_id: Some(id),
                            error: None,
                        });
                    }
                }
            }
            if !created_ids.is_empty() {
                db::audit_in(
                    tx,
                    Some(k.population.id),
                    &k.actor(),
                    "individual.ensure",
                    &format!("created individuals {created_ids:?}"),
                )?;
            }
            Ok(out)
        })
        .await?;
    let count = |st: EnsureStatus| results.iter().filter(|r| r.status == st).count() as u64;
    let counts = EnsureCounts {
        found: results.len() as u64,
        existed: count(EnsureStatus::Existed),
        created: count(EnsureStatus::Created),
        failed: count(EnsureStatus::Failed),
    };
    Ok(Json(EnsureIndividualsResult { results, counts }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_identifiers() {
        assert!(valid_date("2024-07-15"));
        assert!(!valid_date("2024-13-01") && !valid_date("15/07/2024"));
        assert!(valid_time("10:12") && valid_time("23:59:60"));
        assert!(!valid_time("24:00") && !valid_time("1:00") && !valid_time("10-12"));
        assert_eq!(
            clean_identifier("  T002B ").unwrap(),
            ("T002B".into(), "t002b".into())
        );
        assert_eq!(clean_identifier("Big  Mama").unwrap().1, "big mama");
        assert!(clean_identifier("").is_err());
        assert!(clean_identifier("a,b").is_err());
        assert!(clean_identifier("<script>").is_err());
        assert!(clean_identifier(&"x".repeat(65)).is_err());
    }
}
