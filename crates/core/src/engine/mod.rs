//! The sync engine: a deterministic, sans-IO state machine (quinn-proto / str0m shape).
//!
//! It owns the *decisions* of a sync — what to send next, what to retry and when, what to
//! persist — and none of the I/O: no clock, no randomness, no network, no storage. The driver
//! (the browser app) performs the [`Command`]s and reports back with [`Event`]s. Everything is
//! reproducible from the inputs, which is what lets the `sim` test module replay a seed exactly.
//!
//! # Files
//!
//! * [`plan`] — input: [`Plan`] (encounters, images, persisted state) and [`Config`].
//! * [`io`] — [`Event`]s in, [`Command`]s out, [`Progress`], [`Summary`].
//! * [`state`] — what the driver persists ([`ImageStatus`], [`EncounterStatus`], [`Failure`],
//!   [`Persist`]) and [`SyncStore`], the reference model of applying it.
//! * [`retry`] — the retry policy of spec decision 1, the PUT timeout (decision 2), the PRNG.
//! * `machine` — [`Engine`] itself.
//!
//! # Driver contract
//!
//! 1. Build the plan from the approved encounters and overlay what is persisted
//!    ([`Plan::with_store`]); create the engine with [`Engine::new`]. If the browser is offline,
//!    feed [`Event::WentOffline`] first. Then feed [`Event::Start`].
//! 2. After **every** [`Engine::handle`], drain [`Engine::poll_command`] until `None` and act on
//!    the commands **in order**:
//!    * [`Command::Persist`] is write-ahead: make it durable (IndexedDB transaction complete)
//!      before acting on any command polled after it. This is what makes a crash at any point
//!      safe: e.g. the remote encounter id is on disk before the first upload-session request
//!      for it, and an image is `Uploaded` on disk before its commit is sent. (It also bounds
//!      what a resume re-sends: a finished PUT's `Uploaded` is durable before the next PUT
//!      starts, so at most the PUTs in flight go again.)
//!    * [`Command::ApiRequest`] / [`Command::PutBlob`]: start the request (they may run in
//!      parallel: the engine already limits PUTs to the concurrency), then report its end with
//!      [`Event::ApiResponse`] / [`Event::PutDone`] carrying the same `request_id`, enforcing
//!      `timeout_ms` ([`HttpFailure::Timeout`]).
//!    * [`Command::Progress`]: update the UI. [`Command::Finished`]: the run is over.
//! 3. Then ask [`Engine::poll_timeout`] and (re)arm one timer for that absolute time; when it
//!    fires, feed [`Event::TimerFired`]. `None` means no timer.
//! 4. Forward `online`/`offline`, the concurrency selector and Pause/Resume/Cancel as events.
//!    Every event carries `now_ms` from one monotonic clock (e.g. `performance.now()` rounded).
//!
//! The engine never emits a command except from `handle`, so a driver that follows 2–3 after
//! each event never misses one.
//!
//! # Flow (spec §4.2–4.4)
//!
//! Encounters go one after another. For each: images that cannot be sent are skipped (too
//! large, bad file name, duplicate content in the same encounter); find-or-create unless the
//! remote encounter is known (its id is persisted at once) — preceded, for a photographer
//! marked "Create on sync" ([`PlanUser`]) whom no earlier encounter or run created, by creating
//! the user (its id is persisted at once, [`Persist::UserCreated`], and sent as the
//! find-or-create's `photographerUserId`; a refusal fails the encounter at
//! [`Step::CreateUser`]); then, per batch of `batch_size`
//! images: create upload sessions (images the server already has come back `Complete` and are
//! done), PUT up to `concurrency` images at a time, commit the uploaded ones. The encounter
//! ends `Synced`, `Partial` (some images failed or were skipped; completed ones are kept) or
//! `Failed`. Images already `Complete` or `Skipped` are never sent again; `Uploaded` ones are
//! committed without a new PUT; `Failed` ones are retried by the next run ("Retry").
//!
//! Azure-sourced images ([`PlanImage::source`], issue 8) take the same path except the PUT:
//! once a batch's sessions exist, its Azure images go to the server in one
//! [`ApiRequest::CopyBlobs`] (by [`crate::cloud::BlobRef`]: the driver mints the read SAS URLs
//! when it sends it, so no secret is in a command, a persisted state or a log). `copied` ones
//! are persisted `Uploaded` and committed with the batch, `complete` ones are done, and an
//! item error is retried (`copyTimeout`/`copyPending`: the copy retry policy), skipped (the
//! source blob is gone, or changed since the scan — seen at commit) or fails the image with an
//! explanation of what to fix ([`crate::cloud::copy_error`]). A failure of the whole request
//! is retried per image: 3 attempts, 2 s then 4 s. Copies take no PUT slot.
//!
//! Batches of one encounter are pipelined (spec decision 10), at most three open at once: as
//! soon as the newest open batch has its sessions and at most `concurrency` images still to
//! start (the rest started or backing off), the next batch's sessions are requested, so its
//! URLs are there before the PUT slots free up, and its PUTs overlap the older batches' last
//! PUTs and commits (a commit checks every blob: 1–2 s per batch of 25 on the benchmark's
//! machine). Its PUTs take PUT slots as they free up; the concurrency counts PUTs and SAS
//! refreshes of all open batches together, and older batches get a free slot first. Each
//! batch is committed on its own as soon as its images are uploaded or done, so several
//! commits may be in flight; a commit's failure or retries only touch its own batch. A fourth
//! batch opens only after one of the three is closed.
//! The next encounter starts when every batch of the current one is closed. A SAS refresh
//! counts toward the concurrency like a PUT.
//!
//! Known limitation (server/key design, not the engine): dedup is not transitive (location name
//! *or* GPS), so two local encounters with the same identity can land in two server
//! encounters; their images share idempotency keys (decision 7), and the server may answer
//! `Complete` for a photo it filed under the other encounter. The simulation counts these
//! cases instead of failing on them.
//!
//! Retries: see [`retry`]. Offline pauses the run: nothing new is sent, and network errors or
//! timeouts that arrive while offline are re-sent once online without using up an attempt.
//! A 401/403 from the sync API (key invalid, sync not enabled) stops the run
//! ([`Outcome::Stopped`]). Pause holds new requests (answers in flight are handled); Cancel
//! finishes at once and ignores later answers (the driver should abort what is in flight;
//! persisted state stays resumable).

pub mod io;
mod machine;
pub mod plan;
pub mod retry;
pub mod state;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

pub use io::{
    ApiRequest, ApiResponse, Command, CopyBlobRefs, CopyRef, CurrentEncounter, EncounterSummary,
    Event, HttpFailure, ImageFailure, ImageSkip, Outcome, Progress, PutFailure, RequestId,
    RunState, SourceProblem, Summary,
};
pub use machine::{Engine, LOCKED_MESSAGE};
pub use plan::{Config, Plan, PlanEncounter, PlanError, PlanImage, PlanUser};
pub use state::{
    CreatedUserRecord, EncounterRecord, EncounterStatus, Failure, FailureKind, ImageStatus,
    Persist, RemoteEncounter, SkipReason, Step, SyncStore,
};
