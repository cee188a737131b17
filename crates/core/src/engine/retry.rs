//! Retry policy (spec decision 1) and PUT timeout (decision 2), plus the engine's tiny PRNG.
//!
//! | Operation                         | Attempts | Waits before attempt 2, 3         |
//! |-----------------------------------|----------|-----------------------------------|
//! | find-or-create encounter          | 2        | 0 ms                              |
//! | create upload sessions (and SAS refresh) | 2 | 0 ms                              |
//! | commit                            | 3        | 2 000 ms, 4 000 ms                |
//! | blob PUT                          | 3        | 5 000 ms ± 50 %, 10 000 ms ± 50 % |
//! | server-side copy (per image)      | 3        | 2 000 ms, 4 000 ms                |
//!
//! * Retried: 5xx, network errors (no response) and timeouts. All five operations are
//!   idempotent on the server (dedup, upserts, idempotent commit, PUT and copy overwrite the
//!   session's blob), so a retry after a lost answer is safe. A copy is also retried when the
//!   server reports the item `copyTimeout` or `copyPending` (the storage service's
//!   asynchronous copy did not finish in the server's polling window): see
//!   [`crate::cloud::copy_error`].
//! * Busy: a `429 Too Many Requests` is retried like a 5xx (same attempts and waits). When a
//!   429 or 5xx carries `Retry-After`, the wait before the next attempt is at least that long
//!   (the policy's wait if that is longer; no jitter below it). A `Retry-After` beyond
//!   [`MAX_RETRY_AFTER_MS`] is not waited for: the operation fails at once with the server's
//!   message, which says how long it asked for.
//! * Not retried: every other 4xx — except an expired SAS on a PUT (403 `AuthenticationFailed` or a
//!   message with "Signature not valid"): the engine fetches a fresh upload session for the image
//!   once per attempt and PUTs again without using up the attempt. A second expiry in the same
//!   attempt counts as a failed attempt, and the next attempt starts with a refresh.
//! * Locked: a PUT answered `412 LeaseIdMissing` (the server leased the blob in a commit that
//!   was refused or interrupted, and the lease stayed) is handled like an expired SAS: the
//!   engine asks for the image's session again — the server then breaks the lease of an
//!   uncommitted blob — and PUTs again with the fresh URL.
//! * Offline: a network error or timeout that arrives while the engine knows it is offline does
//!   not use up an attempt; the request is sent again when the network is back.
//! * The docs give no wait for the session retry ("1 retry on 5xx"): it is sent at once.
//! * Jitter: a wait `w` becomes uniform in `[w - w/2, w + w/2]` (inclusive, whole ms), drawn from
//!   [`SplitMix64`] seeded by the driver, so a run is reproducible from its seed.

use serde::{Deserialize, Serialize};

use super::io::HttpFailure;
use super::state::FailureKind;

/// The operations with a retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    FindOrCreate,
    /// Creating upload sessions, including the one-image refresh after an expired SAS.
    Sessions,
    Commit,
    Put,
    /// One image's server-side copy (spec §6.1: 3 retries, backoff 2 s, 4 s, read as 3
    /// attempts like commits). The images of one copy request share its failures.
    Copy,
}

/// How often and how patiently an operation is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in total (first try included).
    pub max_attempts: u8,
    /// Wait before attempt `n + 2` is `waits_ms[n]`.
    pub waits_ms: &'static [u64],
    /// Whether waits are jittered by ±50 %.
    pub jitter: bool,
}

impl OpKind {
    pub const fn policy(self) -> Policy {
        match self {
            OpKind::FindOrCreate | OpKind::Sessions => Policy {
                max_attempts: 2,
                waits_ms: &[0],
                jitter: false,
            },
            OpKind::Commit | OpKind::Copy => Policy {
                max_attempts: 3,
                waits_ms: &[2_000, 4_000],
                jitter: false,
            },
            OpKind::Put => Policy {
                max_attempts: 3,
                waits_ms: &[5_000, 10_000],
                jitter: true,
            },
        }
    }
}

/// PUT timeout: 60 s plus 10 s per MiB of body, pro rata, rounded up to the millisecond.
pub fn put_timeout_ms(size: u64) -> u64 {
    const MIB: u128 = 1024 * 1024;
    let extra = (size as u128 * 10_000).div_ceil(MIB);
    60_000u64.saturating_add(u64::try_from(extra).unwrap_or(u64::MAX))
}

/// The reference server's defaults for a copy request: it polls each pending copy for up to
/// 120 s (`--copy-timeout-secs`) and works on 4 items at once.
pub const SERVER_COPY_POLL_MS: u64 = 120_000;
pub const SERVER_COPY_PARALLEL: u64 = 4;

/// Timeout of a copy request of `items` images: the API timeout plus the server's polling
/// window for every round of [`SERVER_COPY_PARALLEL`] items (copies on real Azure are
/// asynchronous and may take that long; Azurite's finish at once, so this is only a bound).
pub fn copy_timeout_ms(api_timeout_ms: u64, items: usize) -> u64 {
    let rounds = (items as u64).div_ceil(SERVER_COPY_PARALLEL).max(1);
    api_timeout_ms.saturating_add(rounds.saturating_mul(SERVER_COPY_POLL_MS))
}

/// What kind of failure an [`HttpFailure`] is, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// No answer: network error or timeout.
    NoAnswer,
    /// 5xx, or 429 (the server or a proxy is busy).
    ServerError,
    /// 403 from Azure saying the SAS is no longer valid.
    SasExpired,
    /// 412 `LeaseIdMissing` from Azure: the server has leased the image's blob (a commit of it
    /// was refused or interrupted and the lease stayed). Asking for the session again makes the
    /// server break the lease.
    Locked,
    /// Any other non-2xx answer.
    Refused,
    /// A 2xx answer that could not be decoded.
    Malformed,
}

pub fn classify(failure: &HttpFailure) -> FailureClass {
    match failure {
        HttpFailure::Network { .. } | HttpFailure::Timeout => FailureClass::NoAnswer,
        HttpFailure::Malformed { .. } => FailureClass::Malformed,
        HttpFailure::Status { status, .. } if (500..=599).contains(status) || *status == 429 => {
            FailureClass::ServerError
        }
        HttpFailure::Status {
            status: 403,
            error,
            azure_code,
            message,
            ..
        } => {
            let code_says = |c: &str| c.eq_ignore_ascii_case("AuthenticationFailed");
            let text_says = |m: &str| m.contains("Signature not valid");
            let expired = azure_code.as_deref().is_some_and(code_says)
                || error.as_ref().is_some_and(|e| code_says(&e.code))
                || error.as_ref().is_some_and(|e| text_says(&e.message))
                || message.as_deref().is_some_and(text_says);
            if expired {
                FailureClass::SasExpired
            } else {
                FailureClass::Refused
            }
        }
        HttpFailure::Status {
            status: 412,
            azure_code: Some(code),
            ..
        } if code.eq_ignore_ascii_case(LEASE_ID_MISSING) => FailureClass::Locked,
        HttpFailure::Status { .. } => FailureClass::Refused,
    }
}

/// Azure's `x-ms-error-code` for a write to a leased blob without the lease ID.
pub const LEASE_ID_MISSING: &str = "LeaseIdMissing";

/// `true` when an answer of the sync API (not the blob store) means the key is not accepted
/// (401 invalid key, 403 access denied): nothing else can succeed, the run stops.
/// A 403 `notInPopulation` is about one encounter (of another population, or one the server
/// no longer has), not the key: it fails that encounter only.
pub fn stops_sync(failure: &HttpFailure) -> bool {
    match failure {
        HttpFailure::Status { status: 401, .. } => true,
        HttpFailure::Status {
            status: 403, error, ..
        } => error.as_ref().is_none_or(|e| e.code != NOT_IN_POPULATION),
        _ => false,
    }
}

/// The API's error code for an encounter the key cannot see.
pub const NOT_IN_POPULATION: &str = "notInPopulation";

/// The longest `Retry-After` the engine waits for (10 minutes); a longer one fails the
/// operation at once instead of holding the sync.
pub const MAX_RETRY_AFTER_MS: u64 = 600_000;

/// The `Retry-After` of a failure, in ms (only a status answer carries one).
pub fn retry_after_ms(failure: &HttpFailure) -> Option<u64> {
    match failure {
        HttpFailure::Status { retry_after_ms, .. } => *retry_after_ms,
        _ => None,
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The failure came while offline: send the same attempt again once online.
    Requeue,
    /// PUT only: fetch a fresh SAS for the image, then PUT again in the same attempt.
    RefreshSas,
    /// Start the next attempt after `after_ms`; with `refresh_first` the SAS is refreshed
    /// before the PUT (its URL is known to be expired).
    Retry { after_ms: u64, refresh_first: bool },
    /// No more attempts.
    GiveUp(FailureKind),
}

/// Attempt bookkeeping of one operation (one request, or one image's PUT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempts {
    kind: OpKind,
    attempt: u8,
    refreshed: bool,
}

impl Attempts {
    pub fn new(kind: OpKind) -> Self {
        Attempts {
            kind,
            attempt: 1,
            refreshed: false,
        }
    }

    /// The current attempt, 1-based.
    pub fn attempt(&self) -> u8 {
        self.attempt
    }

    /// Decides after a failure of the current attempt. `offline` is whether the engine knows
    /// the network is down; `rng` draws the jitter.
    pub fn on_failure(
        &mut self,
        failure: &HttpFailure,
        offline: bool,
        rng: &mut SplitMix64,
    ) -> Decision {
        match classify(failure) {
            FailureClass::NoAnswer if offline => Decision::Requeue,
            FailureClass::NoAnswer => self.next(rng, false),
            FailureClass::ServerError => match retry_after_ms(failure) {
                Some(wait) if wait > MAX_RETRY_AFTER_MS => {
                    Decision::GiveUp(FailureKind::RetriesExhausted)
                }
                Some(wait) => match self.next(rng, false) {
                    Decision::Retry {
                        after_ms,
                        refresh_first,
                    } => Decision::Retry {
                        after_ms: after_ms.max(wait),
                        refresh_first,
                    },
                    other => other,
                },
                None => self.next(rng, false),
            },
            FailureClass::SasExpired | FailureClass::Locked if self.kind == OpKind::Put => {
                if self.refreshed {
                    self.next(rng, true)
                } else {
                    self.refreshed = true;
                    Decision::RefreshSas
                }
            }
            FailureClass::SasExpired | FailureClass::Locked | FailureClass::Refused => {
                Decision::GiveUp(FailureKind::Rejected)
            }
            FailureClass::Malformed => Decision::GiveUp(FailureKind::BadResponse),
        }
    }

    /// Decides after a transient failure that is not an HTTP failure (a copy item the server
    /// reports as not finished yet): the next attempt after the policy's wait, or give up.
    pub fn on_transient(&mut self, rng: &mut SplitMix64) -> Decision {
        self.next(rng, false)
    }

    fn next(&mut self, rng: &mut SplitMix64, refresh_first: bool) -> Decision {
        let policy = self.kind.policy();
        if self.attempt >= policy.max_attempts {
            return Decision::GiveUp(FailureKind::RetriesExhausted);
        }
        let base = policy
            .waits_ms
            .get(usize::from(self.attempt) - 1)
            .copied()
            .unwrap_or(0);
        let after_ms = if policy.jitter {
            jittered(base, rng)
        } else {
            base
        };
        self.attempt += 1;
        // The next attempt's one refresh is spent up front when the URL is known to be bad.
        self.refreshed = refresh_first;
        Decision::Retry {
            after_ms,
            refresh_first,
        }
    }
}

/// `base` ± 50 %, uniform over whole milliseconds, bounds included.
pub fn jittered(base: u64, rng: &mut SplitMix64) -> u64 {
    let half = base / 2;
    base - half + rng.below(2 * half + 1)
}

/// SplitMix64 (Vigna): tiny, fast, good enough for jitter, and trivially reproducible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n` (multiply-shift; bias below 2^-40 for the ranges used here);
    /// `0` when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// `true` with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    fn s503() -> HttpFailure {
        HttpFailure::status(503)
    }

    fn net() -> HttpFailure {
        HttpFailure::Network {
            detail: "reset".into(),
        }
    }

    fn expired() -> HttpFailure {
        HttpFailure::Status {
            status: 403,
            error: None,
            azure_code: Some("AuthenticationFailed".into()),
            message: Some("Signature not valid in the specified time frame".into()),
            retry_after_ms: None,
        }
    }

    /// Decisions for a run of identical failures until the policy gives up.
    fn sequence(kind: OpKind, failure: &HttpFailure, seed: u64) -> Vec<Decision> {
        let mut a = Attempts::new(kind);
        let mut rng = SplitMix64::new(seed);
        let mut out = Vec::new();
        loop {
            let d = a.on_failure(failure, false, &mut rng);
            out.push(d);
            if matches!(d, Decision::GiveUp(_)) || out.len() > 10 {
                return out;
            }
        }
    }

    fn retry(after_ms: u64) -> Decision {
        Decision::Retry {
            after_ms,
            refresh_first: false,
        }
    }

    #[test]
    fn sessions_and_find_or_create_retry_once_at_once() {
        for kind in [OpKind::Sessions, OpKind::FindOrCreate] {
            for f in [
                s503(),
                HttpFailure::status(502),
                net(),
                HttpFailure::Timeout,
            ] {
                assert_eq!(
                    sequence(kind, &f, 1),
                    vec![retry(0), Decision::GiveUp(FailureKind::RetriesExhausted)]
                );
            }
        }
    }

    #[test]
    fn commits_try_three_times_waiting_2s_then_4s() {
        for f in [s503(), net(), HttpFailure::Timeout] {
            assert_eq!(
                sequence(OpKind::Commit, &f, 1),
                vec![
                    retry(2_000),
                    retry(4_000),
                    Decision::GiveUp(FailureKind::RetriesExhausted)
                ]
            );
        }
    }

    fn busy(status: u16, retry_after_ms: Option<u64>) -> HttpFailure {
        HttpFailure::Status {
            status,
            error: None,
            azure_code: None,
            message: None,
            retry_after_ms,
        }
    }

    #[test]
    fn a_429_is_retried_like_a_5xx_and_waits_at_least_its_retry_after() {
        // Without Retry-After: the policy's waits, as for a 503.
        assert_eq!(
            sequence(OpKind::Commit, &busy(429, None), 1),
            sequence(OpKind::Commit, &s503(), 1)
        );
        // Retry-After longer than the policy's wait wins; shorter does not shorten it.
        assert_eq!(
            sequence(OpKind::Commit, &busy(429, Some(3_000)), 1),
            vec![
                retry(3_000),
                retry(4_000),
                Decision::GiveUp(FailureKind::RetriesExhausted)
            ]
        );
        assert_eq!(
            sequence(OpKind::Sessions, &busy(429, Some(7_000)), 1),
            vec![
                retry(7_000),
                Decision::GiveUp(FailureKind::RetriesExhausted)
            ]
        );
        assert_eq!(
            sequence(OpKind::FindOrCreate, &busy(503, Some(1_500)), 1),
            vec![
                retry(1_500),
                Decision::GiveUp(FailureKind::RetriesExhausted)
            ]
        );
        // A PUT's jittered wait never goes below Retry-After.
        for seed in 0..500 {
            let seq = sequence(OpKind::Put, &busy(429, Some(9_000)), seed);
            let Decision::Retry { after_ms, .. } = seq[0] else {
                panic!("{seq:?}")
            };
            // Jittered 2.5–7.5 s, all below Retry-After.
            assert_eq!(after_ms, 9_000, "{seq:?}");
            let Decision::Retry { after_ms, .. } = seq[1] else {
                panic!("{seq:?}")
            };
            assert!((9_000..=15_000).contains(&after_ms), "{seq:?}");
        }
        // Longer than the engine waits for: fail now, with the server's words.
        assert_eq!(
            sequence(OpKind::Commit, &busy(429, Some(MAX_RETRY_AFTER_MS + 1)), 1),
            vec![Decision::GiveUp(FailureKind::RetriesExhausted)]
        );
        assert_eq!(
            sequence(OpKind::Commit, &busy(429, Some(MAX_RETRY_AFTER_MS)), 1)[0],
            retry(MAX_RETRY_AFTER_MS)
        );
    }

    #[test]
    fn copies_try_three_times_waiting_exactly_2s_then_4s() {
        for f in [
            s503(),
            HttpFailure::status(502),
            net(),
            HttpFailure::Timeout,
        ] {
            // No jitter: the same sequence for every seed.
            for seed in [0, 1, 99] {
                assert_eq!(
                    sequence(OpKind::Copy, &f, seed),
                    vec![
                        retry(2_000),
                        retry(4_000),
                        Decision::GiveUp(FailureKind::RetriesExhausted)
                    ]
                );
            }
        }
        // An item the server reports as still copying follows the same schedule.
        let mut a = Attempts::new(OpKind::Copy);
        let mut rng = SplitMix64::new(5);
        assert_eq!(a.on_transient(&mut rng), retry(2_000));
        assert_eq!(a.attempt(), 2);
        assert_eq!(a.on_transient(&mut rng), retry(4_000));
        assert_eq!(
            a.on_transient(&mut rng),
            Decision::GiveUp(FailureKind::RetriesExhausted)
        );
        // A 403 from the API is a refusal, never an expired-SAS refresh: copies have no SAS
        // of their own to refresh.
        assert_eq!(
            sequence(OpKind::Copy, &expired(), 1),
            vec![Decision::GiveUp(FailureKind::Rejected)]
        );
    }

    #[test]
    fn puts_try_three_times_with_jittered_waits_in_bounds() {
        let mut seen = [(u64::MAX, 0u64); 2];
        for seed in 0..2_000 {
            let seq = sequence(OpKind::Put, &s503(), seed);
            assert_eq!(seq.len(), 3, "{seq:?}");
            assert_eq!(seq[2], Decision::GiveUp(FailureKind::RetriesExhausted));
            for (i, (lo, hi)) in [(2_500, 7_500), (5_000, 15_000)].into_iter().enumerate() {
                let Decision::Retry {
                    after_ms,
                    refresh_first: false,
                } = seq[i]
                else {
                    panic!("{seq:?}")
                };
                assert!((lo..=hi).contains(&after_ms), "seed {seed}: {after_ms}");
                seen[i] = (seen[i].0.min(after_ms), seen[i].1.max(after_ms));
            }
        }
        // The whole range is used, not a corner of it.
        assert!(seen[0].0 < 2_600 && seen[0].1 > 7_400, "{seen:?}");
        assert!(seen[1].0 < 5_200 && seen[1].1 > 14_800, "{seen:?}");
        // Deterministic given the seed.
        assert_eq!(
            sequence(OpKind::Put, &s503(), 42),
            sequence(OpKind::Put, &s503(), 42)
        );
    }

    #[test]
    fn client_errors_are_not_retried() {
        for kind in [
            OpKind::FindOrCreate,
            OpKind::Sessions,
            OpKind::Commit,
            OpKind::Put,
            OpKind::Copy,
        ] {
            for status in [400, 401, 404, 409, 413] {
                assert_eq!(
                    sequence(kind, &HttpFailure::status(status), 1),
                    vec![Decision::GiveUp(FailureKind::Rejected)]
                );
            }
            let bad = HttpFailure::Malformed {
                detail: "not json".into(),
            };
            assert_eq!(
                sequence(kind, &bad, 1),
                vec![Decision::GiveUp(FailureKind::BadResponse)]
            );
        }
        // A plain 403 on a PUT (e.g. CannotVerifyCopySource) is not an expired SAS.
        let forbidden = HttpFailure::Status {
            status: 403,
            error: None,
            azure_code: Some("AuthorizationPermissionMismatch".into()),
            message: None,
            retry_after_ms: None,
        };
        assert_eq!(
            sequence(OpKind::Put, &forbidden, 1),
            vec![Decision::GiveUp(FailureKind::Rejected)]
        );
    }

    #[test]
    fn expired_sas_refreshes_once_per_attempt() {
        let mut a = Attempts::new(OpKind::Put);
        let mut rng = SplitMix64::new(3);
        assert_eq!(
            a.on_failure(&expired(), false, &mut rng),
            Decision::RefreshSas
        );
        assert_eq!(a.attempt(), 1);
        // Expired again within the same attempt: the attempt is used up, the next one starts
        // with a refresh.
        let Decision::Retry {
            after_ms,
            refresh_first: true,
        } = a.on_failure(&expired(), false, &mut rng)
        else {
            panic!()
        };
        assert!((2_500..=7_500).contains(&after_ms));
        assert_eq!(a.attempt(), 2);
        // Attempt 2 already spent its refresh up front.
        assert!(matches!(
            a.on_failure(&expired(), false, &mut rng),
            Decision::Retry {
                refresh_first: true,
                ..
            }
        ));
        assert_eq!(a.attempt(), 3);
        assert_eq!(
            a.on_failure(&expired(), false, &mut rng),
            Decision::GiveUp(FailureKind::RetriesExhausted)
        );

        // A 5xx after a refresh starts a fresh attempt whose refresh is available again.
        let mut a = Attempts::new(OpKind::Put);
        assert_eq!(
            a.on_failure(&expired(), false, &mut rng),
            Decision::RefreshSas
        );
        assert!(matches!(
            a.on_failure(&s503(), false, &mut rng),
            Decision::Retry {
                refresh_first: false,
                ..
            }
        ));
        assert_eq!(
            a.on_failure(&expired(), false, &mut rng),
            Decision::RefreshSas
        );

        // Recognised by code or by message, from Azure or in an API error body.
        let by_message = HttpFailure::Status {
            status: 403,
            error: None,
            azure_code: None,
            message: Some("Signature not valid in the specified time frame".into()),
            retry_after_ms: None,
        };
        let by_body = HttpFailure::Status {
            status: 403,
            error: Some(ApiError {
                code: "AuthenticationFailed".into(),
                message: String::new(),
            }),
            azure_code: None,
            message: None,
            retry_after_ms: None,
        };
        for f in [by_message, by_body] {
            assert_eq!(classify(&f), FailureClass::SasExpired);
        }
        // Only PUTs refresh; an API 403 is a refusal.
        assert_eq!(
            sequence(OpKind::Sessions, &expired(), 1),
            vec![Decision::GiveUp(FailureKind::Rejected)]
        );
    }

    #[test]
    fn offline_failures_do_not_use_attempts() {
        let mut a = Attempts::new(OpKind::Commit);
        let mut rng = SplitMix64::new(0);
        for _ in 0..10 {
            assert_eq!(a.on_failure(&net(), true, &mut rng), Decision::Requeue);
            assert_eq!(
                a.on_failure(&HttpFailure::Timeout, true, &mut rng),
                Decision::Requeue
            );
        }
        assert_eq!(a.attempt(), 1);
        // A real answer while "offline" is still an answer.
        assert_eq!(a.on_failure(&s503(), true, &mut rng), retry(2_000));
    }

    #[test]
    fn copy_timeout_covers_the_servers_polling_rounds() {
        assert_eq!(copy_timeout_ms(30_000, 1), 150_000);
        assert_eq!(copy_timeout_ms(30_000, 4), 150_000);
        assert_eq!(copy_timeout_ms(30_000, 5), 270_000);
        assert_eq!(copy_timeout_ms(30_000, 0), 150_000);
    }

    #[test]
    fn put_timeout_is_60s_plus_10s_per_mib() {
        assert_eq!(put_timeout_ms(0), 60_000);
        assert_eq!(put_timeout_ms(1), 60_001);
        assert_eq!(put_timeout_ms(1024 * 1024), 70_000);
        assert_eq!(put_timeout_ms(3 * 1024 * 1024 / 2), 75_000);
        assert_eq!(put_timeout_ms(25 * 1024 * 1024), 310_000);
        assert!(put_timeout_ms(u64::MAX) > 60_000); // no overflow
    }

    #[test]
    fn auth_refusals_stop_the_sync() {
        assert!(stops_sync(&HttpFailure::status(401)));
        assert!(stops_sync(&HttpFailure::status(403)));
        let not_in_population = HttpFailure::Status {
            status: 403,
            error: Some(crate::api::ApiError {
                code: NOT_IN_POPULATION.into(),
                message: "not in this population".into(),
            }),
            azure_code: None,
            message: None,
            retry_after_ms: None,
        };
        assert!(!stops_sync(&not_in_population));
        assert!(!stops_sync(&HttpFailure::status(404)));
        assert!(!stops_sync(&HttpFailure::Timeout));
    }

    #[test]
    fn splitmix64_matches_the_reference() {
        // Reference values of Vigna's splitmix64.c seeded with 1234567.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(r.next_u64(), 9_817_491_932_198_370_423);
        assert_eq!(SplitMix64::new(9).below(0), 0);
    }
}
