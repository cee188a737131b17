//! Deterministic fault injection for tests and benchmarks: the `--test-mode` middleware of the
//! server and the `finsync-fault-proxy` binary share it.
//!
//! Each request whose path matches the configured routes gets the next ordinal `n`; it is
//! faulted when `unit(mix(seed, n)) < rate`, with kind `kinds[mix(seed ^ K, n) % len]`. The
//! same seed and the same request order give the same faults.

use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use finsync_core::api::{ApiError, FaultConfig, FaultState};

use crate::error::AppError;
use crate::AppState;

/// What a faulted request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `502` with a JSON error, without running the handler.
    BadGateway,
    /// `503` with a JSON error, without running the handler.
    Unavailable,
    /// Hold the request for `hang_ms`, then reset the connection (the handler never runs).
    Hang,
    /// Reset the connection (RST) without an answer (the handler never runs).
    Reset,
    /// `200` with a body that is not JSON (a broken server or a captive portal).
    Garbage,
    /// `502` with an HTML page, as a reverse proxy in front of the server sends.
    Html,
    /// `413` with a plain body, as a proxy with a smaller body limit sends.
    TooLarge,
    /// `429 rateLimited` with `Retry-After: 2`.
    TooMany,
}

impl FaultKind {
    pub fn parse(s: &str) -> Option<FaultKind> {
        match s.trim() {
            "502" => Some(FaultKind::BadGateway),
            "503" => Some(FaultKind::Unavailable),
            "hang" => Some(FaultKind::Hang),
            "reset" => Some(FaultKind::Reset),
            "garbage" => Some(FaultKind::Garbage),
            "html" => Some(FaultKind::Html),
            "413" => Some(FaultKind::TooLarge),
            "429" => Some(FaultKind::TooMany),
            _ => None,
        }
    }
}

/// Default time a `hang` holds a request.
pub const DEFAULT_HANG_MS: u64 = 30_000;
/// Longest `hang`.
pub const MAX_HANG_MS: u64 = 600_000;

struct Active {
    config: FaultConfig,
    kinds: Vec<FaultKind>,
    matched: u64,
    injected: u64,
}

/// The active fault configuration (none at start).
#[derive(Default)]
pub struct Faults {
    state: Mutex<Option<Active>>,
}

/// SplitMix64 of `seed + n·γ`: a well-mixed 64-bit value per (seed, n).
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn route_matches(routes: &[String], path: &str) -> bool {
    routes.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => r == path,
    })
}

/// Checks a configuration; `Err` names the problem.
pub fn validate(c: &FaultConfig) -> Result<Vec<FaultKind>, String> {
    if !(0.0..=1.0).contains(&c.rate) {
        return Err(format!("rate {} is not within 0–1", c.rate));
    }
    if c.routes.len() > 50
        || c.routes
            .iter()
            .any(|r| r.is_empty() || r.len() > 200 || !(r.starts_with('/') || r == "*"))
    {
        return Err(
            "routes: at most 50 paths starting with / (a trailing * matches a prefix)".into(),
        );
    }
    if c.hang_ms.is_some_and(|h| h > MAX_HANG_MS) {
        return Err(format!("hangMs is at most {MAX_HANG_MS}"));
    }
    let kinds = c
        .kinds
        .iter()
        .map(|k| {
            FaultKind::parse(k)
                .ok_or_else(|| format!("unknown fault kind {k:?}; use 502, 503, hang, reset, garbage, html, 413 or 429"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if kinds.is_empty() && !c.routes.is_empty() {
        return Err(
            "kinds: name at least one of 502, 503, hang, reset, garbage, html, 413, 429".into(),
        );
    }
    Ok(kinds)
}

impl Faults {
    /// A fixed configuration (the proxy's); panics never: invalid input is an `Err`.
    pub fn with(config: FaultConfig) -> Result<Self, String> {
        let f = Faults::default();
        f.set(config)?;
        Ok(f)
    }

    /// Replaces the configuration (and resets the counters); empty routes turn faults off.
    pub fn set(&self, config: FaultConfig) -> Result<FaultState, String> {
        let kinds = validate(&config)?;
        let Ok(mut state) = self.state.lock() else {
            return Err("fault state lock poisoned".into());
        };
        *state = (!config.routes.is_empty()).then_some(Active {
            config,
            kinds,
            matched: 0,
            injected: 0,
        });
        Ok(Self::snapshot(&state))
    }

    fn snapshot(state: &Option<Active>) -> FaultState {
        match state {
            None => FaultState {
                config: None,
                matched: 0,
                injected: 0,
            },
            Some(a) => FaultState {
                config: Some(a.config.clone()),
                matched: a.matched,
                injected: a.injected,
            },
        }
    }

    pub fn state(&self) -> FaultState {
        match self.state.lock() {
            Ok(s) => Self::snapshot(&s),
            Err(_) => Self::snapshot(&None),
        }
    }

    /// The fault for the next request on `path`, if any, and how long a hang lasts.
    pub fn decide(&self, path: &str) -> Option<(FaultKind, Duration)> {
        let mut state = self.state.lock().ok()?;
        let a = state.as_mut()?;
        if !route_matches(&a.config.routes, path) {
            return None;
        }
        let n = a.matched;
        a.matched += 1;
        let unit = (mix(a.config.seed, n) >> 11) as f64 / (1u64 << 53) as f64;
        if unit >= a.config.rate || a.kinds.is_empty() {
            return None;
        }
        a.injected += 1;
        let pick = mix(a.config.seed ^ 0x5EED_F00D_D15C_0B01, n) % a.kinds.len() as u64;
        let hang = Duration::from_millis(a.config.hang_ms.unwrap_or(DEFAULT_HANG_MS));
        Some((a.kinds[pick as usize], hang))
    }
}

/// Carries out a fault decided for `req`: an error response, or a connection reset (after a
/// hang). Without a connection killer a reset degrades to a 502.
pub async fn apply(
    kind: FaultKind,
    hang: Duration,
    killer: Option<crate::net::Killer>,
) -> Response {
    let json = |status: StatusCode, what: &str| {
        (
            status,
            Json(ApiError {
                code: "faultInjected".into(),
                message: format!("{what} injected by the test-mode fault configuration"),
            }),
        )
            .into_response()
    };
    let text = |status: StatusCode, content_type: &'static str, body: &'static str| {
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(content_type),
        );
        resp
    };
    match kind {
        FaultKind::BadGateway => json(StatusCode::BAD_GATEWAY, "502"),
        FaultKind::Unavailable => json(StatusCode::SERVICE_UNAVAILABLE, "503"),
        FaultKind::Garbage => text(
            StatusCode::OK,
            "application/json",
            "{\"id\": 1, \"created\": tru<!-- garbage injected by the test-mode fault configuration",
        ),
        FaultKind::Html => text(
            StatusCode::BAD_GATEWAY,
            "text/html; charset=utf-8",
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        ),
        FaultKind::TooLarge => text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=utf-8",
            "request body too large (injected by the test-mode fault configuration)",
        ),
        FaultKind::TooMany => AppError::RateLimited {
            retry_after_secs: 2,
        }
        .into_response(),
        FaultKind::Hang | FaultKind::Reset => {
            if kind == FaultKind::Hang {
                tokio::time::sleep(hang).await;
            }
            match killer {
                Some(k) => {
                    k.reset();
                    json(StatusCode::BAD_GATEWAY, "reset")
                }
                None => json(StatusCode::BAD_GATEWAY, "reset (as 502)"),
            }
        }
    }
}

/// The test-mode middleware: faults matching API requests before their handler runs.
/// `/api/v1/test/...` is never faulted.
pub async fn inject(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/api/v1/test/") {
        return next.run(req).await;
    }
    match s.faults.decide(&path) {
        None => next.run(req).await,
        Some((kind, hang)) => {
            tracing::info!(%path, ?kind, "fault injected");
            let killer = crate::net::conn_info(&req).map(|c| c.killer.clone());
            drop(req);
            apply(kind, hang, killer).await
        }
    }
}

/// `POST /api/v1/test/faults`.
pub async fn set_faults(
    State(s): State<AppState>,
    crate::routes::ApiJson(config): crate::routes::ApiJson<FaultConfig>,
) -> Result<Json<FaultState>, AppError> {
    s.faults
        .set(config)
        .map(Json)
        .map_err(|m| AppError::bad("invalidFaults", m))
}

/// `GET /api/v1/test/faults`.
pub async fn get_faults(State(s): State<AppState>) -> Json<FaultState> {
    Json(s.faults.state())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rate: f64, seed: u64) -> FaultConfig {
        FaultConfig {
            routes: vec!["/api/v1/upload-sessions*".into()],
            rate,
            kinds: vec!["502".into(), "503".into()],
            seed,
            hang_ms: None,
        }
    }

    #[test]
    fn same_seed_same_faults() {
        let run = |seed| {
            let f = Faults::with(cfg(0.3, seed)).unwrap();
            (0..200)
                .map(|_| f.decide("/api/v1/upload-sessions/commit").map(|(k, _)| k))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let n = a.iter().filter(|x| x.is_some()).count();
        assert!((30..90).contains(&n), "rate 0.3 of 200 → {n}");
        assert!(
            a.contains(&Some(FaultKind::BadGateway)) && a.contains(&Some(FaultKind::Unavailable))
        );
    }

    #[test]
    fn only_matching_routes_and_valid_configs() {
        let f = Faults::with(cfg(1.0, 1)).unwrap();
        assert!(f.decide("/api/v1/status").is_none());
        assert!(f.decide("/api/v1/upload-sessions").is_some());
        assert_eq!(f.state().matched, 1);
        assert!(validate(&FaultConfig {
            rate: 1.5,
            ..cfg(0.1, 1)
        })
        .is_err());
        assert!(validate(&FaultConfig {
            kinds: vec!["500".into()],
            ..cfg(0.1, 1)
        })
        .is_err());
        assert!(Faults::with(FaultConfig {
            routes: vec![],
            ..cfg(1.0, 1)
        })
        .unwrap()
        .decide("/x")
        .is_none());
    }
}
