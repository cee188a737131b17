//! An OpenAPI 3.0 description of the HTTP API, built from the table in [`operations`].
//! `finsync-server openapi` prints it; `docs/openapi.json` is that output, and
//! `tests/openapi.rs` fails when the file is stale or when the router serves a path or method
//! the table lacks (or the other way round).
//!
//! What the document says, and what it does not: every operation's path, method, credential,
//! summary, path and query parameters, statuses, and the *names* of its request and response
//! types — the Rust types the handlers take and return (all in `finsync_core::api` but the
//! server's own `EncounterDetail`), named through
//! [`std::any::type_name`], so a renamed or removed type stops the build. Their fields are not
//! expanded (that would take a schema derive on every type of `crates/core`, which the browser
//! app compiles too): each is an object described by its Rust name, and docs/api.md describes
//! the fields. The error body is described in full.

use finsync_core::api;
use serde_json::{json, Map, Value};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// Nobody needs one (sign-in, public pages).
    Public,
    /// An API key, `Authorization: Bearer fsk_…`.
    Key,
    /// An API key or none (status).
    KeyOptional,
    /// A sign-in session token, `Authorization: Bearer fss_…`.
    Session,
    /// An API key or a session token.
    KeyOrSession,
    /// Nothing, but the route exists only with `--test-mode`.
    TestMode,
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `200` with this JSON type.
    Json(&'static str),
    /// `201` (created) or `200` (existed), with this JSON type.
    CreatedOrOk(&'static str),
    /// `204`, no body.
    NoContent,
    /// `200` HTML.
    Html,
    /// `200` a JPEG.
    Jpeg,
}

/// One operation of the API.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: &'static str,
    /// In the router's syntax (`{id}`).
    pub path: &'static str,
    pub summary: &'static str,
    pub credential: Credential,
    /// Query parameters: name, OpenAPI type, required.
    pub query: &'static [(&'static str, &'static str, bool)],
    /// The JSON request body's type, if any.
    pub request: Option<&'static str>,
    pub answer: Answer,
    /// Error statuses besides those every operation of its kind can answer (see
    /// [`document`]).
    pub errors: &'static [u16],
}

/// A type's full path (`finsync_core::api::CommitSessions`).
fn ty<T>() -> &'static str {
    std::any::type_name::<T>()
}

/// The schema name of a type: the last segment of its path.
fn short(full: &str) -> &str {
    full.rsplit("::").next().unwrap_or(full)
}

/// Every operation the router serves (with `--test-mode` and `--demo`), in docs/api.md's order.
pub fn operations() -> Vec<Operation> {
    use Credential::*;
    let op = |method, path, summary, credential, request: Option<&'static str>, answer| Operation {
        method,
        path,
        summary,
        credential,
        query: &[],
        request,
        answer,
        errors: &[],
    };
    vec![
        op(
            "get",
            "/api/v1/status",
            "Server version and the presented key's status",
            KeyOptional,
            None,
            Answer::Json(ty::<api::StatusResponse>()),
        ),
        Operation {
            errors: &[401, 429],
            ..op(
                "post",
                "/api/v1/auth/sign-in",
                "Sign in with email and password; returns a session token",
                Public,
                Some(ty::<api::SignIn>()),
                Answer::Json(ty::<api::SessionInfo>()),
            )
        },
        op(
            "post",
            "/api/v1/auth/sign-out",
            "End the session",
            Session,
            None,
            Answer::NoContent,
        ),
        op(
            "get",
            "/api/v1/auth/me",
            "The signed-in user, organisations and populations",
            Session,
            None,
            Answer::Json(ty::<api::SessionInfo>()),
        ),
        op(
            "post",
            "/api/v1/keys/provision",
            "Create an API key for this browser in a population",
            Session,
            Some(ty::<api::ProvisionKey>()),
            Answer::Json(ty::<api::ProvisionedKey>()),
        ),
        Operation {
            query: &[("populationId", "integer", false)],
            ..op(
                "get",
                "/api/v1/keys",
                "API keys the user may see",
                Session,
                None,
                Answer::Json(ty::<api::KeyList>()),
            )
        },
        Operation {
            errors: &[404],
            ..op(
                "post",
                "/api/v1/keys/{id}/revoke",
                "Revoke an API key",
                Session,
                None,
                Answer::Json(ty::<api::KeyInfo>()),
            )
        },
        Operation {
            query: &[("query", "string", false), ("limit", "integer", false)],
            ..op(
                "get",
                "/api/v1/users",
                "Search the users of the key's organisation",
                Key,
                None,
                Answer::Json(ty::<api::UserList>()),
            )
        },
        Operation {
            errors: &[409],
            ..op(
                "post",
                "/api/v1/users",
                "Create a user on sync (a \"Create on sync\" photographer)",
                Key,
                Some(ty::<api::CreateUser>()),
                Answer::CreatedOrOk(ty::<api::CreatedUser>()),
            )
        },
        op(
            "get",
            "/api/v1/populations",
            "Populations visible to the credential, with counts",
            KeyOrSession,
            None,
            Answer::Json(ty::<api::PopulationList>()),
        ),
        op(
            "post",
            "/api/v1/encounters/find-or-create",
            "Find the encounter by date, location and photographer, or create it",
            Key,
            Some(ty::<api::FindOrCreateEncounterFull>()),
            Answer::Json(ty::<api::EncounterRefFull>()),
        ),
        op(
            "get",
            "/api/v1/encounters/{id}",
            "An encounter with its images and their variants",
            Key,
            None,
            Answer::Json(ty::<super::encounters::EncounterDetail>()),
        ),
        Operation {
            errors: &[404],
            ..op(
                "get",
                "/encounters/{id}",
                "The encounter's public page",
                Public,
                None,
                Answer::Html,
            )
        },
        Operation {
            errors: &[404],
            ..op(
                "get",
                "/encounters/{id}/images/{file_item_id}/{variant}",
                "An image's thumbnail or preview",
                Public,
                None,
                Answer::Jpeg,
            )
        },
        op(
            "post",
            "/api/v1/individuals/ensure",
            "Create the missing individual IDs of the key's population",
            Key,
            Some(ty::<api::EnsureIndividuals>()),
            Answer::Json(ty::<api::EnsureIndividualsResult>()),
        ),
        Operation {
            errors: &[409],
            ..op(
                "post",
                "/api/v1/upload-sessions",
                "Upload sessions for an encounter's images: Complete, or a write-only SAS URL",
                Key,
                Some(ty::<api::CreateUploadSessionsFull>()),
                Answer::Json(ty::<api::UploadSessions>()),
            )
        },
        op(
            "post",
            "/api/v1/upload-sessions/copy",
            "Copy blobs from a research group's storage into sessions, server-side",
            Key,
            Some(ty::<api::CopyBlobs>()),
            Answer::Json(ty::<api::CopyResults>()),
        ),
        op(
            "post",
            "/api/v1/upload-sessions/commit",
            "Verify, lock and record uploaded images; queue their jobs",
            Key,
            Some(ty::<api::CommitSessions>()),
            Answer::Json(ty::<api::CommitResults>()),
        ),
        Operation {
            query: &[("encounterId", "integer", true)],
            ..op(
                "get",
                "/api/v1/jobs",
                "The jobs of an encounter's images",
                Key,
                None,
                Answer::Json(ty::<api::JobList>()),
            )
        },
        Operation {
            query: &[("limit", "integer", false), ("before", "integer", false)],
            ..op(
                "get",
                "/api/v1/audit",
                "The key's population's audit log, newest first",
                Key,
                None,
                Answer::Json(ty::<api::AuditPage>()),
            )
        },
        op(
            "get",
            "/api/v1/test/faults",
            "Test mode: the fault injection's configuration and counts",
            TestMode,
            None,
            Answer::Json(ty::<api::FaultState>()),
        ),
        op(
            "post",
            "/api/v1/test/faults",
            "Test mode: configure fault injection",
            TestMode,
            Some(ty::<api::FaultConfig>()),
            Answer::Json(ty::<api::FaultState>()),
        ),
        op(
            "post",
            "/api/v1/test/key-status",
            "Test mode: put the presented key into a status",
            TestMode,
            Some(ty::<api::SetKeyStatus>()),
            Answer::Json(ty::<api::StatusResponse>()),
        ),
        op(
            "get",
            "/demo-config.json",
            "With --demo: the demo server URL and key the app pre-fills",
            Public,
            None,
            Answer::Json(ty::<api::DemoConfig>()),
        ),
    ]
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn schema_ref(full: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{}", short(full))})
}

fn error_answer(status: u16) -> Value {
    let description = match status {
        400 => "The client's request is wrong (see `code`)",
        401 => "Missing, unknown or revoked credential",
        403 => "Not allowed (accessDenied, forbidden, notInPopulation)",
        404 => "Not found",
        409 => "Conflict (see `code`)",
        413 => "Body over 1 MiB: plain text when the Content-Length says so, `tooLarge` JSON when a chunked body runs over",
        429 => "Too many failed authentications; see Retry-After",
        500 => "The server failed (database, internal)",
        502 => "The blob storage failed or is unreachable; retry",
        _ => "Error",
    };
    let mut content = json_content(schema_ref("Error"));
    if status == 413 {
        content["text/plain"] = json!({"schema": {"type": "string"}});
    }
    json!({"description": description, "content": content})
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut type_names = std::collections::BTreeSet::new();
    for op in operations() {
        let path = op.path.replace("{file_item_id}", "{fileItemId}");
        let mut parameters: Vec<Value> = Vec::new();
        for name in op
            .path
            .split('{')
            .skip(1)
            .filter_map(|p| p.split('}').next())
        {
            let (name, schema) = match name {
                "variant" => (
                    "variant",
                    json!({"type": "string", "enum": ["thumbnail", "preview"]}),
                ),
                "file_item_id" => ("fileItemId", json!({"type": "integer", "format": "int64"})),
                other => (other, json!({"type": "integer", "format": "int64"})),
            };
            parameters
                .push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        }
        for (name, t, required) in op.query {
            parameters.push(
                json!({"name": name, "in": "query", "required": required, "schema": {"type": t}}),
            );
        }
        let mut responses = Map::new();
        match op.answer {
            Answer::Json(t) => {
                type_names.insert(t);
                responses.insert(
                    "200".into(),
                    json!({"description": "OK", "content": json_content(schema_ref(t))}),
                );
            }
            Answer::CreatedOrOk(t) => {
                type_names.insert(t);
                responses.insert(
                    "201".into(),
                    json!({"description": "Created", "content": json_content(schema_ref(t))}),
                );
                responses.insert(
                    "200".into(),
                    json!({"description": "Existed", "content": json_content(schema_ref(t))}),
                );
            }
            Answer::NoContent => {
                responses.insert("204".into(), json!({"description": "Done"}));
            }
            Answer::Html => {
                responses.insert("200".into(), json!({"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}}));
            }
            Answer::Jpeg => {
                responses.insert("200".into(), json!({"description": "OK", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}));
            }
        }
        // The statuses every operation of its kind can answer, and its own.
        let mut errors: Vec<u16> = vec![500];
        if op.request.is_some() || !op.query.is_empty() || op.path.contains('{') {
            errors.push(400);
        }
        if op.request.is_some() {
            errors.push(413);
        }
        match op.credential {
            Credential::Key | Credential::Session | Credential::KeyOrSession => {
                errors.extend([401, 403, 429]);
            }
            Credential::KeyOptional => errors.push(429),
            Credential::Public | Credential::TestMode => {}
        }
        if op.path.starts_with("/api/v1/upload-sessions") || op.path.starts_with("/encounters/") {
            errors.push(502);
        }
        errors.extend_from_slice(op.errors);
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(status.to_string(), error_answer(status));
        }
        let security = match op.credential {
            Credential::Key => json!([{"apiKey": []}]),
            Credential::KeyOptional => json!([{}, {"apiKey": []}]),
            Credential::Session => json!([{"session": []}]),
            Credential::KeyOrSession => json!([{"apiKey": []}, {"session": []}]),
            Credential::Public | Credential::TestMode => json!([]),
        };
        let mut operation = json!({
            "summary": op.summary,
            "operationId": format!("{} {}", op.method, path),
            "security": security,
            "responses": responses,
        });
        if op.credential == Credential::TestMode {
            operation["description"] = json!("Exists only when the server runs with --test-mode.");
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(t) = op.request {
            type_names.insert(t);
            operation["requestBody"] =
                json!({"required": true, "content": json_content(schema_ref(t))});
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable code, e.g. invalidJson, invalidKey, notInPopulation"},
                "message": {"type": "string", "description": "What went wrong and what to do, for a person"}
            },
            "additionalProperties": false
        }),
    );
    for full in type_names {
        schemas.insert(
            short(full).into(),
            json!({
                "type": "object",
                "description": format!(
                    "The JSON form of the Rust type {full} (camelCase; request types reject unknown fields). Its fields are described in docs/api.md, not expanded here."
                )
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "finsync reference sync server",
            "version": format!("{}", api::API_VERSION),
            "description": "Generated by `finsync-server openapi` from crates/server/src/routes/openapi.rs; docs/api.md is the full description. Request and response types are named, not expanded."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "fsk_…", "description": "An API key of one population"},
                "session": {"type": "http", "scheme": "bearer", "bearerFormat": "fss_…", "description": "A sign-in session token"}
            },
            "schemas": schemas
        }
    })
}

/// The document as `docs/openapi.json` holds it.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_named_by_their_last_segment() {
        assert_eq!(short(ty::<api::CommitSessions>()), "CommitSessions");
        assert_eq!(
            ty::<api::CommitSessions>(),
            "finsync_core::api::CommitSessions"
        );
    }

    #[test]
    fn every_named_type_has_a_schema_and_every_operation_an_answer() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "{name}");
        }
        for (path, methods) in doc["paths"].as_object().unwrap() {
            for (method, op) in methods.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('2')),
                    "{method} {path}"
                );
                assert!(responses.contains_key("500"), "{method} {path}");
            }
        }
    }
}
