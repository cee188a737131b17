//! Sync in the browser: the thin I/O shell around `finsync_core::engine`.
//!
//! * [`plan`] — turns a picked folder into planned encounters (fingerprints, idempotency keys).
//! * [`driver`] — runs the engine: performs its commands (API calls, PUTs, IndexedDB writes,
//!   timers) and feeds back events, following the contract in `finsync_core::engine`.
//! * [`lock`] — one tab syncs at a time (Web Locks); persistent storage.
//! * [`timer`] — monotonic clock and a cancellable sleep.

pub mod driver;
pub mod lock;
pub mod plan;
pub mod timer;
