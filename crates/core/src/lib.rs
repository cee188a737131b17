//! finsync's pure core: everything that needs no browser and no server runtime.
//!
//! * [`api`] — the wire types of the sync API, shared by the app and the reference server so the
//!   two cannot drift.
//! * [`media`] — which files are images, by name.
//! * [`fingerprint`] — content fingerprints and the image idempotency key (spec decision 7).
//! * [`sas`] — Azure Blob service/account SAS signing (HMAC-SHA256 over the documented
//!   string-to-sign), used by the server and, for storage connections, by the app.
//! * [`cloud`] — saved Azure storage connections, where an image's bytes are
//!   ([`cloud::ImageSource`]), and the read URLs the server copies source blobs from.
//! * [`sas_token`] — checks a pasted SAS token (permissions, resource types, expiry, IP
//!   restriction) and says what is missing; [`blob_list`] — List Blobs pages and storage
//!   error bodies, parsed, and what each failure means for the person.
//! * [`engine`] — the sync engine as a sans-IO state machine (events in, commands out).
//! * [`normalize`] — text normalisation used by encounter dedup.
//! * [`order`] — stable sorting with one compiled copy of the sort (a smaller WASM).
//! * [`calendar`] — local dates and times without a clock (proleptic Gregorian arithmetic).
//! * [`metadata`] — EXIF/IPTC/PNG metadata from a byte prefix of an image file (discovery).
//! * [`rules`] — per-field fallback chains of sources (EXIF, IPTC, folder/file-name patterns,
//!   manual) that give each value with the source it came from.
//! * [`grouping`] — images → encounter drafts by a strategy, with confidence and completeness.
//! * [`manifest`] — versioned manifests, photographer resolution, approval, and
//!   materialisation into the encounter records kept in IndexedDB.
//!
//! Nothing in this crate does I/O, reads a clock or draws random numbers: times and keys are
//! passed in. That keeps it testable natively and usable from WASM.

pub mod api;
pub mod blob_list;
pub mod calendar;
pub mod cloud;
pub mod engine;
pub mod fingerprint;
pub mod grouping;
pub mod manifest;
pub mod media;
pub mod metadata;
pub mod normalize;
pub mod order;
pub mod rules;
pub mod sas;
pub mod sas_token;
