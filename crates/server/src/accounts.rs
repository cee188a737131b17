//! Users, organisation memberships and population roles, and the checks built on them.

use finsync_core::api::{
    OrganisationMembership, OrganisationRole, PopulationMembership, PopulationRole, UserRef,
};
use rusqlite::{params, OptionalExtension, Transaction};

use crate::db::{self, Population};
use crate::error::AppError;

pub fn org_role_str(r: OrganisationRole) -> &'static str {
    match r {
        OrganisationRole::Member => "member",
        OrganisationRole::Admin => "admin",
    }
}

pub fn parse_org_role(s: &str) -> Option<OrganisationRole> {
    match s {
        "member" => Some(OrganisationRole::Member),
        "admin" => Some(OrganisationRole::Admin),
        _ => None,
    }
}

pub fn pop_role_str(r: PopulationRole) -> &'static str {
    match r {
        PopulationRole::Viewer => "viewer",
        PopulationRole::Expert => "expert",
        PopulationRole::Professional => "professional",
        PopulationRole::Admin => "admin",
    }
}

pub fn parse_pop_role(s: &str) -> Option<PopulationRole> {
    match s {
        "viewer" => Some(PopulationRole::Viewer),
        "expert" => Some(PopulationRole::Expert),
        "professional" => Some(PopulationRole::Professional),
        "admin" => Some(PopulationRole::Admin),
        _ => None,
    }
}

/// Lower-cased, trimmed email if it looks like one (one `@`, a dot in the domain, no spaces
/// or control characters, at most 254 bytes).
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = e.len() <= 254
        && !local.is_empty()
        && domain.len() >= 3
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then_some(e)
}

/// A person's name part: trimmed, 1–100 characters, no control characters.
pub fn clean_name(field: &'static str, s: &str) -> Result<String, AppError> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() || t.chars().count() > 100 || t.chars().any(char::is_control) {
        return Err(AppError::bad(
            "invalidName",
            format!("{field} must be 1–100 characters without control characters"),
        ));
    }
    Ok(t)
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRef> {
    Ok(UserRef {
        id: r.get(0)?,
        email: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        placeholder_email: r.get(4)?,
    })
}

const USER_COLUMNS: &str = "u.id, u.email, u.first_name, u.last_name, u.placeholder_email";

pub fn user(tx: &Transaction<'_>, id: i64) -> Result<Option<UserRef>, AppError> {
    Ok(tx
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"),
            params![id],
            user_from_row,
        )
        .optional()?)
}

pub fn user_by_email(tx: &Transaction<'_>, email: &str) -> Result<Option<UserRef>, AppError> {
    Ok(tx
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = ?1"),
            params![email],
            user_from_row,
        )
        .optional()?)
}

/// The stored password hash of a user (None: no password, cannot sign in).
pub fn password_hash(tx: &Transaction<'_>, user_id: i64) -> Result<Option<String>, AppError> {
    Ok(tx
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            params![user_id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

pub fn set_password_hash(tx: &Transaction<'_>, user_id: i64, phc: &str) -> Result<(), AppError> {
    let n = tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, phc],
    )?;
    if n == 0 {
        return Err(AppError::NotFound(format!("user {user_id}")));
    }
    Ok(())
}

/// Inserts a user; `email` must already be normalised. Conflicts on the email → 409.
pub fn create_user(
    tx: &Transaction<'_>,
    email: &str,
    first_name: &str,
    last_name: &str,
    password_hash: Option<&str>,
    placeholder: bool,
) -> Result<i64, AppError> {
    if user_by_email(tx, email)?.is_some() {
        return Err(AppError::ConflictCode {
            code: "emailInUse",
            message: format!("a user with email {email} exists"),
        });
    }
    tx.execute(
        "INSERT INTO users (email, first_name, last_name, password_hash, placeholder_email, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![email, first_name, last_name, password_hash, placeholder, crate::now_unix()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Adds (or changes) an organisation membership.
pub fn set_member(
    tx: &Transaction<'_>,
    organisation_id: i64,
    user_id: i64,
    role: OrganisationRole,
) -> Result<(), AppError> {
    tx.execute(
        "INSERT INTO organisation_members (organisation_id, user_id, role) VALUES (?1, ?2, ?3)
         ON CONFLICT (organisation_id, user_id) DO UPDATE SET role = excluded.role",
        params![organisation_id, user_id, org_role_str(role)],
    )?;
    Ok(())
}

/// Sets a population role; `None` removes it.
pub fn set_population_role(
    tx: &Transaction<'_>,
    population_id: i64,
    user_id: i64,
    role: Option<PopulationRole>,
) -> Result<(), AppError> {
    match role {
        Some(r) => tx.execute(
            "INSERT INTO population_roles (population_id, user_id, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (population_id, user_id) DO UPDATE SET role = excluded.role",
            params![population_id, user_id, pop_role_str(r)],
        )?,
        None => tx.execute(
            "DELETE FROM population_roles WHERE population_id = ?1 AND user_id = ?2",
            params![population_id, user_id],
        )?,
    };
    Ok(())
}

pub fn org_role(
    tx: &Transaction<'_>,
    user_id: i64,
    organisation_id: i64,
) -> Result<Option<OrganisationRole>, AppError> {
    let r: Option<String> = tx
        .query_row(
            "SELECT role FROM organisation_members WHERE organisation_id = ?1 AND user_id = ?2",
            params![organisation_id, user_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(r.as_deref().and_then(parse_org_role))
}

pub fn population_role(
    tx: &Transaction<'_>,
    user_id: i64,
    population_id: i64,
) -> Result<Option<PopulationRole>, AppError> {
    let r: Option<String> = tx
        .query_row(
            "SELECT role FROM population_roles WHERE population_id = ?1 AND user_id = ?2",
            params![population_id, user_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(r.as_deref().and_then(parse_pop_role))
}

/// A user may provision keys for (sync) a population with any role in it, or as an admin of
/// the organisation that owns it.
pub fn may_sync(tx: &Transaction<'_>, user_id: i64, p: &Population) -> Result<bool, AppError> {
    Ok(population_role(tx, user_id, p.id)?.is_some()
        || org_role(tx, user_id, p.organisation_id)? == Some(OrganisationRole::Admin))
}

pub fn is_org_admin(
    tx: &Transaction<'_>,
    user_id: i64,
    organisation_id: i64,
) -> Result<bool, AppError> {
    Ok(org_role(tx, user_id, organisation_id)? == Some(OrganisationRole::Admin))
}

/// The user's organisations and the populations they may sync.
pub fn memberships(
    tx: &Transaction<'_>,
    user_id: i64,
) -> Result<(Vec<OrganisationMembership>, Vec<PopulationMembership>), AppError> {
    let mut stmt = tx.prepare(
        "SELECT o.id, o.name, m.role FROM organisation_members m
         JOIN organisations o ON o.id = m.organisation_id WHERE m.user_id = ?1 ORDER BY o.id",
    )?;
    let orgs: Vec<OrganisationMembership> = stmt
        .query_map(params![user_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter_map(|(id, name, role)| {
            parse_org_role(&role).map(|role| OrganisationMembership { id, name, role })
        })
        .collect();
    let mut stmt = tx.prepare(
        "SELECT p.id, p.name, o.id, o.name, p.sync_enabled, r.role FROM populations p
         JOIN organisations o ON o.id = p.organisation_id
         LEFT JOIN population_roles r ON r.population_id = p.id AND r.user_id = ?1
         LEFT JOIN organisation_members m ON m.organisation_id = o.id AND m.user_id = ?1
         WHERE r.role IS NOT NULL OR m.role = 'admin'
         ORDER BY p.id",
    )?;
    let pops = stmt
        .query_map(params![user_id], |r| {
            Ok(PopulationMembership {
                id: r.get(0)?,
                name: r.get(1)?,
                organisation_id: r.get(2)?,
                organisation: r.get(3)?,
                sync_enabled: r.get(4)?,
                role: r
                    .get::<_, Option<String>>(5)?
                    .as_deref()
                    .and_then(parse_pop_role),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((orgs, pops))
}

/// Users of an organisation whose name or email contains `query` (case-insensitive).
pub fn search_members(
    tx: &Transaction<'_>,
    organisation_id: i64,
    query: &str,
    limit: u32,
) -> Result<Vec<UserRef>, AppError> {
    let needle = query.trim().to_lowercase();
    let like = format!(
        "%{}%",
        needle
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut stmt = tx.prepare(&format!(
        "SELECT {USER_COLUMNS} FROM users u
         JOIN organisation_members m ON m.user_id = u.id AND m.organisation_id = ?1
         WHERE lower(u.first_name || ' ' || u.last_name) LIKE ?2 ESCAPE '\\'
            OR lower(u.email) LIKE ?2 ESCAPE '\\'
         ORDER BY u.last_name, u.first_name, u.id LIMIT ?3"
    ))?;
    let users = stmt
        .query_map(params![organisation_id, like, limit], user_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(users)
}

/// Does `p`'s id exist? (for the admin CLI)
pub fn require_population(tx: &Transaction<'_>, id: i64) -> Result<Population, AppError> {
    db::population(tx, id)?.ok_or_else(|| AppError::NotFound(format!("population {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Jane.Smith@Example.ORG "),
            Some("jane.smith@example.org".into())
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@b.c",
            "a@b.c@d.e",
            "a b@c.de",
            "a@.com",
            "a@com.",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            clean_name("x", "  Rebecca   Wellard ").unwrap(),
            "Rebecca Wellard"
        );
        assert!(clean_name("x", "  ").is_err());
        assert!(clean_name("x", "a\u{7}").is_err());
    }
}
