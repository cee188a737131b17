//! The state machine itself. See the module docs of [`super`] for the contract.

use std::collections::{BTreeMap, VecDeque};

use crate::api::{
    CommitResults, CommitSessions, CopyResults, CopyStatus, CreateUploadSessions,
    FindOrCreateEncounterFull, SessionStatus, UploadItem, UploadSession, UploadSessions,
    MAX_FILE_NAME_BYTES, MAX_IMAGE_BYTES,
};
use crate::cloud::{copy_error, BlobRef, CopyErrorAction, ImageSource};

use crate::fingerprint::is_valid_key;

use super::io::{
    ApiRequest, ApiResponse, Command, CopyBlobRefs, CopyRef, CurrentEncounter, EncounterSummary,
    Event, HttpFailure, ImageFailure, ImageSkip, Outcome, Progress, PutFailure, RequestId,
    RunState, SourceProblem, Summary,
};
use super::plan::{Config, Plan, PlanError, PlanUser};
use super::retry::{
    copy_timeout_ms, put_timeout_ms, stops_sync, Attempts, Decision, OpKind, SplitMix64,
    LEASE_ID_MISSING,
};
use super::state::{
    EncounterStatus, Failure, FailureKind, ImageStatus, Persist, RemoteEncounter, SkipReason, Step,
};

/// The sync engine: a deterministic, sans-IO state machine. Feed it [`Event`]s with
/// [`Engine::handle`], drain [`Engine::poll_command`], arm a timer at [`Engine::poll_timeout`].
#[derive(Debug)]
pub struct Engine {
    population_id: i64,
    config: Config,
    encs: Vec<Enc>,
    /// Index of the encounter being synced (encounters go one after another).
    cur: usize,
    phase: Phase,
    paused: bool,
    offline: bool,
    now: u64,
    next_request: u64,
    inflight: BTreeMap<RequestId, Pending>,
    out: VecDeque<Command>,
    rng: SplitMix64,
    counts: Counts,
    images_total: usize,
    bytes_total: u64,
    encounters_done: usize,
    last_progress: Option<Progress>,
    /// Users created on sync in this run: [`PlanUser::key`] → user id (earlier runs' are in
    /// the plan already, see [`Plan::with_store`]).
    users: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Running,
    Finished,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    complete: usize,
    failed: usize,
    skipped: usize,
    bytes_done: u64,
}

impl Counts {
    fn change(&mut self, status: &ImageStatus, size: u64, add: bool) {
        let slot = match status {
            ImageStatus::Complete { .. } => Some(&mut self.complete),
            ImageStatus::Failed { .. } => Some(&mut self.failed),
            ImageStatus::Skipped { .. } => Some(&mut self.skipped),
            _ => None,
        };
        let bytes = slot.is_some() || *status == ImageStatus::Uploaded;
        if add {
            if let Some(n) = slot {
                *n += 1;
            }
            if bytes {
                self.bytes_done = self.bytes_done.saturating_add(size);
            }
        } else {
            if let Some(n) = slot {
                *n = n.saturating_sub(1);
            }
            if bytes {
                self.bytes_done = self.bytes_done.saturating_sub(size);
            }
        }
    }
}

#[derive(Debug)]
struct Enc {
    local_id: String,
    fields: FindOrCreateEncounterFull,
    /// Still to create before find-or-create ("Create on sync").
    create_user: Option<PlanUser>,
    remote: Option<RemoteEncounter>,
    images: Vec<Img>,
    status: EncounterStatus,
    stage: Stage,
    /// Set when the encounter itself failed (find-or-create, or the run stopped).
    failure: Option<Failure>,
    /// Image indices still to sync, in batches of `batch_size`.
    batches: Vec<Vec<usize>>,
}

/// Batches of one encounter open at once: the oldest committing, the next finishing its
/// PUTs, the newest getting its sessions so its PUTs can start the moment slots free up.
/// With two, a commit that took as long as a batch's PUTs (1–2 s per 25 images on the
/// benchmark's machine) held the next batch's sessions back and drained the PUT slots at
/// every batch boundary. Bounds memory and state.
const MAX_OPEN_BATCHES: usize = 3;

#[derive(Debug)]
enum Stage {
    NotStarted,
    /// Creating the photographer's user ("Create on sync"), then find-or-create.
    CreateUser(Op),
    FindOrCreate(Op),
    /// The batches are being synced: `open` (oldest first, at most [`MAX_OPEN_BATCHES`]) are
    /// in progress, `next` is the first batch not opened yet.
    Batches {
        open: Vec<Run>,
        next: usize,
    },
    Done,
}

/// One open batch.
#[derive(Debug)]
struct Run {
    batch: usize,
    step: RunStep,
}

#[derive(Debug)]
enum RunStep {
    Sessions(Op),
    Uploading,
    Commit(Op),
}

impl Stage {
    /// The op of the request `what` (find-or-create, or a batch's sessions or commit).
    fn op(&mut self, what: What) -> Option<&mut Op> {
        match (self, what) {
            (Stage::FindOrCreate(op), What::FindOrCreate) => Some(op),
            (Stage::CreateUser(op), What::CreateUser) => Some(op),
            (Stage::Batches { open, .. }, What::Sessions { batch }) => open
                .iter_mut()
                .find(|r| r.batch == batch)
                .and_then(|r| match &mut r.step {
                    RunStep::Sessions(op) => Some(op),
                    _ => None,
                }),
            (Stage::Batches { open, .. }, What::Commit { batch }) => open
                .iter_mut()
                .find(|r| r.batch == batch)
                .and_then(|r| match &mut r.step {
                    RunStep::Commit(op) => Some(op),
                    _ => None,
                }),
            _ => None,
        }
    }

    /// The batches open now, oldest first.
    fn open_batches(&self) -> Vec<usize> {
        match self {
            Stage::Batches { open, .. } => open.iter().map(|r| r.batch).collect(),
            _ => Vec::new(),
        }
    }
}

/// One request-level operation with its retry bookkeeping.
#[derive(Debug)]
struct Op {
    attempts: Attempts,
    state: OpState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpState {
    Ready,
    InFlight,
    Waiting(u64),
}

impl Op {
    fn new(kind: OpKind) -> Self {
        Op {
            attempts: Attempts::new(kind),
            state: OpState::Ready,
        }
    }

    /// Marks the op in flight if it may be sent now.
    fn take_ready(&mut self, now: u64) -> bool {
        let ready = match self.state {
            OpState::Ready => true,
            OpState::Waiting(t) => t <= now,
            OpState::InFlight => false,
        };
        if ready {
            self.state = OpState::InFlight;
        }
        ready
    }
}

#[derive(Debug)]
struct Img {
    local_id: String,
    file_name: String,
    size: u64,
    content_type: String,
    key: String,
    status: ImageStatus,
    stage: ImgStage,
    url: Option<String>,
    /// The source blob of an Azure-sourced image: copied by the server instead of PUT.
    blob: Option<BlobRef>,
    /// Attempts of the PUT, or of the copy for an Azure-sourced image.
    put: Attempts,
    refresh: Attempts,
}

impl Img {
    /// The retry policy of this image's transfer: a PUT, or a server-side copy.
    fn transfer(&self) -> OpKind {
        if self.blob.is_some() {
            OpKind::Copy
        } else {
            OpKind::Put
        }
    }
}

/// Where an image of the current batch is in the upload pipeline (not persisted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImgStage {
    /// Not in an open batch.
    Idle,
    AwaitSession,
    ReadyPut,
    PutInFlight,
    PutWait {
        until: u64,
        refresh: bool,
    },
    ReadyRefresh,
    RefreshInFlight,
    RefreshWait(u64),
    /// Azure-sourced: session ready, waiting to be sent in a copy request.
    ReadyCopy,
    /// In the copy request with this id.
    CopyInFlight(RequestId),
    CopyWait(u64),
    /// PUT (or copy) done, waiting for the batch's commit.
    Uploaded,
    Committing,
    /// In an end state for this run.
    Done,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    enc: usize,
    what: What,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    CreateUser,
    FindOrCreate,
    Sessions {
        batch: usize,
    },
    Commit {
        batch: usize,
    },
    Refresh {
        img: usize,
    },
    Put {
        img: usize,
    },
    /// A copy request of batch `batch` (its images are in `CopyInFlight(request id)`).
    Copy {
        batch: usize,
    },
}

/// Result of handling a failed stage request.
enum Handled {
    /// Will be retried (or the run stopped): nothing more to do now.
    Later,
    GaveUp(Failure),
}

/// What the person reads when the storage service keeps refusing an image's PUT with
/// `412 LeaseIdMissing` even after the engine asked for the session again.
pub const LOCKED_MESSAGE: &str = "the storage service refuses to write this image \
     (412 LeaseIdMissing): the server has locked its blob after a commit of it was refused or \
     interrupted. Press Retry: the app asks the server for the image's upload session again, \
     which unlocks the blob, and uploads the file again. If it keeps failing, the server could \
     not reach its storage: try again later or tell the server's administrator";

fn failure_from(step: Step, kind: FailureKind, f: &HttpFailure, attempts: u8) -> Failure {
    let (http_status, code, message) = match f {
        HttpFailure::Network { detail } => (None, None, format!("network error: {detail}")),
        HttpFailure::Timeout => (None, None, "timed out".to_owned()),
        HttpFailure::Malformed { detail } => (None, None, format!("unreadable answer: {detail}")),
        HttpFailure::Status {
            status,
            error,
            azure_code,
            message,
            ..
        } => {
            let code = error
                .as_ref()
                .map(|e| e.code.clone())
                .or_else(|| azure_code.clone());
            let text = error
                .as_ref()
                .map(|e| e.message.clone())
                .filter(|m| !m.is_empty())
                .or_else(|| message.clone())
                .unwrap_or_else(|| match azure_code.as_deref() {
                    Some(c) if *status == 412 && c.eq_ignore_ascii_case(LEASE_ID_MISSING) => {
                        LOCKED_MESSAGE.to_owned()
                    }
                    _ => format!("HTTP {status}"),
                });
            (Some(*status), code, text)
        }
    };
    Failure {
        step,
        kind,
        http_status,
        code,
        message,
        attempts,
    }
}

/// The server's file-name rule for upload sessions.
pub(crate) fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_FILE_NAME_BYTES
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

fn bad_response(step: Step, message: &str, attempts: u8) -> Failure {
    Failure {
        step,
        kind: FailureKind::BadResponse,
        http_status: None,
        code: None,
        message: message.to_owned(),
        attempts,
    }
}

impl Engine {
    /// Checks the plan and config; nothing is emitted before [`Event::Start`].
    pub fn new(plan: Plan, config: Config) -> Result<Engine, PlanError> {
        plan.validate(&config)?;
        let mut counts = Counts::default();
        let images_total = plan.encounters.iter().map(|e| e.images.len()).sum();
        let bytes_total = plan
            .encounters
            .iter()
            .flat_map(|e| &e.images)
            .fold(0u64, |acc, i| acc.saturating_add(i.size));
        let encs = plan
            .encounters
            .into_iter()
            .map(|e| Enc {
                local_id: e.local_id,
                fields: e.fields,
                create_user: e.create_photographer,
                remote: e.remote,
                images: e
                    .images
                    .into_iter()
                    .map(|i| {
                        // Failed images of earlier runs are sent again (Retry).
                        let status = match i.status {
                            ImageStatus::Failed { .. } => ImageStatus::Pending,
                            s => s,
                        };
                        counts.change(&status, i.size, true);
                        let blob = match i.source {
                            ImageSource::Azure(b) => Some(b),
                            ImageSource::Local => None,
                        };
                        let transfer = if blob.is_some() {
                            OpKind::Copy
                        } else {
                            OpKind::Put
                        };
                        Img {
                            local_id: i.local_id,
                            file_name: i.file_name,
                            size: i.size,
                            content_type: i.content_type,
                            key: i.idempotency_key,
                            status,
                            stage: ImgStage::Idle,
                            url: None,
                            blob,
                            put: Attempts::new(transfer),
                            refresh: Attempts::new(OpKind::Sessions),
                        }
                    })
                    .collect(),
                status: EncounterStatus::Pending,
                stage: Stage::NotStarted,
                failure: None,
                batches: Vec::new(),
            })
            .collect();
        Ok(Engine {
            population_id: plan.population_id,
            rng: SplitMix64::new(config.jitter_seed),
            config,
            encs,
            cur: 0,
            phase: Phase::Idle,
            paused: false,
            offline: false,
            now: 0,
            next_request: 1,
            inflight: BTreeMap::new(),
            out: VecDeque::new(),
            counts,
            images_total,
            bytes_total,
            encounters_done: 0,
            last_progress: None,
            users: BTreeMap::new(),
        })
    }

    /// Feeds one event. `now_ms` is the driver's monotonic clock (ms since any fixed epoch);
    /// a value smaller than an earlier one is treated as the earlier one.
    pub fn handle(&mut self, event: Event, now_ms: u64) {
        self.now = self.now.max(now_ms);
        if self.phase == Phase::Finished {
            return;
        }
        match event {
            Event::Start => {
                if self.phase == Phase::Idle {
                    self.phase = Phase::Running;
                }
            }
            Event::ApiResponse { request_id, result } => {
                let is_api = self
                    .inflight
                    .get(&request_id)
                    .is_some_and(|p| !matches!(p.what, What::Put { .. }));
                if let Some(p) = is_api.then(|| self.inflight.remove(&request_id)).flatten() {
                    self.on_api(p, request_id, result);
                }
            }
            Event::PutDone { request_id, result } => {
                if let Some(Pending {
                    enc,
                    what: What::Put { img },
                }) = self.inflight.get(&request_id).copied()
                {
                    self.inflight.remove(&request_id);
                    self.on_put(enc, img, result);
                }
            }
            Event::TimerFired => {}
            Event::WentOffline => self.offline = true,
            Event::WentOnline => self.offline = false,
            Event::ConcurrencyChanged(n) => self.config.concurrency = n.clamp(1, 4),
            Event::Pause => self.paused = true,
            Event::Resume => self.paused = false,
            Event::Cancel => {
                self.finish(Outcome::Cancelled);
                return;
            }
        }
        self.drive();
        if self.phase != Phase::Finished {
            self.emit_progress();
        }
    }

    /// The next command, in the order the driver must act on them.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// When to send [`Event::TimerFired`] (absolute, in the `now_ms` clock); `None` when no
    /// timer is needed (nothing waiting, paused, offline or finished).
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.phase != Phase::Running || !self.can_send() {
            return None;
        }
        let enc = self.encs.get(self.cur)?;
        let mut next: Option<u64> = None;
        let mut consider = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        match &enc.stage {
            Stage::FindOrCreate(op) | Stage::CreateUser(op) => {
                if let OpState::Waiting(t) = op.state {
                    consider(t);
                }
            }
            Stage::Batches { open, .. } => {
                for run in open {
                    if let RunStep::Sessions(op) | RunStep::Commit(op) = &run.step {
                        if let OpState::Waiting(t) = op.state {
                            consider(t);
                        }
                    }
                }
            }
            _ => {}
        }
        for b in enc.stage.open_batches() {
            for &i in enc.batches.get(b).map(Vec::as_slice).unwrap_or(&[]) {
                match enc.images.get(i).map(|img| img.stage) {
                    Some(ImgStage::PutWait { until, .. })
                    | Some(ImgStage::RefreshWait(until))
                    | Some(ImgStage::CopyWait(until)) => consider(until),
                    _ => {}
                }
            }
        }
        next
    }

    /// The current progress snapshot.
    pub fn progress(&self) -> Progress {
        let state = match self.phase {
            Phase::Idle => RunState::Idle,
            Phase::Finished => RunState::Finished,
            Phase::Running if self.paused => RunState::Paused,
            Phase::Running if self.offline => RunState::Offline,
            Phase::Running => RunState::Running,
        };
        let current = match self.phase {
            Phase::Running => self.encs.get(self.cur).map(|e| CurrentEncounter {
                index: self.cur,
                local_id: e.local_id.clone(),
                remote: e.remote.clone(),
            }),
            _ => None,
        };
        let c = self.counts;
        Progress {
            state,
            encounters_done: self.encounters_done,
            encounters_total: self.encs.len(),
            images_done: c.complete + c.failed + c.skipped,
            images_complete: c.complete,
            images_failed: c.failed,
            images_skipped: c.skipped,
            images_total: self.images_total,
            bytes_done: c.bytes_done,
            bytes_total: self.bytes_total,
            current,
        }
    }

    /// The upload URLs the engine may still PUT to: those of images of the open batches that
    /// are waiting to be sent, in flight, or backing off to retry the same URL. An image that
    /// ended, failed for good or waits for a fresh SAS is not here, so a driver that keeps
    /// something per URL (the SAS expiry) can drop what is not listed.
    pub fn live_upload_urls(&self) -> Vec<&str> {
        let Some(enc) = self.encs.get(self.cur) else {
            return Vec::new();
        };
        if self.phase != Phase::Running {
            return Vec::new();
        }
        enc.stage
            .open_batches()
            .into_iter()
            .flat_map(|b| enc.batches.get(b).map(Vec::as_slice).unwrap_or(&[]))
            .map(|&i| &enc.images[i])
            .filter(|img| {
                matches!(
                    img.stage,
                    ImgStage::ReadyPut
                        | ImgStage::PutInFlight
                        | ImgStage::PutWait { refresh: false, .. }
                )
            })
            .filter_map(|img| img.url.as_deref())
            .collect()
    }

    /// `true` once [`Command::Finished`] was emitted.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    pub fn population_id(&self) -> i64 {
        self.population_id
    }

    /// The config in force (concurrency reflects [`Event::ConcurrencyChanged`]).
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- scheduling ---------------------------------------------------------------------

    fn can_send(&self) -> bool {
        !self.paused && !self.offline
    }

    fn drive(&mut self) {
        while self.phase == Phase::Running {
            if self.cur >= self.encs.len() {
                self.finish(Outcome::Completed);
                return;
            }
            if !self.step(self.cur) {
                return;
            }
            self.cur += 1;
        }
    }

    /// Advances encounter `e` as far as possible; `true` when it is done.
    fn step(&mut self, e: usize) -> bool {
        loop {
            if self.phase != Phase::Running {
                return false;
            }
            let (now, can_send) = (self.now, self.can_send());
            match &mut self.encs[e].stage {
                Stage::Done => return true,
                Stage::NotStarted => self.prepare(e),
                Stage::FindOrCreate(op) => {
                    if !(can_send && op.take_ready(now)) {
                        return false;
                    }
                    // Loops back: the op is in flight now.
                    let req = ApiRequest::FindOrCreateEncounter(self.encs[e].fields.clone());
                    self.send_api(e, What::FindOrCreate, req);
                }
                Stage::CreateUser(op) => {
                    if !(can_send && op.take_ready(now)) {
                        return false;
                    }
                    let Some(user) = self.encs[e].create_user.as_ref() else {
                        // Nothing to create after all: straight to find-or-create.
                        self.begin_find_or_create(e);
                        continue;
                    };
                    let req = ApiRequest::CreateUser(user.request.clone());
                    self.send_api(e, What::CreateUser, req);
                }
                Stage::Batches { .. } => {
                    if !self.advance_batches(e) {
                        return false;
                    }
                }
            }
        }
    }

    /// One pass over the open batches of encounter `e`: retire or commit the uploaded ones,
    /// open the next one, send the ready session/commit requests, start PUTs and refreshes.
    /// `true` when anything changed (the caller loops until nothing does).
    fn advance_batches(&mut self, e: usize) -> bool {
        let mut changed = self.wake_images(e);
        // Batches whose images are all uploaded or done: commit the uploaded ones, or close.
        for b in self.encs[e].stage.open_batches() {
            let uploading = matches!(
                &self.encs[e].stage,
                Stage::Batches { open, .. }
                    if open.iter().any(|r| r.batch == b && matches!(r.step, RunStep::Uploading))
            );
            if uploading && self.batch_all_uploaded(e, b) {
                self.batch_uploaded(e, b);
                changed = true;
            }
        }
        changed |= self.open_next_batch(e);
        let Stage::Batches { open, next } = &self.encs[e].stage else {
            return true;
        };
        if open.is_empty() && *next >= self.encs[e].batches.len() {
            self.finalize(e);
            return true;
        }
        if self.can_send() {
            for b in self.encs[e].stage.open_batches() {
                let (now, phase) = (self.now, self.phase);
                let Stage::Batches { open, .. } = &mut self.encs[e].stage else {
                    return true;
                };
                if phase != Phase::Running {
                    return changed;
                }
                let Some(run) = open.iter_mut().find(|r| r.batch == b) else {
                    continue;
                };
                // `Some(true)`: send the sessions request, `Some(false)`: the commit.
                let send = match &mut run.step {
                    RunStep::Sessions(op) => op.take_ready(now).then_some(true),
                    RunStep::Commit(op) => op.take_ready(now).then_some(false),
                    RunStep::Uploading => None,
                };
                match send {
                    Some(true) => self.send_sessions(e, b),
                    Some(false) => self.send_commit(e, b),
                    None => continue,
                }
                changed = true;
            }
            if !matches!(self.encs[e].stage, Stage::Batches { .. }) {
                return true;
            }
            changed |= self.schedule_copies(e);
            if !matches!(self.encs[e].stage, Stage::Batches { .. }) {
                return true;
            }
            changed |= self.schedule_uploads(e);
        }
        changed
    }

    /// Opens the next batch if fewer than [`MAX_OPEN_BATCHES`] are open and the newest open
    /// one has its sessions and at most `concurrency` images still to start (the others
    /// started or backing off), so the next one's session answer is there before its last PUTs
    /// end and overlaps them and the older batches' commits.
    fn open_next_batch(&mut self, e: usize) -> bool {
        let enc = &self.encs[e];
        let Stage::Batches { open, next } = &enc.stage else {
            return false;
        };
        let next = *next;
        if open.len() >= MAX_OPEN_BATCHES || next >= enc.batches.len() {
            return false;
        }
        if let Some(last) = open.last() {
            if matches!(last.step, RunStep::Sessions(_)) {
                return false;
            }
            let waiting = enc.batches[last.batch].iter().filter(|&&i| {
                matches!(
                    enc.images[i].stage,
                    ImgStage::AwaitSession
                        | ImgStage::ReadyPut
                        | ImgStage::ReadyRefresh
                        | ImgStage::ReadyCopy
                )
            });
            if waiting.count() > usize::from(self.config.concurrency) {
                return false;
            }
        }
        let enc = &mut self.encs[e];
        let mut need_session = false;
        for &i in &enc.batches[next] {
            let img = &mut enc.images[i];
            if img.status == ImageStatus::Uploaded {
                img.stage = ImgStage::Uploaded;
            } else {
                img.stage = ImgStage::AwaitSession;
                img.url = None;
                img.put = Attempts::new(img.transfer());
                need_session = true;
            }
        }
        let step = if need_session {
            RunStep::Sessions(Op::new(OpKind::Sessions))
        } else {
            RunStep::Uploading
        };
        if let Stage::Batches { open, next } = &mut enc.stage {
            open.push(Run { batch: *next, step });
            *next += 1;
        }
        true
    }

    /// Skips what cannot be sent, splits the rest into batches, picks the first stage.
    fn prepare(&mut self, e: usize) {
        let mut skips = Vec::new();
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        for (i, img) in self.encs[e].images.iter().enumerate() {
            if matches!(img.status, ImageStatus::Skipped { .. }) {
                continue;
            }
            // The server refuses a whole batch for one bad item: keep those out.
            let reason = if img.size == 0 {
                Some(SkipReason::EmptyFile)
            } else if img.size > MAX_IMAGE_BYTES {
                Some(SkipReason::TooLarge { size: img.size })
            } else if !valid_file_name(&img.file_name) {
                Some(SkipReason::InvalidFileName)
            } else if !is_valid_key(&img.key) {
                Some(SkipReason::InvalidKey)
            } else {
                match owners.get(img.key.as_str()) {
                    Some(owner) => Some(SkipReason::DuplicateOf {
                        image: (*owner).to_owned(),
                    }),
                    None => {
                        owners.insert(&img.key, &img.local_id);
                        None
                    }
                }
            };
            if let Some(reason) = reason {
                skips.push((i, reason));
            }
        }
        for (i, reason) in skips {
            self.set_status(e, i, ImageStatus::Skipped { reason });
        }
        let enc = &mut self.encs[e];
        let work: Vec<usize> = (0..enc.images.len())
            .filter(|&i| !enc.images[i].status.is_settled())
            .collect();
        enc.batches = work
            .chunks(self.config.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        for &i in &work {
            enc.images[i].stage = ImgStage::Idle;
        }
        // An encounter with nothing left to send is not created (all images skipped);
        // one without any image is (creating it is the whole sync).
        if enc.remote.is_none() && (!work.is_empty() || enc.images.is_empty()) {
            self.begin_find_or_create(e);
        } else {
            self.begin_batches(e);
        }
    }

    /// Find-or-create next, after creating the photographer's user if it is new: once per
    /// person, so a user this run already created is only referenced.
    fn begin_find_or_create(&mut self, e: usize) {
        let enc = &mut self.encs[e];
        if let Some(user) = &enc.create_user {
            match self.users.get(&user.key) {
                Some(id) => {
                    enc.fields.photographer_user_id = Some(*id);
                    enc.create_user = None;
                }
                None => {
                    enc.stage = Stage::CreateUser(Op::new(OpKind::FindOrCreate));
                    return;
                }
            }
        }
        enc.stage = Stage::FindOrCreate(Op::new(OpKind::FindOrCreate));
    }

    /// The remote encounter is known: start on the batches.
    fn begin_batches(&mut self, e: usize) {
        self.encs[e].stage = Stage::Batches {
            open: Vec::new(),
            next: 0,
        };
    }

    fn batch_images(&self, e: usize, b: usize) -> Vec<usize> {
        self.encs[e].batches.get(b).cloned().unwrap_or_default()
    }

    /// Images of the open batches whose retry wait is over become ready; `true` if any did.
    fn wake_images(&mut self, e: usize) -> bool {
        let now = self.now;
        let mut woke = false;
        for b in self.encs[e].stage.open_batches() {
            for i in self.batch_images(e, b) {
                let img = &mut self.encs[e].images[i];
                match img.stage {
                    ImgStage::PutWait { until, refresh } if until <= now => {
                        img.stage = if refresh {
                            ImgStage::ReadyRefresh
                        } else {
                            ImgStage::ReadyPut
                        };
                        woke = true;
                    }
                    ImgStage::RefreshWait(until) if until <= now => {
                        img.stage = ImgStage::ReadyRefresh;
                        woke = true;
                    }
                    ImgStage::CopyWait(until) if until <= now => {
                        img.stage = ImgStage::ReadyCopy;
                        woke = true;
                    }
                    _ => {}
                }
            }
        }
        woke
    }

    /// Starts PUTs and SAS refreshes up to the concurrency, counted over every open batch,
    /// the oldest batch first; `true` if any was started.
    fn schedule_uploads(&mut self, e: usize) -> bool {
        let images: Vec<usize> = self.encs[e]
            .stage
            .open_batches()
            .into_iter()
            .flat_map(|b| self.batch_images(e, b))
            .collect();
        let mut busy = images
            .iter()
            .filter(|&&i| {
                matches!(
                    self.encs[e].images[i].stage,
                    ImgStage::PutInFlight | ImgStage::RefreshInFlight
                )
            })
            .count();
        let mut started = false;
        for &i in &images {
            if busy >= usize::from(self.config.concurrency)
                || self.phase != Phase::Running
                || !matches!(self.encs[e].stage, Stage::Batches { .. })
            {
                break;
            }
            match self.encs[e].images[i].stage {
                ImgStage::ReadyPut => self.send_put(e, i),
                ImgStage::ReadyRefresh => self.send_refresh(e, i),
                _ => continue,
            }
            busy += 1;
            started = true;
        }
        started
    }

    /// Sends one copy request per open batch (oldest first) for its images that are ready to
    /// be copied; `true` if any was sent. Copies do not take PUT slots: the server works on
    /// the items of a request itself, a few at a time, and no bytes pass through the browser.
    fn schedule_copies(&mut self, e: usize) -> bool {
        let mut sent = false;
        for b in self.encs[e].stage.open_batches() {
            if self.phase != Phase::Running || !matches!(self.encs[e].stage, Stage::Batches { .. })
            {
                break;
            }
            let ready: Vec<usize> = self
                .batch_images(e, b)
                .into_iter()
                .filter(|&i| self.encs[e].images[i].stage == ImgStage::ReadyCopy)
                .collect();
            if !ready.is_empty() {
                self.send_copy(e, b, &ready);
                sent = true;
            }
        }
        sent
    }

    /// Every image of batch `b` is uploaded or done.
    fn batch_all_uploaded(&self, e: usize, b: usize) -> bool {
        self.encs[e].batches.get(b).is_none_or(|batch| {
            batch.iter().all(|&i| {
                matches!(
                    self.encs[e].images[i].stage,
                    ImgStage::Uploaded | ImgStage::Done
                )
            })
        })
    }

    /// Every image of open batch `b` is uploaded or done: commit the uploaded ones, or close it.
    fn batch_uploaded(&mut self, e: usize, b: usize) {
        let mut any = false;
        for i in self.batch_images(e, b) {
            let img = &mut self.encs[e].images[i];
            if img.stage == ImgStage::Uploaded {
                img.stage = ImgStage::Committing;
                any = true;
            }
        }
        if any {
            self.set_run(e, b, Some(RunStep::Commit(Op::new(OpKind::Commit))));
        } else {
            self.set_run(e, b, None);
        }
    }

    /// Moves open batch `b` to `step`, or closes it (`None`).
    fn set_run(&mut self, e: usize, b: usize, step: Option<RunStep>) {
        let Stage::Batches { open, .. } = &mut self.encs[e].stage else {
            return;
        };
        let Some(pos) = open.iter().position(|r| r.batch == b) else {
            return;
        };
        match step {
            Some(step) => open[pos].step = step,
            None => {
                open.remove(pos);
            }
        }
    }

    fn finalize(&mut self, e: usize) {
        let enc = &mut self.encs[e];
        let (mut complete, mut failed, mut skipped) = (0, 0, 0);
        for img in &enc.images {
            match img.status {
                ImageStatus::Complete { .. } => complete += 1,
                ImageStatus::Failed { .. } => failed += 1,
                ImageStatus::Skipped { .. } => skipped += 1,
                _ => {}
            }
        }
        let status = if let Some(f) = &enc.failure {
            EncounterStatus::Failed {
                failure: Some(f.clone()),
            }
        } else if failed == 0 && skipped == 0 {
            EncounterStatus::Synced
        } else if complete == 0 && failed > 0 {
            EncounterStatus::Failed { failure: None }
        } else {
            EncounterStatus::Partial
        };
        enc.status = status.clone();
        enc.stage = Stage::Done;
        self.encounters_done += 1;
        self.out
            .push_back(Command::Persist(Persist::EncounterStatus {
                encounter: enc.local_id.clone(),
                status,
            }));
    }

    fn finish(&mut self, outcome: Outcome) {
        if self.phase == Phase::Finished {
            return;
        }
        self.phase = Phase::Finished;
        self.inflight.clear();
        let progress = self.progress();
        self.last_progress = Some(progress.clone());
        self.out.push_back(Command::Progress(progress.clone()));
        let encounters = self
            .encs
            .iter()
            .map(|e| EncounterSummary {
                local_id: e.local_id.clone(),
                remote: e.remote.clone(),
                status: e.status.clone(),
                images_complete: e
                    .images
                    .iter()
                    .filter(|i| matches!(i.status, ImageStatus::Complete { .. }))
                    .count(),
                failed: e
                    .images
                    .iter()
                    .filter_map(|i| match &i.status {
                        ImageStatus::Failed { failure } => Some(ImageFailure {
                            image: i.local_id.clone(),
                            failure: failure.clone(),
                        }),
                        _ => None,
                    })
                    .collect(),
                skipped: e
                    .images
                    .iter()
                    .filter_map(|i| match &i.status {
                        ImageStatus::Skipped { reason } => Some(ImageSkip {
                            image: i.local_id.clone(),
                            reason: reason.clone(),
                        }),
                        _ => None,
                    })
                    .collect(),
            })
            .collect();
        self.out.push_back(Command::Finished(Summary {
            outcome,
            progress,
            encounters,
        }));
    }

    /// The API refused the key: fail the current encounter, stop.
    fn stop(&mut self, failure: Failure) {
        let e = self.cur;
        if let Some(enc) = self.encs.get_mut(e) {
            enc.failure = Some(failure.clone());
            let open: Vec<usize> = (0..enc.images.len())
                .filter(|&i| !enc.images[i].status.is_terminal())
                .collect();
            for i in open {
                self.fail_image(e, i, failure.clone());
            }
            self.finalize(e);
        }
        self.finish(Outcome::Stopped { failure });
    }

    fn emit_progress(&mut self) {
        let p = self.progress();
        if self.last_progress.as_ref() != Some(&p) {
            self.last_progress = Some(p.clone());
            self.out.push_back(Command::Progress(p));
        }
    }

    // ---- sending ------------------------------------------------------------------------

    fn request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    fn send_api(&mut self, e: usize, what: What, request: ApiRequest) {
        let request_id = self.request_id();
        self.inflight.insert(request_id, Pending { enc: e, what });
        self.out.push_back(Command::ApiRequest {
            request_id,
            request,
            timeout_ms: self.config.api_timeout_ms,
        });
    }

    fn upload_item(img: &Img) -> UploadItem {
        UploadItem {
            idempotency_key: img.key.clone(),
            file_name: img.file_name.clone(),
            size: img.size,
            content_type: img.content_type.clone(),
        }
    }

    /// Sends batch `b`'s session request (its op was just marked in flight).
    fn send_sessions(&mut self, e: usize, b: usize) {
        let Some(remote) = self.encs[e].remote.as_ref().map(|r| r.id) else {
            return self.lost_remote(e);
        };
        let items = self
            .batch_images(e, b)
            .into_iter()
            .map(|i| &self.encs[e].images[i])
            .filter(|img| img.stage == ImgStage::AwaitSession)
            .map(Self::upload_item)
            .collect();
        let req = ApiRequest::CreateUploadSessions(CreateUploadSessions {
            encounter_id: remote,
            items,
        });
        self.send_api(e, What::Sessions { batch: b }, req);
    }

    /// Sends batch `b`'s commit (its op was just marked in flight).
    fn send_commit(&mut self, e: usize, b: usize) {
        let idempotency_keys = self
            .batch_images(e, b)
            .into_iter()
            .map(|i| &self.encs[e].images[i])
            .filter(|img| img.stage == ImgStage::Committing)
            .map(|img| img.key.clone())
            .collect();
        let req = ApiRequest::CommitSessions(CommitSessions { idempotency_keys });
        self.send_api(e, What::Commit { batch: b }, req);
    }

    /// Internal invariant broken (a batch stage without a remote encounter): fail the
    /// encounter instead of panicking in the browser.
    fn lost_remote(&mut self, e: usize) {
        let failure = bad_response(Step::Sessions, "internal: no remote encounter id", 0);
        self.encounter_failed(e, failure);
    }

    fn send_put(&mut self, e: usize, i: usize) {
        let Some(url) = self.encs[e].images[i].url.clone() else {
            let f = bad_response(
                Step::Put,
                "no upload URL",
                self.encs[e].images[i].put.attempt(),
            );
            return self.fail_image(e, i, f);
        };
        if self.encs[e].images[i].status != ImageStatus::Uploading {
            self.set_status(e, i, ImageStatus::Uploading);
        }
        let request_id = self.request_id();
        self.inflight.insert(
            request_id,
            Pending {
                enc: e,
                what: What::Put { img: i },
            },
        );
        let enc = &mut self.encs[e];
        let img = &mut enc.images[i];
        img.stage = ImgStage::PutInFlight;
        self.out.push_back(Command::PutBlob {
            request_id,
            encounter: enc.local_id.clone(),
            image: img.local_id.clone(),
            url,
            size: img.size,
            content_type: img.content_type.clone(),
            timeout_ms: put_timeout_ms(img.size),
        });
    }

    /// Sends the copy request of batch `b` for images `imgs` (all `ReadyCopy`).
    fn send_copy(&mut self, e: usize, b: usize, imgs: &[usize]) {
        for &i in imgs {
            if self.encs[e].images[i].status != ImageStatus::Uploading {
                self.set_status(e, i, ImageStatus::Uploading);
            }
        }
        let request_id = self.request_id();
        self.inflight.insert(
            request_id,
            Pending {
                enc: e,
                what: What::Copy { batch: b },
            },
        );
        let mut items = Vec::with_capacity(imgs.len());
        for &i in imgs {
            let img = &mut self.encs[e].images[i];
            img.stage = ImgStage::CopyInFlight(request_id);
            if let Some(source) = &img.blob {
                items.push(CopyRef {
                    idempotency_key: img.key.clone(),
                    source: source.clone(),
                });
            }
        }
        let timeout_ms = copy_timeout_ms(self.config.api_timeout_ms, items.len());
        self.out.push_back(Command::ApiRequest {
            request_id,
            request: ApiRequest::CopyBlobs(CopyBlobRefs { items }),
            timeout_ms,
        });
    }

    fn send_refresh(&mut self, e: usize, i: usize) {
        let Some(remote) = self.encs[e].remote.as_ref().map(|r| r.id) else {
            return self.lost_remote(e);
        };
        self.encs[e].images[i].stage = ImgStage::RefreshInFlight;
        let req = ApiRequest::CreateUploadSessions(CreateUploadSessions {
            encounter_id: remote,
            items: vec![Self::upload_item(&self.encs[e].images[i])],
        });
        self.send_api(e, What::Refresh { img: i }, req);
    }

    // ---- state changes ------------------------------------------------------------------

    /// Changes an image's status and emits the write-ahead [`Persist`].
    fn set_status(&mut self, e: usize, i: usize, status: ImageStatus) {
        let enc = &mut self.encs[e];
        let img = &mut enc.images[i];
        if img.status == status {
            return;
        }
        self.counts.change(&img.status, img.size, false);
        self.counts.change(&status, img.size, true);
        img.status = status.clone();
        self.out.push_back(Command::Persist(Persist::ImageStatus {
            encounter: enc.local_id.clone(),
            image: img.local_id.clone(),
            status,
        }));
    }

    fn fail_image(&mut self, e: usize, i: usize, failure: Failure) {
        self.set_status(e, i, ImageStatus::Failed { failure });
        self.encs[e].images[i].stage = ImgStage::Done;
    }

    fn skip_image(&mut self, e: usize, i: usize, reason: SkipReason) {
        self.set_status(e, i, ImageStatus::Skipped { reason });
        self.encs[e].images[i].stage = ImgStage::Done;
    }

    /// The encounter failed as a whole: every image still to sync fails with it.
    fn encounter_failed(&mut self, e: usize, failure: Failure) {
        let open: Vec<usize> = (0..self.encs[e].images.len())
            .filter(|&i| !self.encs[e].images[i].status.is_terminal())
            .collect();
        for i in open {
            self.fail_image(e, i, failure.clone());
        }
        self.encs[e].failure = Some(failure);
        self.finalize(e);
    }

    /// Fails every image of batch `b` that is in `stage`.
    fn fail_batch_images(&mut self, e: usize, b: usize, stage: ImgStage, failure: &Failure) {
        for i in self.batch_images(e, b) {
            if self.encs[e].images[i].stage == stage {
                self.fail_image(e, i, failure.clone());
            }
        }
    }

    /// A stage request failed: retry, wait, stop the run, or give up.
    fn stage_failure(&mut self, e: usize, what: What, f: &HttpFailure, step: Step) -> Handled {
        let offline = self.offline;
        let Some(op) = self.encs[e].stage.op(what) else {
            return Handled::Later;
        };
        let attempts = op.attempts.attempt();
        if stops_sync(f) {
            self.stop(failure_from(step, FailureKind::Rejected, f, attempts));
            return Handled::Later;
        }
        match op.attempts.on_failure(f, offline, &mut self.rng) {
            Decision::Requeue => {
                op.state = OpState::Ready;
                Handled::Later
            }
            Decision::Retry { after_ms, .. } => {
                op.state = OpState::Waiting(self.now.saturating_add(after_ms));
                Handled::Later
            }
            Decision::GiveUp(kind) => Handled::GaveUp(failure_from(step, kind, f, attempts)),
            Decision::RefreshSas => {
                Handled::GaveUp(failure_from(step, FailureKind::Rejected, f, attempts))
            }
        }
    }

    fn stage_attempts(&mut self, e: usize, what: What) -> u8 {
        self.encs[e]
            .stage
            .op(what)
            .map_or(0, |op| op.attempts.attempt())
    }

    // ---- answers ------------------------------------------------------------------------

    fn on_api(&mut self, p: Pending, rid: RequestId, result: Result<ApiResponse, HttpFailure>) {
        if p.enc != self.cur || self.phase != Phase::Running {
            return;
        }
        let e = p.enc;
        match p.what {
            What::CreateUser => self.on_create_user(e, result),
            What::FindOrCreate => self.on_find_or_create(e, result),
            What::Sessions { batch } => self.on_sessions(e, batch, result),
            What::Commit { batch } => self.on_commit(e, batch, result),
            What::Refresh { img } => self.on_refresh(e, img, result),
            What::Copy { batch } => self.on_copy(e, batch, rid, result),
            What::Put { .. } => {}
        }
    }

    fn on_create_user(&mut self, e: usize, result: Result<ApiResponse, HttpFailure>) {
        if !matches!(self.encs[e].stage, Stage::CreateUser(_)) {
            return;
        }
        match result {
            Ok(ApiResponse::User(created)) => {
                let id = created.user.id;
                let enc = &mut self.encs[e];
                if let Some(user) = enc.create_user.take() {
                    self.out.push_back(Command::Persist(Persist::UserCreated {
                        encounter: enc.local_id.clone(),
                        key: user.key.clone(),
                        user_id: id,
                    }));
                    self.users.insert(user.key, id);
                }
                enc.fields.photographer_user_id = Some(id);
                enc.stage = Stage::FindOrCreate(Op::new(OpKind::FindOrCreate));
            }
            Ok(_) => {
                let attempts = self.stage_attempts(e, What::CreateUser);
                let f = bad_response(Step::CreateUser, "answer is not a user", attempts);
                self.encounter_failed(e, f);
            }
            Err(f) => {
                if let Handled::GaveUp(failure) =
                    self.stage_failure(e, What::CreateUser, &f, Step::CreateUser)
                {
                    self.encounter_failed(e, failure);
                }
            }
        }
    }

    fn on_find_or_create(&mut self, e: usize, result: Result<ApiResponse, HttpFailure>) {
        if !matches!(self.encs[e].stage, Stage::FindOrCreate(_)) {
            return;
        }
        match result {
            Ok(ApiResponse::Encounter(r)) => {
                let remote = RemoteEncounter {
                    id: r.id,
                    url: r.url,
                };
                self.encs[e].remote = Some(remote.clone());
                self.out
                    .push_back(Command::Persist(Persist::EncounterRemote {
                        encounter: self.encs[e].local_id.clone(),
                        remote,
                    }));
                self.begin_batches(e);
            }
            Ok(_) => {
                let attempts = self.stage_attempts(e, What::FindOrCreate);
                let f = bad_response(Step::FindOrCreate, "answer is not an encounter", attempts);
                self.encounter_failed(e, f);
            }
            Err(f) => {
                if let Handled::GaveUp(failure) =
                    self.stage_failure(e, What::FindOrCreate, &f, Step::FindOrCreate)
                {
                    self.encounter_failed(e, failure);
                }
            }
        }
    }

    fn on_sessions(&mut self, e: usize, b: usize, result: Result<ApiResponse, HttpFailure>) {
        let what = What::Sessions { batch: b };
        if self.encs[e].stage.op(what).is_none() {
            return;
        }
        let attempts = self.stage_attempts(e, what);
        match result {
            Ok(ApiResponse::Sessions(UploadSessions { sessions })) => {
                for i in self.batch_images(e, b) {
                    if self.encs[e].images[i].stage != ImgStage::AwaitSession {
                        continue;
                    }
                    let key = &self.encs[e].images[i].key;
                    let session = sessions.iter().find(|s| &s.idempotency_key == key);
                    self.apply_session(e, i, session, Step::Sessions, attempts);
                }
            }
            Ok(_) => {
                let f = bad_response(Step::Sessions, "answer is not upload sessions", attempts);
                self.fail_batch_images(e, b, ImgStage::AwaitSession, &f);
            }
            Err(f) => match self.stage_failure(e, what, &f, Step::Sessions) {
                Handled::GaveUp(failure) => {
                    self.fail_batch_images(e, b, ImgStage::AwaitSession, &failure)
                }
                Handled::Later => return,
            },
        }
        if self.phase == Phase::Running {
            self.set_run(e, b, Some(RunStep::Uploading));
        }
    }

    /// Applies the server's session for image `i` (from a batch or a refresh).
    fn apply_session(
        &mut self,
        e: usize,
        i: usize,
        session: Option<&UploadSession>,
        step: Step,
        attempts: u8,
    ) {
        let Some(s) = session else {
            let f = bad_response(step, "the answer has no session for this image", attempts);
            return self.fail_image(e, i, f);
        };
        match (s.status, &s.upload_url) {
            (SessionStatus::Complete, _) => {
                self.set_status(e, i, ImageStatus::Complete { file_item_id: None });
                self.encs[e].images[i].stage = ImgStage::Done;
            }
            (SessionStatus::Error, _) => {
                let f = Failure {
                    step,
                    kind: FailureKind::ItemError,
                    http_status: None,
                    code: None,
                    message: "the server reports the upload session in error".to_owned(),
                    attempts,
                };
                self.fail_image(e, i, f);
            }
            // Azure-sourced: the server copies into the session's blob; no upload URL needed.
            _ if self.encs[e].images[i].blob.is_some() => {
                self.encs[e].images[i].stage = ImgStage::ReadyCopy;
            }
            (_, Some(url)) => {
                let img = &mut self.encs[e].images[i];
                img.url = Some(url.clone());
                img.stage = ImgStage::ReadyPut;
            }
            (_, None) => {
                let f = bad_response(step, "the session has no upload URL", attempts);
                self.fail_image(e, i, f);
            }
        }
    }

    fn on_refresh(&mut self, e: usize, i: usize, result: Result<ApiResponse, HttpFailure>) {
        if self.encs[e].images.get(i).map(|img| img.stage) != Some(ImgStage::RefreshInFlight) {
            return;
        }
        let attempts = self.encs[e].images[i].refresh.attempt();
        match result {
            Ok(ApiResponse::Sessions(UploadSessions { sessions })) => {
                let key = &self.encs[e].images[i].key;
                let session = sessions.iter().find(|s| &s.idempotency_key == key);
                self.apply_session(e, i, session, Step::SasRefresh, attempts);
            }
            Ok(_) => {
                let f = bad_response(Step::SasRefresh, "answer is not upload sessions", attempts);
                self.fail_image(e, i, f);
            }
            Err(f) => {
                if stops_sync(&f) {
                    let failure =
                        failure_from(Step::SasRefresh, FailureKind::Rejected, &f, attempts);
                    return self.stop(failure);
                }
                let offline = self.offline;
                let img = &mut self.encs[e].images[i];
                match img.refresh.on_failure(&f, offline, &mut self.rng) {
                    Decision::Requeue => img.stage = ImgStage::ReadyRefresh,
                    Decision::Retry { after_ms, .. } => {
                        img.stage = ImgStage::RefreshWait(self.now.saturating_add(after_ms));
                    }
                    Decision::GiveUp(kind) => {
                        let failure = failure_from(Step::SasRefresh, kind, &f, attempts);
                        self.fail_image(e, i, failure);
                    }
                    Decision::RefreshSas => {
                        let failure =
                            failure_from(Step::SasRefresh, FailureKind::Rejected, &f, attempts);
                        self.fail_image(e, i, failure);
                    }
                }
            }
        }
    }

    fn on_put(&mut self, e: usize, i: usize, result: Result<(), PutFailure>) {
        if e != self.cur
            || self.phase != Phase::Running
            || self.encs[e].images.get(i).map(|img| img.stage) != Some(ImgStage::PutInFlight)
        {
            return;
        }
        match result {
            Ok(()) => {
                self.set_status(e, i, ImageStatus::Uploaded);
                self.encs[e].images[i].stage = ImgStage::Uploaded;
            }
            Err(PutFailure::Source { problem, detail }) => match problem {
                SourceProblem::Missing => {
                    self.skip_image(e, i, SkipReason::SourceMissing { detail })
                }
                SourceProblem::Changed => {
                    self.skip_image(e, i, SkipReason::SourceChanged { detail })
                }
                SourceProblem::Unreadable => {
                    let attempts = self.encs[e].images[i].put.attempt();
                    let f = Failure {
                        step: Step::Put,
                        kind: FailureKind::SourceUnreadable,
                        http_status: None,
                        code: None,
                        message: detail,
                        attempts,
                    };
                    self.fail_image(e, i, f);
                }
            },
            Err(PutFailure::Http(f)) => {
                let offline = self.offline;
                let now = self.now;
                let img = &mut self.encs[e].images[i];
                let attempts = img.put.attempt();
                match img.put.on_failure(&f, offline, &mut self.rng) {
                    Decision::Requeue => img.stage = ImgStage::ReadyPut,
                    Decision::RefreshSas => {
                        img.refresh = Attempts::new(OpKind::Sessions);
                        img.stage = ImgStage::ReadyRefresh;
                    }
                    Decision::Retry {
                        after_ms,
                        refresh_first,
                    } => {
                        if refresh_first {
                            img.refresh = Attempts::new(OpKind::Sessions);
                        }
                        img.stage = ImgStage::PutWait {
                            until: now.saturating_add(after_ms),
                            refresh: refresh_first,
                        };
                    }
                    Decision::GiveUp(kind) => {
                        let failure = failure_from(Step::Put, kind, &f, attempts);
                        self.fail_image(e, i, failure);
                    }
                }
            }
        }
    }

    /// The answer to copy request `rid` of batch `b`: per image, copied (commit next),
    /// already complete, or an error the image retries, skips or fails on
    /// ([`copy_error`]); a failure of the whole request is retried per image (copy policy).
    fn on_copy(
        &mut self,
        e: usize,
        b: usize,
        rid: RequestId,
        result: Result<ApiResponse, HttpFailure>,
    ) {
        let imgs: Vec<usize> = self
            .batch_images(e, b)
            .into_iter()
            .filter(|&i| self.encs[e].images[i].stage == ImgStage::CopyInFlight(rid))
            .collect();
        if imgs.is_empty() {
            return;
        }
        match result {
            Ok(ApiResponse::Copy(CopyResults { results })) => {
                for i in imgs {
                    let attempts = self.encs[e].images[i].put.attempt();
                    let key = &self.encs[e].images[i].key;
                    let Some(r) = results.iter().find(|r| &r.idempotency_key == key) else {
                        let f = bad_response(
                            Step::Copy,
                            "the answer has no result for this image",
                            attempts,
                        );
                        self.fail_image(e, i, f);
                        continue;
                    };
                    match r.status {
                        CopyStatus::Copied => {
                            self.set_status(e, i, ImageStatus::Uploaded);
                            self.encs[e].images[i].stage = ImgStage::Uploaded;
                        }
                        CopyStatus::Complete => {
                            self.set_status(e, i, ImageStatus::Complete { file_item_id: None });
                            self.encs[e].images[i].stage = ImgStage::Done;
                        }
                        CopyStatus::Error => {
                            let (code, message) = r
                                .error
                                .as_ref()
                                .map(|x| (x.code.clone(), x.message.clone()))
                                .unwrap_or_else(|| ("copyFailed".into(), String::new()));
                            self.copy_item_error(e, i, code, &message, attempts);
                        }
                    }
                }
            }
            Ok(_) => {
                for i in imgs {
                    let attempts = self.encs[e].images[i].put.attempt();
                    let f = bad_response(Step::Copy, "answer is not copy results", attempts);
                    self.fail_image(e, i, f);
                }
            }
            Err(f) => {
                if stops_sync(&f) {
                    let attempts = self.encs[e].images[imgs[0]].put.attempt();
                    return self.stop(failure_from(
                        Step::Copy,
                        FailureKind::Rejected,
                        &f,
                        attempts,
                    ));
                }
                for i in imgs {
                    let (offline, now) = (self.offline, self.now);
                    let img = &mut self.encs[e].images[i];
                    let attempts = img.put.attempt();
                    match img.put.on_failure(&f, offline, &mut self.rng) {
                        Decision::Requeue => img.stage = ImgStage::ReadyCopy,
                        Decision::Retry { after_ms, .. } => {
                            img.stage = ImgStage::CopyWait(now.saturating_add(after_ms));
                        }
                        Decision::GiveUp(kind) => {
                            let failure = failure_from(Step::Copy, kind, &f, attempts);
                            self.fail_image(e, i, failure);
                        }
                        Decision::RefreshSas => {
                            let failure =
                                failure_from(Step::Copy, FailureKind::Rejected, &f, attempts);
                            self.fail_image(e, i, failure);
                        }
                    }
                }
            }
        }
    }

    /// One copy item in error: retry it, skip it (source gone) or fail it with the
    /// explanation of [`copy_error`].
    fn copy_item_error(&mut self, e: usize, i: usize, code: String, message: &str, attempts: u8) {
        match copy_error(&code, message) {
            CopyErrorAction::Retry => {
                let now = self.now;
                let img = &mut self.encs[e].images[i];
                match img.put.on_transient(&mut self.rng) {
                    Decision::Retry { after_ms, .. } => {
                        img.stage = ImgStage::CopyWait(now.saturating_add(after_ms));
                    }
                    _ => {
                        let f = Failure {
                            step: Step::Copy,
                            kind: FailureKind::RetriesExhausted,
                            http_status: None,
                            code: Some(code),
                            message: message.to_owned(),
                            attempts,
                        };
                        self.fail_image(e, i, f);
                    }
                }
            }
            CopyErrorAction::SourceMissing(detail) => {
                self.skip_image(e, i, SkipReason::SourceMissing { detail })
            }
            CopyErrorAction::Fail(message) => {
                let f = Failure {
                    step: Step::Copy,
                    kind: FailureKind::ItemError,
                    http_status: None,
                    code: Some(code),
                    message,
                    attempts,
                };
                self.fail_image(e, i, f);
            }
        }
    }

    fn on_commit(&mut self, e: usize, b: usize, result: Result<ApiResponse, HttpFailure>) {
        let what = What::Commit { batch: b };
        if self.encs[e].stage.op(what).is_none() {
            return;
        }
        let attempts = self.stage_attempts(e, what);
        match result {
            Ok(ApiResponse::Commit(CommitResults { results })) => {
                for i in self.batch_images(e, b) {
                    if self.encs[e].images[i].stage != ImgStage::Committing {
                        continue;
                    }
                    let key = &self.encs[e].images[i].key;
                    let outcome = match results.iter().find(|r| &r.idempotency_key == key) {
                        None => Err(bad_response(
                            Step::Commit,
                            "the answer has no result for this image",
                            attempts,
                        )),
                        Some(r) => match r.status {
                            SessionStatus::Complete | SessionStatus::Committed => {
                                Ok(r.file_item_id)
                            }
                            SessionStatus::Error => Err(Failure {
                                step: Step::Commit,
                                kind: FailureKind::ItemError,
                                http_status: None,
                                code: r.error.as_ref().map(|e| e.code.clone()),
                                message: r.error.as_ref().map_or_else(
                                    || "commit failed".to_owned(),
                                    |e| e.message.clone(),
                                ),
                                attempts,
                            }),
                            other => Err(bad_response(
                                Step::Commit,
                                &format!("commit left the session {other:?}"),
                                attempts,
                            )),
                        },
                    };
                    match outcome {
                        Ok(file_item_id) => {
                            self.set_status(e, i, ImageStatus::Complete { file_item_id });
                            self.encs[e].images[i].stage = ImgStage::Done;
                        }
                        // A source blob rewritten since the scan: the copy has other bytes
                        // than were planned. Like a local file changed since the scan, it is
                        // skipped until discovery runs again.
                        Err(f)
                            if self.encs[e].images[i].blob.is_some()
                                && f.code.as_deref() == Some("sizeMismatch") =>
                        {
                            let detail = format!(
                                "the source blob changed since the scan (its size differs): \
                                 run discovery of the container again. {}",
                                f.message
                            );
                            self.skip_image(e, i, SkipReason::SourceChanged { detail });
                        }
                        Err(f) => self.fail_image(e, i, f),
                    }
                }
            }
            Ok(_) => {
                let f = bad_response(Step::Commit, "answer is not commit results", attempts);
                self.fail_batch_images(e, b, ImgStage::Committing, &f);
            }
            Err(f) => match self.stage_failure(e, what, &f, Step::Commit) {
                Handled::GaveUp(failure) => {
                    self.fail_batch_images(e, b, ImgStage::Committing, &failure)
                }
                Handled::Later => return,
            },
        }
        if self.phase == Phase::Running {
            self.set_run(e, b, None);
        }
    }
}
