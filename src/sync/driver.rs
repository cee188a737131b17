//! Runs the sans-IO engine in the browser.
//!
//! One loop: feed an event to the engine, drain its commands, make every `Persist` durable in
//! IndexedDB (one transaction per drain) **before** starting any request of that drain (the
//! engine's write-ahead contract), start API calls and PUTs as futures in a
//! `FuturesUnordered` (the engine already caps PUTs at the concurrency; the read URLs of a
//! copy request for Azure-sourced images are minted here, see `copy_call`), re-arm the one
//! timer, then wait for whichever comes first: a request ending, the timer, or a control message
//! (pause, resume, cancel, concurrency, online/offline); requests that ended meanwhile are
//! handled with it, so their changes share the next drain's transaction. The UI hears of
//! progress at most every [`UI_EVERY_MS`] and of persisted changes at most every
//! [`PERSISTED_EVERY_MS`] (a state change and the end at once). A file's check ([`FileSource::check`], a one-byte read) runs alongside its PUT, not
//! before it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use finsync_core::api::{CopyBlobs, CopyResults};
use finsync_core::cloud::StorageConnection;
use finsync_core::engine::{
    ApiRequest, ApiResponse, Command, Config, CopyBlobRefs, Engine, Event, HttpFailure, Persist,
    Plan, PlanError, Progress, PutFailure, RunState, SourceProblem, Summary,
};
use futures::future::{self, Either, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

use super::timer::{now_ms, sleep};
use crate::api::{CallError, Client};
use crate::blob_put::{put_blob, put_blocks, BlockLog, BlockState, PutError, BLOCK_THRESHOLD};
use crate::store::{Store, StoreError};

/// What the person (or the browser) asks of a running sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
    Concurrency(u8),
    Online,
    Offline,
}

/// Why a run could not go on. Failures of single images are not errors: they are in the
/// [`Summary`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum DriverError {
    #[error("the sync plan is not valid: {0}")]
    Plan(#[from] PlanError),
    #[error("could not save sync progress, so the sync stopped to stay safe: {0}")]
    Store(#[from] StoreError),
}

/// Where the driver gets each image's bytes.
pub trait FileSource {
    /// The file of `image` in `encounter`, or why it cannot be used. Asynchronous because a
    /// folder handle resolves files lazily.
    fn file(
        &self,
        encounter: &str,
        image: &str,
    ) -> LocalBoxFuture<'static, Result<web_sys::File, (SourceProblem, String)>>;

    /// Whether `file` is still the one chosen (not deleted or rewritten since), run alongside
    /// its PUT: a problem skips the image with that reason instead of it being retried as a
    /// network failure or, for a rewritten file, committed with other bytes. `None`: it is.
    fn check(
        &self,
        encounter: &str,
        image: &str,
        file: &web_sys::File,
    ) -> LocalBoxFuture<'static, Option<(SourceProblem, String)>>;
}

/// A UI callback.
pub type Notify<T> = Box<dyn Fn(&T)>;

/// Callbacks for the UI. None of them may block.
pub struct Observer {
    pub progress: Notify<Progress>,
    /// Called after each batch of changes is durable.
    pub persisted: Notify<[Persist]>,
    /// Bytes of the PUTs in flight (for a smooth progress bar between engine updates).
    pub in_flight_bytes: Notify<f64>,
}

/// What one run syncs, and with what.
pub struct Job {
    pub plan: Plan,
    pub config: Config,
    pub client: Client,
    pub store: Store,
    pub files: Rc<dyn FileSource>,
}

/// The two ends of a run's control channel: the UI keeps a clone of `tx`.
pub struct Controls {
    pub tx: futures::channel::mpsc::UnboundedSender<Control>,
    pub rx: futures::channel::mpsc::UnboundedReceiver<Control>,
}

impl Controls {
    pub fn new() -> Controls {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        Controls { tx, rx }
    }
}

impl Default for Controls {
    fn default() -> Self {
        Controls::new()
    }
}

fn map_call_error(e: CallError) -> HttpFailure {
    match e {
        CallError::Network(detail) => HttpFailure::Network { detail },
        CallError::Api {
            status,
            error,
            retry_after_ms,
        } => HttpFailure::Status {
            status,
            error: Some(error),
            azure_code: None,
            message: None,
            retry_after_ms,
        },
        CallError::Http {
            status,
            retry_after_ms,
        } => HttpFailure::Status {
            status,
            error: None,
            azure_code: None,
            message: None,
            retry_after_ms,
        },
        CallError::BadResponse(detail) => HttpFailure::Malformed { detail },
    }
}

/// How far the browser's clock may be behind the storage service's before a 403 on a PUT
/// whose SAS expires within it counts as expired.
const SAS_SKEW_MS: f64 = 30_000.0;

/// `true` when a PUT's 403 means its SAS expired: the SAS's expiry (`expires_ms`, ms since the
/// epoch) is at or before `now_ms` plus [`SAS_SKEW_MS`], whatever the storage service's error
/// code (Azure answers `AuthenticationFailed`, Azurite `AuthorizationFailure`). The engine has
/// no clock, so the driver decides.
fn sas_expired(status: u16, expires_ms: Option<f64>, now_ms: f64) -> bool {
    status == 403 && expires_ms.is_some_and(|at| at <= now_ms + SAS_SKEW_MS)
}

/// The expiry of an upload URL in ms since the epoch: the session's `expiresAt` when this run
/// got the session, else the SAS's own `se` (signed expiry) parameter (a session persisted by
/// an earlier run).
fn expiry_of(url: &str, expiries: &HashMap<String, f64>) -> Option<f64> {
    if let Some(at) = expiries.get(url) {
        return Some(*at);
    }
    let query = url.split_once('?')?.1;
    let se = query.split('&').find_map(|p| p.strip_prefix("se="))?;
    let se: String = js_sys::decode_uri_component(se).ok()?.into();
    parse_iso_ms(&se)
}

fn parse_iso_ms(iso: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(iso);
    ms.is_finite().then_some(ms)
}

fn map_put_error(e: PutError, expires_ms: Option<f64>) -> PutFailure {
    PutFailure::Http(match e {
        PutError::Network | PutError::Aborted => HttpFailure::Network {
            detail: e.to_string(),
        },
        PutError::Timeout => HttpFailure::Timeout,
        PutError::Status { status, code, .. }
            if sas_expired(status, expires_ms, js_sys::Date::now()) =>
        {
            let at = expires_ms
                .map(|ms| String::from(js_sys::Date::new(&ms.into()).to_iso_string()))
                .unwrap_or_default();
            // The engine reads "Signature not valid" as an expired SAS (retry::classify) and
            // asks for a fresh session for the image.
            HttpFailure::Status {
                status,
                error: None,
                message: Some(format!(
                    "Signature not valid in the specified time frame: the upload SAS expired at \
                     {at} by this browser's clock (the storage service answered {})",
                    code.as_deref().unwrap_or("403")
                )),
                azure_code: code,
                retry_after_ms: None,
            }
        }
        PutError::Status {
            status,
            code,
            retry_after_ms,
        } => HttpFailure::Status {
            status,
            error: None,
            azure_code: code,
            message: None,
            retry_after_ms,
        },
        PutError::Browser(detail) | PutError::Persist(detail) => HttpFailure::Network { detail },
    })
}

/// How often, at most, a running sync updates the progress bar (progress, bytes in flight); a
/// change of the run's state (paused, offline) and the end are shown at once.
const UI_EVERY_MS: u64 = 250;

/// How often, at most, a running sync hands persisted changes to the UI (the images' statuses
/// in the tables, and the card's counts, which the page re-reads from IndexedDB each time):
/// each hand-over re-renders every row of the picked folder and reads the aggregates in a
/// transaction that the next write-ahead transaction has to wait for. A state change and the
/// end hand everything over at once.
const PERSISTED_EVERY_MS: u64 = 1_000;

/// UI updates not yet handed to the [`Observer`].
#[derive(Default)]
struct UiBatch {
    progress: Option<Progress>,
    persisted: Vec<Persist>,
    /// When the progress was last shown (the driver's clock, ms).
    last: u64,
    /// When persisted changes were last handed over.
    last_persisted: u64,
    /// Flush at the next chance (a control event was handled).
    urgent: bool,
    shown: Option<RunState>,
}

impl UiBatch {
    fn state_changed(&self) -> bool {
        self.progress
            .as_ref()
            .is_some_and(|p| Some(p.state) != self.shown)
    }

    fn persisted_due(&self, now: u64) -> bool {
        !self.persisted.is_empty() && now >= self.last_persisted.saturating_add(PERSISTED_EVERY_MS)
    }

    /// Whether to call the observer now.
    fn due(&self, now: u64) -> bool {
        self.urgent
            || self.state_changed()
            || (self.progress.is_some() && now >= self.last.saturating_add(UI_EVERY_MS))
            || self.persisted_due(now)
    }

    /// When the next update is due, if there is anything to show (`moving`: PUTs in flight,
    /// whose bytes move the bar).
    fn deadline(&self, moving: bool) -> Option<u64> {
        let bar =
            (self.progress.is_some() || moving).then(|| self.last.saturating_add(UI_EVERY_MS));
        let rows = (!self.persisted.is_empty())
            .then(|| self.last_persisted.saturating_add(PERSISTED_EVERY_MS));
        match (bar, rows) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Shows the progress; hands over the persisted changes too when they are due, the run's
    /// state changed, or `all` (the end).
    fn flush(&mut self, observer: &Observer, sent: &RefCell<HashMap<u64, f64>>, all: bool) {
        let now = now_ms();
        let rows = all || self.urgent || self.state_changed() || self.persisted_due(now);
        if let Some(p) = self.progress.take() {
            self.shown = Some(p.state);
            (observer.progress)(&p);
        }
        if rows && !self.persisted.is_empty() {
            (observer.persisted)(&std::mem::take(&mut self.persisted));
            self.last_persisted = now;
        }
        (observer.in_flight_bytes)(&sent.borrow().values().sum());
        self.last = now;
        self.urgent = false;
    }
}

/// Keeps the expiries of the upload URLs the engine may still PUT to: a PUT that succeeded,
/// failed for good (after its last retry, or refused), or whose SAS is being replaced drops
/// its URL's entry.
fn prune_expiries(expiries: &mut HashMap<String, f64>, engine: &Engine) {
    if expiries.is_empty() {
        return;
    }
    let live: std::collections::HashSet<&str> = engine.live_upload_urls().into_iter().collect();
    expiries.retain(|url, _| live.contains(url.as_str()));
}

/// Block progress of one image, kept in IndexedDB under its idempotency key.
struct StoredBlocks {
    store: Store,
    key: String,
}

impl BlockLog for StoredBlocks {
    fn load(&self) -> LocalBoxFuture<'_, Option<BlockState>> {
        async move { self.store.block_state(&self.key).await.ok().flatten() }.boxed_local()
    }
    fn save(&self, state: BlockState) -> LocalBoxFuture<'_, Result<(), String>> {
        async move {
            self.store
                .save_block_state(&self.key, &state)
                .await
                .map_err(|e| e.to_string())
        }
        .boxed_local()
    }
}

async fn with_timeout<T>(
    fut: impl std::future::Future<Output = Result<T, HttpFailure>>,
    timeout_ms: u64,
) -> Result<T, HttpFailure> {
    let fut = std::pin::pin!(fut);
    match future::select(fut, sleep(timeout_ms)).await {
        Either::Left((r, _)) => r,
        Either::Right(_) => Err(HttpFailure::Timeout),
    }
}

/// Executes a copy request: loads the images' storage connections from IndexedDB, mints
/// each source's read URL now (a connection string signs a 1-hour read SAS for that blob; a
/// SAS-token connection appends its token), sends the items that have one, and answers the
/// others itself (connection missing or unusable). The URLs live only in this request's
/// body: not in the engine, IndexedDB or a log. No source byte passes through the browser.
async fn copy_call(
    client: &Client,
    store: &Store,
    refs: &CopyBlobRefs,
) -> Result<ApiResponse, HttpFailure> {
    let mut connections: Vec<StorageConnection> = Vec::new();
    for r in &refs.items {
        let id = &r.source.connection_id;
        if connections.iter().any(|c| &c.id == id) {
            continue;
        }
        match store.connection(id).await {
            Ok(Some(c)) => connections.push(c),
            Ok(None) => {}
            // IndexedDB failed: like a network error, retried by the engine's copy policy.
            Err(e) => {
                return Err(HttpFailure::Network {
                    detail: format!("could not read the storage connections: {e}"),
                })
            }
        }
    }
    let now_unix = crate::azure::now_unix();
    let (items, mut answered) = finsync_core::cloud::mint_copy_items(
        &refs.items,
        |id| connections.iter().find(|c| c.id == id),
        now_unix,
    );
    if !items.is_empty() {
        let sent = client
            .copy(&CopyBlobs { items })
            .await
            .map_err(map_call_error)?;
        answered.extend(sent.results);
    }
    Ok(ApiResponse::Copy(CopyResults { results: answered }))
}

fn api_call(
    client: Client,
    store: Store,
    request_id: finsync_core::engine::RequestId,
    request: ApiRequest,
    timeout_ms: u64,
) -> LocalBoxFuture<'static, Event> {
    async move {
        let call = async {
            match &request {
                ApiRequest::FindOrCreateEncounter(r) => client
                    .find_or_create(r)
                    .await
                    .map(ApiResponse::Encounter)
                    .map_err(map_call_error),
                ApiRequest::CreateUser(r) => client
                    .create_user(r)
                    .await
                    .map(ApiResponse::User)
                    .map_err(map_call_error),
                ApiRequest::CreateUploadSessions(r) => client
                    .create_sessions(r)
                    .await
                    .map(ApiResponse::Sessions)
                    .map_err(map_call_error),
                ApiRequest::CommitSessions(r) => client
                    .commit(r)
                    .await
                    .map(ApiResponse::Commit)
                    .map_err(map_call_error),
                ApiRequest::CopyBlobs(refs) => copy_call(&client, &store, refs).await,
            }
        };
        Event::ApiResponse {
            request_id,
            result: with_timeout(call, timeout_ms).await,
        }
    }
    .boxed_local()
}

/// Watches the browser's online/offline events for as long as it lives.
struct OnlineWatch {
    _online: Closure<dyn FnMut()>,
    _offline: Closure<dyn FnMut()>,
}

fn watch_online(tx: futures::channel::mpsc::UnboundedSender<Control>) -> Option<OnlineWatch> {
    let window = web_sys::window()?;
    let on = {
        let tx = tx.clone();
        Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(Control::Online);
        })
    };
    let off = Closure::<dyn FnMut()>::new(move || {
        let _ = tx.unbounded_send(Control::Offline);
    });
    window
        .add_event_listener_with_callback("online", on.as_ref().unchecked_ref())
        .ok()?;
    window
        .add_event_listener_with_callback("offline", off.as_ref().unchecked_ref())
        .ok()?;
    Some(OnlineWatch {
        _online: on,
        _offline: off,
    })
}

impl Drop for OnlineWatch {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            let _ = w.remove_event_listener_with_callback(
                "online",
                self._online.as_ref().unchecked_ref(),
            );
            let _ = w.remove_event_listener_with_callback(
                "offline",
                self._offline.as_ref().unchecked_ref(),
            );
        }
    }
}

/// Runs one sync of `plan` to its end. `control` carries Pause/Resume/Cancel/concurrency;
/// the driver adds the browser's online/offline events itself.
pub async fn run(job: Job, controls: Controls, observer: Observer) -> Result<Summary, DriverError> {
    let Job {
        plan,
        config,
        client,
        store,
        files,
    } = job;
    let Controls {
        tx: control_tx,
        rx: mut control,
    } = controls;
    let ids: Vec<String> = plan.encounters.iter().map(|e| e.local_id.clone()).collect();
    let stored = store.sync_state_for(&ids).await?;
    let keys: HashMap<(String, String), String> = plan
        .encounters
        .iter()
        .flat_map(|e| {
            e.images.iter().map(move |i| {
                (
                    (e.local_id.clone(), i.local_id.clone()),
                    i.idempotency_key.clone(),
                )
            })
        })
        .collect();
    let block_parallelism = config.concurrency as usize;
    let mut engine = Engine::new(plan.with_store(&stored), config)?;
    let _watch = watch_online(control_tx);
    let offline = web_sys::window()
        .map(|w| !w.navigator().on_line())
        .unwrap_or(false);
    if offline {
        engine.handle(Event::WentOffline, now_ms());
    }
    engine.handle(Event::Start, now_ms());

    let mut inflight: FuturesUnordered<LocalBoxFuture<'static, Event>> = FuturesUnordered::new();
    let sent: Rc<RefCell<HashMap<u64, f64>>> = Rc::new(RefCell::new(HashMap::new()));
    // Upload URL → its session's expiresAt (ms since the epoch), from this run's sessions.
    // Pruned after every PUT's end to the URLs the engine may still use (`prune_expiries`),
    // so it holds the live sessions only, not one entry per session of the whole run.
    let mut expiries: HashMap<String, f64> = HashMap::new();
    // UI updates are batched to at most one per `UI_EVERY_MS` while PUTs end every few
    // milliseconds: re-rendering the card and re-reading its counts for every image kept the
    // page's main thread busy for a third of a 200-image sync.
    let mut ui = UiBatch::default();
    loop {
        // Drain, persist (write-ahead), then start what the engine asked for.
        let mut persist = Vec::new();
        let mut starts = Vec::new();
        let mut finished = None;
        while let Some(cmd) = engine.poll_command() {
            match cmd {
                Command::Persist(p) => persist.push(p),
                Command::Progress(p) => ui.progress = Some(p),
                Command::Finished(s) => finished = Some(s),
                other => starts.push(other),
            }
        }
        if !persist.is_empty() {
            store.persist(&persist).await?;
            ui.persisted.append(&mut persist);
        }
        if let Some(summary) = finished {
            ui.flush(&observer, &sent, true);
            // Whatever is still in flight is dropped here, which aborts it.
            return Ok(summary);
        }
        for cmd in starts {
            match cmd {
                Command::ApiRequest {
                    request_id,
                    request,
                    timeout_ms,
                } => inflight.push(api_call(
                    client.clone(),
                    store.clone(),
                    request_id,
                    request,
                    timeout_ms,
                )),
                Command::PutBlob {
                    request_id,
                    encounter,
                    image,
                    url,
                    content_type,
                    timeout_ms,
                    ..
                } => {
                    let file = files.file(&encounter, &image);
                    let source = files.clone();
                    let expires_ms = expiry_of(&url, &expiries);
                    let sent = sent.clone();
                    let blocks =
                        keys.get(&(encounter.clone(), image.clone()))
                            .map(|k| StoredBlocks {
                                store: store.clone(),
                                key: k.clone(),
                            });
                    inflight.push(
                        async move {
                            let result = match file.await {
                                Err((problem, detail)) => {
                                    Err(PutFailure::Source { problem, detail })
                                }
                                Ok(file) => {
                                    let progress = {
                                        let sent = sent.clone();
                                        move |n: f64| {
                                            sent.borrow_mut().insert(request_id.0, n);
                                        }
                                    };
                                    let timeout = timeout_ms.min(u32::MAX as u64) as u32;
                                    let put = async {
                                        let r = match blocks {
                                            Some(log) if file.size() as u64 > BLOCK_THRESHOLD => {
                                                put_blocks(
                                                    &url,
                                                    &file,
                                                    &content_type,
                                                    block_parallelism,
                                                    &log,
                                                    progress,
                                                )
                                                .await
                                            }
                                            _ => {
                                                put_blob(
                                                    &url,
                                                    &file,
                                                    &content_type,
                                                    timeout,
                                                    progress,
                                                )
                                                .await
                                            }
                                        };
                                        r.map_err(|e| map_put_error(e, expires_ms))
                                    };
                                    // The file's check (a one-byte read) runs alongside the
                                    // PUT instead of before it: a file deleted or rewritten
                                    // since it was chosen fails the image with that reason,
                                    // whatever the PUT did (it would send a rewritten file's
                                    // new bytes), and the PUT is aborted.
                                    let check = source.check(&encounter, &image, &file);
                                    let source_failure = |(problem, detail)| {
                                        Err(PutFailure::Source { problem, detail })
                                    };
                                    let r = match future::select(
                                        std::pin::pin!(put),
                                        std::pin::pin!(check),
                                    )
                                    .await
                                    {
                                        Either::Left((r, check)) => match check.await {
                                            Some(problem) => source_failure(problem),
                                            None => r,
                                        },
                                        Either::Right((Some(problem), _put)) => {
                                            source_failure(problem)
                                        }
                                        Either::Right((None, put)) => put.await,
                                    };
                                    sent.borrow_mut().remove(&request_id.0);
                                    r
                                }
                            };
                            Event::PutDone { request_id, result }
                        }
                        .boxed_local(),
                    );
                }
                _ => {}
            }
        }
        if ui.due(now_ms()) {
            ui.flush(&observer, &sent, false);
        }

        // Wait for the next event (or the next batched UI update).
        let deadline = engine.poll_timeout();
        let ui_at = ui.deadline(!sent.borrow().is_empty());
        let wake = match (deadline, ui_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let next_request = async {
            if inflight.is_empty() {
                future::pending::<Option<Event>>().await
            } else {
                Some(inflight.next().await.unwrap_or(Event::TimerFired))
            }
        };
        let timer = async {
            match wake {
                Some(at) => {
                    sleep(at.saturating_sub(now_ms())).await;
                    None
                }
                None => future::pending::<Option<Event>>().await,
            }
        };
        let ctl = async {
            let ev = match control.next().await {
                Some(Control::Pause) => Event::Pause,
                Some(Control::Resume) => Event::Resume,
                Some(Control::Cancel) => Event::Cancel,
                Some(Control::Concurrency(n)) => Event::ConcurrencyChanged(n),
                Some(Control::Online) => Event::WentOnline,
                Some(Control::Offline) => Event::WentOffline,
                // Nobody can send controls any more: keep going without them.
                None => future::pending::<Event>().await,
            };
            Some(ev)
        };
        let woke = {
            let a = std::pin::pin!(next_request);
            let b = std::pin::pin!(timer);
            let c = std::pin::pin!(ctl);
            match future::select(a, future::select(b, c)).await {
                Either::Left((ev, _)) => ev,
                Either::Right((Either::Left((ev, _)), _)) => ev,
                Either::Right((Either::Right((ev, _)), _)) => {
                    // Pause, Cancel, …: show their effect at once.
                    ui.urgent = true;
                    ev
                }
            }
        };
        let ev = match woke {
            Some(ev) => ev,
            None if deadline.is_some_and(|at| at <= now_ms()) => Event::TimerFired,
            // Only the UI was due.
            None => {
                ui.flush(&observer, &sent, false);
                continue;
            }
        };
        // The requests that ended meanwhile are handled too before the next drain, so that
        // PUTs ending together share one IndexedDB transaction instead of each waiting for
        // its own (the write-ahead rule holds: the drain persists everything it polled before
        // it starts any of its requests).
        let mut next = Some(ev);
        while let Some(ev) = next.take() {
            if let Event::ApiResponse {
                result: Ok(ApiResponse::Sessions(answer)),
                ..
            } = &ev
            {
                for session in &answer.sessions {
                    if let (Some(url), Some(at)) = (&session.upload_url, &session.expires_at) {
                        if let Some(ms) = parse_iso_ms(at) {
                            expiries.insert(url.clone(), ms);
                        }
                    }
                }
            }
            let put_ended = matches!(ev, Event::PutDone { .. });
            engine.handle(ev, now_ms());
            if put_ended {
                prune_expiries(&mut expiries, &engine);
            }
            next = inflight.next().now_or_never().flatten();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_403_is_an_expired_sas_when_the_expiry_has_passed_by_this_clock() {
        let now = 1_700_000_000_000.0;
        assert!(sas_expired(403, Some(now - 1.0), now));
        assert!(sas_expired(403, Some(now), now));
        // Within the skew margin: the service's clock may be ahead of ours.
        assert!(sas_expired(403, Some(now + SAS_SKEW_MS), now));
        assert!(!sas_expired(403, Some(now + SAS_SKEW_MS + 1.0), now));
        assert!(!sas_expired(403, None, now));
        assert!(!sas_expired(404, Some(now - 1.0), now));
    }

    #[wasm_bindgen_test]
    fn expiries_are_dropped_once_a_put_fails_for_good() {
        use finsync_core::api::{
            EncounterRef, FindOrCreateEncounter, SessionStatus, UploadSession, UploadSessions,
        };
        use finsync_core::engine::{ImageStatus, PlanEncounter, PlanImage};
        let image = |id: &str| PlanImage {
            local_id: id.into(),
            file_name: format!("{id}.jpg"),
            size: 1_000,
            content_type: "image/jpeg".into(),
            idempotency_key: format!("v1-{}", id.repeat(40)),
            status: ImageStatus::Pending,
            source: Default::default(),
        };
        let (a, b) = (image("a"), image("b"));
        let plan = Plan {
            population_id: 1,
            encounters: vec![PlanEncounter {
                local_id: "e".into(),
                fields: FindOrCreateEncounter {
                    date: "2024-07-15".into(),
                    time: None,
                    location_name: "Haro Strait".into(),
                    gps: None,
                    photographer: "J Smith".into(),
                    notes: None,
                }
                .into(),
                create_photographer: None,
                remote: None,
                images: vec![a, b],
            }],
        };
        let mut engine = Engine::new(plan, Config::default()).unwrap();
        let drain = |engine: &mut Engine| -> Vec<Command> {
            std::iter::from_fn(|| engine.poll_command()).collect()
        };
        let api_id = |cmds: &[Command]| {
            cmds.iter()
                .find_map(|c| match c {
                    Command::ApiRequest { request_id, .. } => Some(*request_id),
                    _ => None,
                })
                .unwrap()
        };
        engine.handle(Event::Start, 0);
        let id = api_id(&drain(&mut engine));
        let answer = EncounterRef {
            id: 1,
            created: true,
            url: "/encounters/1".into(),
        };
        engine.handle(
            Event::ApiResponse {
                request_id: id,
                result: Ok(ApiResponse::Encounter(answer)),
            },
            1,
        );
        let id = api_id(&drain(&mut engine));
        let sessions: Vec<UploadSession> = ["a", "b"]
            .iter()
            .map(|k| UploadSession {
                idempotency_key: format!("v1-{}", k.repeat(40)),
                session_id: 1,
                status: SessionStatus::Pending,
                upload_url: Some(format!("https://blob/{k}?se=x&sig=y")),
                expires_at: Some("2030-01-01T00:00:00Z".into()),
            })
            .collect();
        // What the run loop does with a sessions answer: remember each URL's expiry.
        let mut expiries: HashMap<String, f64> = sessions
            .iter()
            .map(|s| (s.upload_url.clone().unwrap(), 1.0))
            .collect();
        engine.handle(
            Event::ApiResponse {
                request_id: id,
                result: Ok(ApiResponse::Sessions(UploadSessions { sessions })),
            },
            2,
        );
        let puts: Vec<(finsync_core::engine::RequestId, String)> = drain(&mut engine)
            .into_iter()
            .filter_map(|c| match c {
                Command::PutBlob {
                    request_id, url, ..
                } => Some((request_id, url)),
                _ => None,
            })
            .collect();
        assert_eq!(puts.len(), 2);
        // a: a 503 is retried on the same URL (kept); b: a 400 is final (dropped).
        for (n, status) in [(0, 503), (1, 400)] {
            engine.handle(
                Event::PutDone {
                    request_id: puts[n].0,
                    result: Err(PutFailure::Http(HttpFailure::status(status))),
                },
                3,
            );
            prune_expiries(&mut expiries, &engine);
        }
        assert_eq!(
            expiries.keys().cloned().collect::<Vec<_>>(),
            vec![puts[0].1.clone()]
        );
        // a's retries fail too: given up, nothing left.
        for _ in 0..2 {
            let at = engine.poll_timeout().unwrap();
            engine.handle(Event::TimerFired, at);
            let id = drain(&mut engine)
                .into_iter()
                .find_map(|c| match c {
                    Command::PutBlob { request_id, .. } => Some(request_id),
                    _ => None,
                })
                .unwrap();
            engine.handle(
                Event::PutDone {
                    request_id: id,
                    result: Err(PutFailure::Http(HttpFailure::status(503))),
                },
                at,
            );
            prune_expiries(&mut expiries, &engine);
        }
        assert!(expiries.is_empty(), "{expiries:?}");
    }

    #[wasm_bindgen_test]
    fn a_retry_after_reaches_the_engine() {
        let failure = map_put_error(
            PutError::Status {
                status: 429,
                code: None,
                retry_after_ms: Some(4_000),
            },
            None,
        );
        assert!(
            matches!(
                failure,
                PutFailure::Http(HttpFailure::Status {
                    status: 429,
                    retry_after_ms: Some(4_000),
                    ..
                })
            ),
            "{failure:?}"
        );
    }

    #[wasm_bindgen_test]
    fn the_expiry_comes_from_the_session_else_from_the_sas() {
        let url =
            "http://127.0.0.1:10000/acct/c/b.jpg?sv=2023-01-03&se=2024-07-15T10%3A00%3A00Z&sig=x";
        let se = js_sys::Date::parse("2024-07-15T10:00:00Z");
        assert_eq!(expiry_of(url, &HashMap::new()), Some(se));
        let known = HashMap::from([(url.to_string(), 5.0)]);
        assert_eq!(expiry_of(url, &known), Some(5.0));
        assert_eq!(
            expiry_of("http://x/c/b.jpg?sv=1&sig=x", &HashMap::new()),
            None
        );
        let failure = map_put_error(
            PutError::Status {
                status: 403,
                code: Some("AuthorizationFailure".into()),
                retry_after_ms: None,
            },
            Some(se),
        );
        let PutFailure::Http(h) = &failure else {
            panic!("{failure:?}")
        };
        assert_eq!(
            finsync_core::engine::retry::classify(h),
            finsync_core::engine::retry::FailureClass::SasExpired,
            "{failure:?}"
        );
    }
}
