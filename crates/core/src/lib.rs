//! finsync's pure core: everything that needs no browser and no server runtime.
//!
//! * [`api`] — the wire types of the sync API, shared by the app and the reference server so the
//!   two cannot drift.
//! * [`media`] — which files are images, by name.
//! * [`fingerprint`] — content fingerprints and the image idempotency key (spec decision 7).
//! * [`sas`] — Azure Blob service/account SAS signing (HMAC-SHA256 over the documented
//!   string-to-sign), used by the server and, for storage connections, by the app.
//! * [`engine`] — the sync engine as a sans-IO state machine (events in, commands out).
//! * [`normalize`] — text normalisation used by encounter dedup.
//!
//! Nothing in this crate does I/O, reads a clock or draws random numbers: times and keys are
//! passed in. That keeps it testable natively and usable from WASM.

pub mod api;
pub mod engine;
pub mod fingerprint;
pub mod media;
pub mod normalize;
pub mod sas;
