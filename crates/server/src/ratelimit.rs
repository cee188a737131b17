//! Rate limiting of failed authentication per client IP: a token bucket of
//! `auth_failure_burst` attempts that earns one back every `auth_failure_refill_secs`. Every
//! response marked [`AuthFailure`] (unknown/revoked key, bad session token, wrong password)
//! takes a token; while an address has none left, every request from it that presents a
//! credential (or signs in) gets `429 rateLimited` with `Retry-After` — valid keys included,
//! otherwise the limit would still let a guesser tell a hit from a miss.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, AuthFailure};
use crate::AppState;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Failed-authentication buckets per IP.
pub struct AuthLimiter {
    burst: f64,
    refill_secs: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// Buckets kept before full ones are pruned.
const MAX_TRACKED: usize = 10_000;

impl AuthLimiter {
    pub fn new(burst: u32, refill_secs: f64) -> Self {
        AuthLimiter {
            burst: f64::from(burst.max(1)),
            refill_secs: if refill_secs.is_finite() && refill_secs > 0.0 {
                refill_secs
            } else {
                1.0
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let earned = now.duration_since(b.at).as_secs_f64() / self.refill_secs;
        b.tokens = (b.tokens + earned).min(self.burst);
        b.at = now;
    }

    /// `Err(seconds)` when `ip` has no attempts left.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        match map.get_mut(&ip) {
            None => Ok(()),
            Some(b) => {
                self.refill(b, now);
                if b.tokens >= 1.0 {
                    Ok(())
                } else {
                    Err(((1.0 - b.tokens) * self.refill_secs).ceil().max(1.0) as u64)
                }
            }
        }
    }

    /// Records a failed authentication from `ip`.
    pub fn fail(&self, ip: IpAddr) {
        let Ok(mut map) = self.buckets.lock() else {
            return;
        };
        let now = Instant::now();
        if map.len() >= MAX_TRACKED {
            let (burst, refill) = (self.burst, self.refill_secs);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() / refill < burst);
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }
}

/// The client address of a request: the peer, or with `trust_forwarded_for` the last entry of
/// `X-Forwarded-For` (the one the trusted proxy appended).
pub fn client_ip(req: &Request, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    crate::net::conn_info(req)
        .map(|c| c.remote.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Middleware applying [`AuthLimiter`] to the API.
pub async fn limit(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let presents = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
        || path == "/api/v1/auth/sign-in";
    if !presents || path.starts_with("/api/v1/test/") {
        return next.run(req).await;
    }
    let ip = client_ip(&req, s.config.trust_forwarded_for);
    if let Err(retry_after_secs) = s.limiter.check(ip) {
        return AppError::RateLimited { retry_after_secs }.into_response();
    }
    let resp = next.run(req).await;
    if resp.extensions().get::<AuthFailure>().is_some() {
        s.limiter.fail(ip);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let l = AuthLimiter::new(3, 0.05);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
            l.fail(ip);
        }
        assert_eq!(l.check(ip), Err(1));
        assert!(l.check(other).is_ok(), "per address");
        std::thread::sleep(std::time::Duration::from_millis(80));
        assert!(l.check(ip).is_ok(), "one attempt earned back");
    }
}
