//! Scripted unit tests of the engine: one behaviour each, with hand-written answers. The
//! randomised end-to-end checks live in `sim`.

use super::*;
use crate::api::{
    ApiError, CommitResult, CommitResults, EncounterRef, FindOrCreateEncounter,
    FindOrCreateEncounterFull, SessionStatus, UploadSession, UploadSessions,
};

fn fields(day: &str) -> FindOrCreateEncounterFull {
    FindOrCreateEncounter {
        date: day.into(),
        time: None,
        location_name: "Haro Strait".into(),
        gps: None,
        photographer: "J Smith".into(),
        notes: None,
    }
    .into()
}

/// A valid v1 key derived from the image id (hex of its bytes, zero-padded).
fn key(id: &str) -> String {
    let hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    format!("v1-{hex:0>40}")
}

fn image(id: &str, size: u64) -> PlanImage {
    PlanImage {
        local_id: id.into(),
        file_name: format!("{id}.jpg"),
        size,
        content_type: "image/jpeg".into(),
        idempotency_key: key(id),
        status: ImageStatus::Pending,
        source: crate::cloud::ImageSource::Local,
    }
}

fn encounter(id: &str, images: &[&str]) -> PlanEncounter {
    PlanEncounter {
        local_id: id.into(),
        fields: fields("2024-07-15"),
        create_photographer: None,
        remote: None,
        images: images.iter().map(|i| image(i, 1_000)).collect(),
    }
}

fn plan(encounters: Vec<PlanEncounter>) -> Plan {
    Plan {
        population_id: 1,
        encounters,
    }
}

fn config(concurrency: u8) -> Config {
    Config {
        concurrency,
        batch_size: 10,
        jitter_seed: 7,
        api_timeout_ms: 30_000,
    }
}

/// The engine plus a clock; every call returns the commands the event produced.
struct H {
    e: Engine,
    now: u64,
}

impl H {
    fn new(plan: Plan, config: Config) -> H {
        H {
            e: Engine::new(plan, config).unwrap(),
            now: 0,
        }
    }

    fn ev(&mut self, ev: Event) -> Vec<Command> {
        self.e.handle(ev, self.now);
        std::iter::from_fn(|| self.e.poll_command()).collect()
    }

    fn start(&mut self) -> Vec<Command> {
        self.ev(Event::Start)
    }

    fn answer(&mut self, id: RequestId, r: Result<ApiResponse, HttpFailure>) -> Vec<Command> {
        self.ev(Event::ApiResponse {
            request_id: id,
            result: r,
        })
    }

    fn put_done(&mut self, id: RequestId, r: Result<(), PutFailure>) -> Vec<Command> {
        self.ev(Event::PutDone {
            request_id: id,
            result: r,
        })
    }

    /// Advances the clock to the engine's timer and fires it.
    fn fire(&mut self) -> Vec<Command> {
        let t = self.e.poll_timeout().expect("a timer");
        assert!(t >= self.now);
        self.now = t;
        self.ev(Event::TimerFired)
    }
}

fn apis(cmds: &[Command]) -> Vec<(RequestId, ApiRequest)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::ApiRequest {
                request_id,
                request,
                ..
            } => Some((*request_id, request.clone())),
            _ => None,
        })
        .collect()
}

fn one_api(cmds: &[Command]) -> (RequestId, ApiRequest) {
    let a = apis(cmds);
    assert_eq!(a.len(), 1, "{cmds:#?}");
    a.into_iter().next().unwrap()
}

/// (request id, image id, url)
fn puts(cmds: &[Command]) -> Vec<(RequestId, String, String)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::PutBlob {
                request_id,
                image,
                url,
                ..
            } => Some((*request_id, image.clone(), url.clone())),
            _ => None,
        })
        .collect()
}

fn persists(cmds: &[Command]) -> Vec<Persist> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Persist(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn finished(cmds: &[Command]) -> Option<Summary> {
    cmds.iter().find_map(|c| match c {
        Command::Finished(s) => Some(s.clone()),
        _ => None,
    })
}

fn encounter_ref(id: i64) -> Result<ApiResponse, HttpFailure> {
    Ok(ApiResponse::Encounter(EncounterRef {
        id,
        created: true,
        url: format!("/encounters/{id}"),
    }))
}

fn session(key: &str, status: SessionStatus) -> UploadSession {
    UploadSession {
        idempotency_key: key.into(),
        session_id: 1,
        status,
        upload_url: (status != SessionStatus::Complete).then(|| format!("https://blob/{key}")),
        expires_at: None,
    }
}

/// Sessions answer: every key pending with a URL, except those listed as complete.
fn sessions_for(req: &ApiRequest, complete: &[String]) -> Result<ApiResponse, HttpFailure> {
    let ApiRequest::CreateUploadSessions(r) = req else {
        panic!("{req:?}")
    };
    Ok(ApiResponse::Sessions(UploadSessions {
        sessions: r
            .items
            .iter()
            .map(|i| {
                let done = complete.contains(&i.idempotency_key);
                session(
                    &i.idempotency_key,
                    if done {
                        SessionStatus::Complete
                    } else {
                        SessionStatus::Pending
                    },
                )
            })
            .collect(),
    }))
}

fn commit_all(req: &ApiRequest) -> Result<ApiResponse, HttpFailure> {
    let ApiRequest::CommitSessions(r) = req else {
        panic!("{req:?}")
    };
    Ok(ApiResponse::Commit(CommitResults {
        results: r
            .idempotency_keys
            .iter()
            .enumerate()
            .map(|(n, k)| CommitResult {
                idempotency_key: k.clone(),
                status: SessionStatus::Complete,
                file_item_id: Some(100 + n as i64),
                error: None,
            })
            .collect(),
    }))
}

fn expired() -> PutFailure {
    PutFailure::Http(HttpFailure::Status {
        status: 403,
        error: None,
        azure_code: Some("AuthenticationFailed".into()),
        message: Some("Signature not valid in the specified time frame".into()),
        retry_after_ms: None,
    })
}

fn s503() -> HttpFailure {
    HttpFailure::status(503)
}

fn position(cmds: &[Command], pred: impl Fn(&Command) -> bool) -> usize {
    cmds.iter().position(pred).expect("command present")
}

#[test]
fn happy_path_runs_the_documented_steps_in_order() {
    let mut h = H::new(plan(vec![encounter("e1", &["a", "b", "c"])]), config(2));
    assert!(h.e.poll_command().is_none(), "nothing before Start");
    let cmds = h.start();
    let (id, req) = one_api(&cmds);
    assert!(matches!(req, ApiRequest::FindOrCreateEncounter(_)));

    // The remote id is persisted before the session request that uses it.
    let cmds = h.answer(id, encounter_ref(7));
    let p = position(&cmds, |c| {
        matches!(c, Command::Persist(Persist::EncounterRemote { .. }))
    });
    let s = position(&cmds, |c| matches!(c, Command::ApiRequest { .. }));
    assert!(p < s);
    let (id, req) = one_api(&cmds);
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!()
    };
    assert_eq!(r.encounter_id, 7);
    assert_eq!(r.items.len(), 3);

    // "a" is already on the server: no PUT. The others go out two at a time.
    let cmds = h.answer(id, sessions_for(&req, &[key("a")]));
    assert!(persists(&cmds).contains(&Persist::ImageStatus {
        encounter: "e1".into(),
        image: "a".into(),
        status: ImageStatus::Complete { file_item_id: None },
    }));
    let ps = puts(&cmds);
    assert_eq!(
        ps.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["b", "c"]
    );
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::PutBlob {
            timeout_ms: 60_010,
            ..
        }
    )));

    let cmds = h.put_done(ps[0].0, Ok(()));
    assert!(apis(&cmds).is_empty(), "commit waits for the whole batch");
    let cmds = h.put_done(ps[1].0, Ok(()));
    let up = position(&cmds, |c| {
        matches!(
            c,
            Command::Persist(Persist::ImageStatus {
                status: ImageStatus::Uploaded,
                ..
            })
        )
    });
    let commit = position(&cmds, |c| matches!(c, Command::ApiRequest { .. }));
    assert!(up < commit, "uploaded is persisted before the commit");
    let (id, req) = one_api(&cmds);
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("b"), key("c")]
        })
    );
    let cmds = h.answer(id, commit_all(&req));
    let summary = finished(&cmds).expect("finished");
    assert_eq!(summary.outcome, Outcome::Completed);
    assert_eq!(summary.encounters[0].status, EncounterStatus::Synced);
    assert_eq!(summary.progress.images_complete, 3);
    assert_eq!(summary.progress.bytes_done, 3_000);
    assert!(persists(&cmds).contains(&Persist::EncounterStatus {
        encounter: "e1".into(),
        status: EncounterStatus::Synced
    }));
    assert!(matches!(cmds.last(), Some(Command::Finished(_))));
    // Nothing after Finished.
    assert!(h.ev(Event::Start).is_empty());
}

#[test]
fn resume_skips_find_or_create_and_commits_uploaded_images_directly() {
    let mut enc = encounter("e1", &["a", "b", "c"]);
    enc.images[0].status = ImageStatus::Uploaded;
    enc.images[1].status = ImageStatus::Complete {
        file_item_id: Some(3),
    };
    let mut store = SyncStore::default();
    store.apply(&Persist::EncounterRemote {
        encounter: "e1".into(),
        remote: RemoteEncounter {
            id: 9,
            url: "/e/9".into(),
        },
    });
    let p = plan(vec![enc]).with_store(&store);
    let mut h = H::new(p, config(2));
    let (id, req) = one_api(&h.start());
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(r.encounter_id, 9);
    assert_eq!(r.items.len(), 1, "only c needs a session");
    let cmds = h.answer(id, sessions_for(&req, &[]));
    let ps = puts(&cmds);
    assert_eq!(ps.len(), 1);
    let (id, req) = one_api(&h.put_done(ps[0].0, Ok(())));
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("a"), key("c")]
        })
    );
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    assert_eq!(s.encounters[0].status, EncounterStatus::Synced);
}

#[test]
fn concurrency_limits_puts_and_changes_apply_to_a_running_sync() {
    let names = ["a", "b", "c", "d", "e"];
    let mut h = H::new(plan(vec![encounter("e1", &names)]), config(1));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let cmds = h.answer(id, sessions_for(&req, &[]));
    let first = puts(&cmds);
    assert_eq!(first.len(), 1);
    let more = puts(&h.ev(Event::ConcurrencyChanged(3)));
    assert_eq!(more.len(), 2, "two more slots");
    // Out of range is clamped.
    let fourth = puts(&h.ev(Event::ConcurrencyChanged(9)));
    assert_eq!(fourth.len(), 1);
    assert_eq!(h.e.config().concurrency, 4);
    // Lowering it lets in-flight PUTs finish but starts no new one until below the limit.
    assert!(puts(&h.ev(Event::ConcurrencyChanged(1))).is_empty());
    assert!(puts(&h.put_done(first[0].0, Ok(()))).is_empty());
    assert!(puts(&h.put_done(more[0].0, Ok(()))).is_empty());
    assert!(puts(&h.put_done(more[1].0, Ok(()))).is_empty());
    assert_eq!(puts(&h.put_done(fourth[0].0, Ok(()))).len(), 1);
}

#[test]
fn expired_sas_is_refreshed_then_puts_back_off_with_jitter_and_give_up() {
    let mut h = H::new(plan(vec![encounter("e1", &["a"])]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));

    // 403 expired: a one-image session request, at once, then a PUT to the fresh URL.
    let (id, req) = one_api(&h.put_done(ps[0].0, Err(expired())));
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!()
    };
    assert_eq!(r.items.len(), 1);
    let fresh = Ok(ApiResponse::Sessions(UploadSessions {
        sessions: vec![UploadSession {
            upload_url: Some("https://blob/k-a?fresh".into()),
            ..session(&key("a"), SessionStatus::Pending)
        }],
    }));
    let ps = puts(&h.answer(id, fresh));
    assert_eq!(ps[0].2, "https://blob/k-a?fresh");

    // Then 503 three times in total for this attempt count: waits 5 s ± 50 %, 10 s ± 50 %.
    let t0 = h.now;
    assert!(puts(&h.put_done(ps[0].0, Err(PutFailure::Http(s503())))).is_empty());
    let t = h.e.poll_timeout().unwrap();
    assert!((t0 + 2_500..=t0 + 7_500).contains(&t), "{t}");
    let ps = puts(&h.fire());
    assert_eq!(ps.len(), 1);
    let t1 = h.now;
    h.put_done(ps[0].0, Err(PutFailure::Http(s503())));
    let t = h.e.poll_timeout().unwrap();
    assert!((t1 + 5_000..=t1 + 15_000).contains(&t), "{t}");
    let ps = puts(&h.fire());
    let cmds = h.put_done(ps[0].0, Err(PutFailure::Http(s503())));
    assert!(apis(&cmds).is_empty(), "nothing uploaded: no commit");
    let s = finished(&cmds).unwrap();
    let f = &s.encounters[0].failed[0].failure;
    assert_eq!(
        (f.step, f.kind, f.http_status, f.attempts),
        (Step::Put, FailureKind::RetriesExhausted, Some(503), 3)
    );
    assert_eq!(
        s.encounters[0].status,
        EncounterStatus::Failed { failure: None }
    );
}

fn locked() -> PutFailure {
    PutFailure::Http(HttpFailure::Status {
        status: 412,
        error: None,
        azure_code: Some("LeaseIdMissing".into()),
        message: None,
        retry_after_ms: None,
    })
}

/// A PUT refused with 412 LeaseIdMissing (the server's lease left on an uncommitted blob) asks
/// for the image's session again — the server then breaks the lease — and PUTs to the fresh
/// URL; a lock that stays fails the image with a message that says what to do.
#[test]
fn a_put_refused_by_a_lease_asks_for_the_session_again() {
    let mut h = H::new(plan(vec![encounter("e1", &["a"])]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    let (id, req) = one_api(&h.put_done(ps[0].0, Err(locked())));
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(r.items.len(), 1);
    let fresh = Ok(ApiResponse::Sessions(UploadSessions {
        sessions: vec![UploadSession {
            upload_url: Some("https://blob/k-a?fresh".into()),
            ..session(&key("a"), SessionStatus::Pending)
        }],
    }));
    let ps = puts(&h.answer(id, fresh));
    assert_eq!(ps[0].2, "https://blob/k-a?fresh");
    let (id, req) = one_api(&h.put_done(ps[0].0, Ok(())));
    assert!(matches!(req, ApiRequest::CommitSessions(_)), "{req:?}");
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    assert!(s.encounters[0].failed.is_empty(), "{s:?}");

    // The lock stays (the server could not break it): every attempt asks again, then fails.
    let mut h = H::new(plan(vec![encounter("e1", &["a"])]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let mut cmds = h.answer(id, sessions_for(&req, &[]));
    let mut refreshes = 0;
    let summary = loop {
        if let Some(s) = finished(&cmds) {
            break s;
        }
        let ps = puts(&cmds);
        let api = apis(&cmds);
        cmds = if let Some((id, _, _)) = ps.first() {
            h.put_done(*id, Err(locked()))
        } else if let Some((id, req)) = api.first() {
            refreshes += 1;
            h.answer(*id, sessions_for(req, &[]))
        } else {
            h.fire()
        };
        assert!(refreshes < 10, "never gives up");
    };
    assert_eq!(refreshes, 3, "one session request per attempt");
    let f = &summary.encounters[0].failed[0].failure;
    assert_eq!(
        (f.step, f.http_status, f.code.as_deref()),
        (Step::Put, Some(412), Some("LeaseIdMissing"))
    );
    assert_eq!(f.message, LOCKED_MESSAGE);
    assert!(f.message.contains("Press Retry"), "{}", f.message);
}

#[test]
fn commit_retries_after_2s_then_4s_then_fails_the_batch() {
    let mut h = H::new(plan(vec![encounter("e1", &["a"])]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    let (id, _) = one_api(&h.put_done(ps[0].0, Ok(())));
    let t0 = h.now;
    assert!(apis(&h.answer(id, Err(HttpFailure::Timeout))).is_empty());
    assert_eq!(h.e.poll_timeout(), Some(t0 + 2_000));
    let (id, _) = one_api(&h.fire());
    h.answer(id, Err(s503()));
    assert_eq!(h.e.poll_timeout(), Some(t0 + 6_000));
    let (id, _) = one_api(&h.fire());
    let cmds = h.answer(id, Err(s503()));
    let s = finished(&cmds).unwrap();
    assert_eq!(s.encounters[0].failed[0].failure.step, Step::Commit);
    assert_eq!(s.encounters[0].failed[0].failure.attempts, 3);
}

fn too_many(retry_after_ms: Option<u64>) -> HttpFailure {
    HttpFailure::Status {
        status: 429,
        error: Some(ApiError {
            code: "rateLimited".into(),
            message: "too many requests".into(),
        }),
        azure_code: None,
        message: None,
        retry_after_ms,
    }
}

#[test]
fn a_429_waits_at_least_its_retry_after_before_the_next_attempt() {
    let mut h = H::new(plan(vec![encounter("e1", &["a", "b"])]), config(2));
    let (id, _) = one_api(&h.start());
    // Find-or-create: policy wait 0, Retry-After 1.5 s → nothing is sent before 1.5 s.
    let t0 = h.now;
    assert!(apis(&h.answer(id, Err(too_many(Some(1_500))))).is_empty());
    assert_eq!(h.e.poll_timeout(), Some(t0 + 1_500));
    h.now = t0 + 1_499;
    assert!(
        apis(&h.ev(Event::TimerFired)).is_empty(),
        "not before Retry-After"
    );
    let (id, _) = one_api(&h.fire());
    assert_eq!(h.now, t0 + 1_500);
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    // A PUT answered 429 with Retry-After 20 s (above the jittered 2.5–7.5 s): waits 20 s,
    // while the other image's PUT goes on.
    let t1 = h.now;
    assert!(puts(&h.put_done(ps[0].0, Err(PutFailure::Http(too_many(Some(20_000)))))).is_empty());
    assert_eq!(h.e.poll_timeout(), Some(t1 + 20_000));
    h.put_done(ps[1].0, Ok(()));
    h.now = t1 + 19_999;
    assert!(puts(&h.ev(Event::TimerFired)).is_empty());
    let again = puts(&h.fire());
    assert_eq!((again.len(), h.now), (1, t1 + 20_000));
    let (id, _) = one_api(&h.put_done(again[0].0, Ok(())));
    // Commit: Retry-After 3 s beats the policy's 2 s; the second wait is the policy's 4 s
    // when Retry-After (1 s) is shorter.
    let t2 = h.now;
    h.answer(id, Err(too_many(Some(3_000))));
    assert_eq!(h.e.poll_timeout(), Some(t2 + 3_000));
    let (id, _) = one_api(&h.fire());
    h.answer(id, Err(too_many(Some(1_000))));
    assert_eq!(h.e.poll_timeout(), Some(t2 + 7_000));
    let (id, req) = one_api(&h.fire());
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    assert_eq!(s.progress.images_complete, 2);
}

#[test]
fn live_upload_urls_drop_an_image_once_its_url_will_not_be_used_again() {
    let mut h = H::new(plan(vec![encounter("e1", &["a", "b", "c"])]), config(3));
    let (id, _) = one_api(&h.start());
    assert!(h.e.live_upload_urls().is_empty());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    let url = |i: usize| ps[i].2.as_str().to_owned();
    let live = |h: &H| -> Vec<String> {
        let mut v: Vec<String> =
            h.e.live_upload_urls()
                .into_iter()
                .map(String::from)
                .collect();
        v.sort();
        v
    };
    assert_eq!(live(&h), vec![url(0), url(1), url(2)]);
    // a: a 503 is retried on the same URL after a wait: still live. b: a final refusal (400).
    // c: done.
    h.put_done(ps[0].0, Err(PutFailure::Http(s503())));
    h.put_done(ps[1].0, Err(PutFailure::Http(HttpFailure::status(400))));
    h.put_done(ps[2].0, Ok(()));
    assert_eq!(live(&h), vec![url(0)]);
    // a's second and third attempts fail too: given up, nothing is live.
    let again = puts(&h.fire());
    assert_eq!(live(&h), vec![url(0)]);
    h.put_done(again[0].0, Err(PutFailure::Http(s503())));
    let again = puts(&h.fire());
    h.put_done(again[0].0, Err(PutFailure::Http(s503())));
    assert!(live(&h).is_empty(), "{:?}", live(&h));
    // An expired SAS: the old URL is not used again (a fresh session is asked for).
    let mut h = H::new(plan(vec![encounter("e1", &["a"])]), config(1));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    h.put_done(ps[0].0, Err(expired()));
    assert!(h.e.live_upload_urls().is_empty());
}

#[test]
fn offline_holds_requests_and_failures_while_offline_use_no_attempt() {
    let mut h = H::new(plan(vec![encounter("e1", &["a"])]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    let (id, _) = one_api(&h.put_done(ps[0].0, Ok(())));
    h.ev(Event::WentOffline);
    assert_eq!(h.e.progress().state, RunState::Offline);
    // The commit in flight fails for lack of network: held, no timer, attempt kept.
    let cmds = h.answer(
        id,
        Err(HttpFailure::Network {
            detail: "offline".into(),
        }),
    );
    assert!(apis(&cmds).is_empty());
    assert_eq!(h.e.poll_timeout(), None);
    h.now += 600_000;
    let (id, _) = one_api(&h.ev(Event::WentOnline));
    // Still three attempts left: 503, 503, 503 → waits 2 s and 4 s before failing.
    h.answer(id, Err(s503()));
    let (id, _) = one_api(&h.fire());
    h.answer(id, Err(s503()));
    let (id, _) = one_api(&h.fire());
    let s = finished(&h.answer(id, Err(s503()))).unwrap();
    assert_eq!(s.encounters[0].failed[0].failure.attempts, 3);
}

#[test]
fn pause_holds_new_requests_resume_continues_cancel_ends() {
    let mut h = H::new(plan(vec![encounter("e1", &["a", "b"])]), config(1));
    let (id, _) = one_api(&h.start());
    h.ev(Event::Pause);
    let cmds = h.answer(id, encounter_ref(1));
    assert!(apis(&cmds).is_empty(), "paused: no session request");
    assert!(!persists(&cmds).is_empty(), "answers are still handled");
    assert_eq!(h.e.progress().state, RunState::Paused);
    let (id, req) = one_api(&h.ev(Event::Resume));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    assert_eq!(ps.len(), 1);
    let cmds = h.ev(Event::Cancel);
    let s = finished(&cmds).unwrap();
    assert_eq!(s.outcome, Outcome::Cancelled);
    assert!(
        h.put_done(ps[0].0, Ok(())).is_empty(),
        "late answers ignored"
    );
    assert!(h.e.is_finished());
}

#[test]
fn an_api_key_refusal_stops_the_run() {
    let mut h = H::new(
        plan(vec![encounter("e1", &["a"]), encounter("e2", &["b"])]),
        config(2),
    );
    let (id, _) = one_api(&h.start());
    let cmds = h.answer(
        id,
        Err(HttpFailure::Status {
            status: 403,
            error: Some(ApiError {
                code: "accessDenied".into(),
                message: "browser sync is off".into(),
            }),
            azure_code: None,
            message: None,
            retry_after_ms: None,
        }),
    );
    let s = finished(&cmds).unwrap();
    let Outcome::Stopped { failure } = &s.outcome else {
        panic!("{s:?}")
    };
    assert_eq!(failure.code.as_deref(), Some("accessDenied"));
    assert!(matches!(
        s.encounters[0].status,
        EncounterStatus::Failed { failure: Some(_) }
    ));
    assert_eq!(s.encounters[1].status, EncounterStatus::Pending);
}

#[test]
fn an_encounter_not_in_the_keys_population_fails_alone_and_the_run_goes_on() {
    let mut h = H::new(
        plan(vec![encounter("e1", &["a"]), encounter("e2", &["b"])]),
        config(2),
    );
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    assert!(
        matches!(req, ApiRequest::CreateUploadSessions(_)),
        "{req:?}"
    );
    let cmds = h.answer(
        id,
        Err(HttpFailure::Status {
            status: 403,
            error: Some(ApiError {
                code: "notInPopulation".into(),
                message: "encounter 1 is not in this key's population".into(),
            }),
            azure_code: None,
            message: None,
            retry_after_ms: None,
        }),
    );
    assert!(finished(&cmds).is_none(), "the run does not stop");
    assert!(persists(&cmds).iter().any(|p| matches!(
        p,
        Persist::ImageStatus { image, status: ImageStatus::Failed { failure }, .. }
            if image == "a" && failure.code.as_deref() == Some("notInPopulation")
    )));
    let (id, req) = one_api(&cmds);
    assert!(
        matches!(req, ApiRequest::FindOrCreateEncounter(_)),
        "e2 starts: {req:?}"
    );
    let (id, req) = one_api(&h.answer(id, encounter_ref(2)));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    assert_eq!(ps.len(), 1);
}

#[test]
fn find_or_create_retries_once_then_fails_the_encounter_and_moves_on() {
    let mut h = H::new(
        plan(vec![encounter("e1", &["a"]), encounter("e2", &["b"])]),
        config(2),
    );
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, Err(s503())));
    assert!(matches!(req, ApiRequest::FindOrCreateEncounter(_)));
    let cmds = h.answer(id, Err(s503()));
    assert!(persists(&cmds).iter().any(|p| matches!(
        p,
        Persist::ImageStatus { image, status: ImageStatus::Failed { failure }, .. }
            if image == "a" && failure.step == Step::FindOrCreate
    )));
    let (_, req) = one_api(&cmds);
    assert!(
        matches!(req, ApiRequest::FindOrCreateEncounter(_)),
        "e2 starts"
    );
}

#[test]
fn skips_are_reported_and_make_the_encounter_partial() {
    let names = [
        "a", "big", "dup", "gone", "noname", "empty", "path", "badkey",
    ];
    let mut enc = encounter("e1", &names);
    enc.images[1].size = crate::api::MAX_IMAGE_BYTES + 1;
    enc.images[2].idempotency_key = key("a");
    enc.images[4].file_name = String::new();
    enc.images[5].size = 0;
    enc.images[6].file_name = "../x.jpg".into();
    enc.images[7].idempotency_key = "k-7".into();
    let mut h = H::new(plan(vec![enc]), config(4));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!()
    };
    assert_eq!(r.items.len(), 2, "{r:?}");
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    h.put_done(
        ps[1].0,
        Err(PutFailure::Source {
            problem: SourceProblem::Missing,
            detail: "NotFoundError".into(),
        }),
    );
    let (id, req) = one_api(&h.put_done(ps[0].0, Ok(())));
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    let e = &s.encounters[0];
    assert_eq!(e.status, EncounterStatus::Partial);
    assert_eq!(e.images_complete, 1);
    let reasons: Vec<_> = e.skipped.iter().map(|s| s.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            SkipReason::TooLarge {
                size: crate::api::MAX_IMAGE_BYTES + 1
            },
            SkipReason::DuplicateOf { image: "a".into() },
            SkipReason::SourceMissing {
                detail: "NotFoundError".into()
            },
            SkipReason::InvalidFileName,
            SkipReason::EmptyFile,
            SkipReason::InvalidFileName,
            SkipReason::InvalidKey,
        ]
    );
    assert_eq!(s.progress.images_done, 8);
}

#[test]
fn odd_answers_fail_images_without_panicking() {
    let mut h = H::new(plan(vec![encounter("e1", &["a", "b", "c"])]), config(4));
    let (id, _) = one_api(&h.start());
    let (id, _) = one_api(&h.answer(id, encounter_ref(1)));
    // Only "a" is answered; "b" comes back in error; "c" is missing.
    let answer = Ok(ApiResponse::Sessions(UploadSessions {
        sessions: vec![
            session(&key("a"), SessionStatus::Pending),
            session(&key("b"), SessionStatus::Error),
        ],
    }));
    let ps = puts(&h.answer(id, answer));
    assert_eq!(ps.len(), 1);
    let (id, _) = one_api(&h.put_done(ps[0].0, Ok(())));
    // A commit answered with the wrong shape.
    let s = finished(&h.answer(id, encounter_ref(5))).unwrap();
    let kinds: Vec<_> = s.encounters[0]
        .failed
        .iter()
        .map(|f| (f.image.as_str(), f.failure.step, f.failure.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("a", Step::Commit, FailureKind::BadResponse),
            ("b", Step::Sessions, FailureKind::ItemError),
            ("c", Step::Sessions, FailureKind::BadResponse),
        ]
    );
    // Unknown request ids are ignored.
    assert!(h.answer(RequestId(999), encounter_ref(1)).is_empty());
}

#[test]
fn retry_from_the_store_sends_only_failed_images() {
    let p = plan(vec![encounter("e1", &["a", "b"])]);
    let mut store = SyncStore::default();
    let mut h = H::new(p.clone(), config(2));
    let mut record = |cmds: Vec<Command>| {
        for c in &cmds {
            if let Command::Persist(x) = c {
                store.apply(x);
            }
        }
        cmds
    };
    let (id, _) = one_api(&record(h.start()));
    let (id, req) = one_api(&record(h.answer(id, encounter_ref(4))));
    let ps = puts(&record(h.answer(id, sessions_for(&req, &[]))));
    record(h.put_done(ps[1].0, Err(PutFailure::Http(HttpFailure::status(400)))));
    let (id, req) = one_api(&record(h.put_done(ps[0].0, Ok(()))));
    let s = finished(&record(h.answer(id, commit_all(&req)))).unwrap();
    assert_eq!(s.encounters[0].status, EncounterStatus::Partial);
    assert!(matches!(store.image("e1", "b"), ImageStatus::Failed { .. }));

    // Retry: a new engine from the persisted state sends "b" only, to the same encounter.
    let mut h = H::new(p.with_store(&store), config(2));
    assert_eq!(h.e.progress().images_complete, 1);
    let (id, req) = one_api(&h.start());
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!("{req:?}")
    };
    assert_eq!((r.encounter_id, r.items.len()), (4, 1));
    assert_eq!(r.items[0].idempotency_key, key("b"));
    let ps = puts(&h.answer(id, sessions_for(&req, &[])));
    let (id, req) = one_api(&h.put_done(ps[0].0, Ok(())));
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    assert_eq!(s.encounters[0].status, EncounterStatus::Synced);
}

#[test]
fn batches_are_sessioned_uploaded_and_committed_in_a_pipeline() {
    let mut h = H::new(
        plan(vec![encounter("e1", &["a", "b", "c"])]),
        Config {
            batch_size: 2,
            ..config(4)
        },
    );
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let cmds = h.answer(id, sessions_for(&req, &[]));
    let ps = puts(&cmds);
    assert_eq!(ps.len(), 2);
    // Every PUT of the first batch is started: the second batch's sessions are requested.
    let (sid, sreq) = one_api(&cmds);
    let ApiRequest::CreateUploadSessions(r) = &sreq else {
        panic!()
    };
    assert_eq!(r.items.len(), 1);
    assert_eq!(r.items[0].idempotency_key, key("c"));
    let ps2 = puts(&h.answer(sid, sessions_for(&sreq, &[])));
    assert_eq!(ps2.len(), 1, "a free PUT slot takes the next batch's image");
    h.put_done(ps[0].0, Ok(()));
    let (id, req) = one_api(&h.put_done(ps[1].0, Ok(())));
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("a"), key("b")]
        })
    );
    let (id2, req2) = one_api(&h.put_done(ps2[0].0, Ok(())));
    assert_eq!(
        req2,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("c")]
        })
    );
    assert!(finished(&h.answer(id, commit_all(&req))).is_none());
    let s = finished(&h.answer(id2, commit_all(&req2))).unwrap();
    assert_eq!(s.encounters[0].status, EncounterStatus::Synced);
    assert_eq!(s.progress.images_complete, 3);
}

#[test]
fn the_next_batch_is_sessioned_and_uploaded_while_the_previous_one_commits() {
    let mut h = H::new(
        plan(vec![encounter("e1", &["a", "b", "c", "d"])]),
        Config {
            batch_size: 2,
            ..config(1)
        },
    );
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let cmds = h.answer(id, sessions_for(&req, &[]));
    let pa = puts(&cmds);
    assert_eq!(pa.len(), 1);
    // b waits for the one PUT slot: with at most `concurrency` (1) images of the batch still
    // to start, the next batch's sessions go out at once, ahead of the slot freeing up.
    let put_a = position(&cmds, |c| matches!(c, Command::PutBlob { .. }));
    let sess = position(&cmds, |c| matches!(c, Command::ApiRequest { .. }));
    assert!(put_a < sess);
    let (sid, sreq) = one_api(&cmds);
    let ApiRequest::CreateUploadSessions(r) = &sreq else {
        panic!("{sreq:?}")
    };
    assert_eq!(
        r.items
            .iter()
            .map(|i| i.idempotency_key.clone())
            .collect::<Vec<_>>(),
        [key("c"), key("d")]
    );
    assert!(
        puts(&h.answer(sid, sessions_for(&sreq, &[]))).is_empty(),
        "slot busy"
    );
    // a done: b (the older batch) gets the slot before c.
    let pb = puts(&h.put_done(pa[0].0, Ok(())));
    assert_eq!(pb.len(), 1);
    assert_eq!(pb[0].1, "b");
    // b done: the first batch's commit goes out and c takes the free slot at once.
    let cmds = h.put_done(pb[0].0, Ok(()));
    let (cid, creq) = one_api(&cmds);
    assert!(matches!(creq, ApiRequest::CommitSessions(_)));
    let pc = puts(&cmds);
    assert_eq!(pc.len(), 1);
    assert_eq!(pc[0].1, "c");
    // The commit is slow: c finishes and d starts before its answer.
    let pd = puts(&h.put_done(pc[0].0, Ok(())));
    assert_eq!(pd[0].1, "d");
    let cmds = h.answer(cid, commit_all(&creq));
    assert!(persists(&cmds).contains(&Persist::ImageStatus {
        encounter: "e1".into(),
        image: "a".into(),
        status: ImageStatus::Complete {
            file_item_id: Some(100)
        },
    }));
    assert!(finished(&cmds).is_none());
    let (id, req) = one_api(&h.put_done(pd[0].0, Ok(())));
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("c"), key("d")]
        })
    );
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    assert_eq!(s.encounters[0].status, EncounterStatus::Synced);
    assert_eq!(s.progress.images_complete, 4);
}

#[test]
fn a_third_batch_uploads_while_two_commits_are_in_flight_and_no_fourth_opens() {
    let names: Vec<String> = (0..8).map(|n| format!("i{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut h = H::new(
        plan(vec![encounter("e1", &refs)]),
        Config {
            batch_size: 2,
            ..config(1)
        },
    );
    let (id, _) = one_api(&h.start());
    let mut cmds = h.answer(id, encounter_ref(1));
    // Answer sessions and PUTs as they come, hold every commit.
    let mut commits: Vec<(RequestId, ApiRequest)> = Vec::new();
    let mut sessions: Vec<(RequestId, ApiRequest)> = Vec::new();
    let mut put_queue: Vec<RequestId> = Vec::new();
    let mut sessions_sent = 0;
    for _ in 0..100 {
        for (id, req) in apis(&cmds) {
            match req {
                ApiRequest::CommitSessions(_) => commits.push((id, req)),
                _ => {
                    sessions_sent += 1;
                    sessions.push((id, req));
                }
            }
        }
        put_queue.extend(puts(&cmds).into_iter().map(|p| p.0));
        cmds = if !sessions.is_empty() {
            let (id, req) = sessions.remove(0);
            h.answer(id, sessions_for(&req, &[]))
        } else if !put_queue.is_empty() {
            let id = put_queue.remove(0);
            h.put_done(id, Ok(()))
        } else {
            break;
        };
    }
    // Batches 1 and 2 committing, batch 3 uploaded (or uploading) before either answered;
    // batch 4 waits for one of the three to close.
    assert_eq!(commits.len(), 3, "{commits:?}");
    assert_eq!(sessions_sent, 3);
    let (id, req) = commits.remove(0);
    let cmds = h.answer(id, commit_all(&req));
    let (_, req4) = one_api(&cmds);
    let ApiRequest::CreateUploadSessions(r) = &req4 else {
        panic!("{req4:?}")
    };
    assert_eq!(
        r.items
            .iter()
            .map(|i| i.idempotency_key.clone())
            .collect::<Vec<_>>(),
        [key("i6"), key("i7")]
    );
}

#[test]
fn overlapping_batches_never_exceed_the_put_concurrency() {
    let names: Vec<String> = (0..14).map(|n| format!("i{n}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut h = H::new(
        plan(vec![encounter("e1", &refs), encounter("e2", &refs[..5])]),
        Config {
            batch_size: 3,
            ..config(2)
        },
    );
    // Answers are held in arrival order; commits are answered only when nothing else is
    // pending, so batches overlap as much as the engine allows.
    let mut api: Vec<(RequestId, ApiRequest)> = Vec::new();
    let mut put: Vec<RequestId> = Vec::new();
    let (mut max_puts, mut put_during_commit, mut steps) = (0, false, 0);
    let mut limit = 2usize;
    let mut cmds = h.start();
    let summary = loop {
        if let Some(s) = finished(&cmds) {
            break s;
        }
        for c in &cmds {
            match c {
                Command::PutBlob { request_id, .. } => {
                    put.push(*request_id);
                    assert!(
                        put.len() <= limit,
                        "{} PUTs at concurrency {limit}",
                        put.len()
                    );
                    max_puts = max_puts.max(put.len());
                    if api
                        .iter()
                        .any(|(_, r)| matches!(r, ApiRequest::CommitSessions(_)))
                    {
                        put_during_commit = true;
                    }
                }
                Command::ApiRequest {
                    request_id,
                    request,
                    ..
                } => api.push((*request_id, request.clone())),
                _ => {}
            }
        }
        steps += 1;
        if steps == 10 {
            limit = 3;
            cmds = h.ev(Event::ConcurrencyChanged(3));
            continue;
        }
        if steps == 25 {
            limit = 1;
            cmds = h.ev(Event::ConcurrencyChanged(1));
            continue;
        }
        let non_commit = api
            .iter()
            .position(|(_, r)| !matches!(r, ApiRequest::CommitSessions(_)));
        cmds = if let Some(n) = non_commit {
            let (id, req) = api.remove(n);
            match &req {
                ApiRequest::FindOrCreateEncounter(_) => h.answer(id, encounter_ref(1)),
                _ => h.answer(id, sessions_for(&req, &[])),
            }
        } else if !put.is_empty() {
            let id = put.remove(0);
            h.put_done(id, Ok(()))
        } else {
            let (id, req) = api.remove(0);
            h.answer(id, commit_all(&req))
        };
        assert!(steps < 1_000);
    };
    assert!(put_during_commit, "batches overlapped");
    assert_eq!(max_puts, 3);
    assert_eq!(summary.outcome, Outcome::Completed);
    assert!(summary
        .encounters
        .iter()
        .all(|e| e.status == EncounterStatus::Synced));
    assert_eq!(summary.progress.images_complete, 19);
}

#[test]
fn a_failed_commit_does_not_touch_the_next_batch() {
    let mut h = H::new(
        plan(vec![encounter("e1", &["a", "b"])]),
        Config {
            batch_size: 1,
            ..config(2)
        },
    );
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(1)));
    let cmds = h.answer(id, sessions_for(&req, &[]));
    let pa = puts(&cmds);
    let (sid, sreq) = one_api(&cmds);
    let pb = puts(&h.answer(sid, sessions_for(&sreq, &[])));
    assert_eq!((pa.len(), pb.len()), (1, 1));
    let (cid, _) = one_api(&h.put_done(pa[0].0, Ok(())));
    // a's commit is refused while b is still uploading.
    let cmds = h.answer(cid, Err(HttpFailure::status(400)));
    let p = persists(&cmds);
    assert!(p.iter().any(|p| matches!(
        p,
        Persist::ImageStatus { image, status: ImageStatus::Failed { failure }, .. }
            if image == "a" && failure.step == Step::Commit
    )));
    assert!(
        !p.iter()
            .any(|p| matches!(p, Persist::ImageStatus { image, .. } if image == "b")),
        "{p:?}"
    );
    assert!(finished(&cmds).is_none());
    let (id, req) = one_api(&h.put_done(pb[0].0, Ok(())));
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("b")]
        })
    );
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    let e = &s.encounters[0];
    assert_eq!(e.status, EncounterStatus::Partial);
    assert_eq!(e.images_complete, 1);
    assert_eq!(e.failed.len(), 1);
    assert_eq!(e.failed[0].image, "a");
    assert_eq!(e.failed[0].failure.kind, FailureKind::Rejected);
}

#[test]
fn bad_plans_and_configs_are_refused() {
    let ok = plan(vec![encounter("e1", &["a"])]);
    assert_eq!(
        Engine::new(ok.clone(), config(0)).unwrap_err(),
        PlanError::Concurrency(0)
    );
    assert_eq!(
        Engine::new(ok.clone(), config(5)).unwrap_err(),
        PlanError::Concurrency(5)
    );
    let big = Config {
        batch_size: crate::api::MAX_BATCH + 1,
        ..config(2)
    };
    assert!(matches!(Engine::new(ok, big), Err(PlanError::BatchSize(_))));
    let dup = plan(vec![encounter("e1", &["a"]), encounter("e1", &["b"])]);
    assert!(matches!(
        Engine::new(dup, config(2)),
        Err(PlanError::DuplicateEncounter(_))
    ));
    let dup = plan(vec![encounter("e1", &["a", "a"])]);
    assert!(matches!(
        Engine::new(dup, config(2)),
        Err(PlanError::DuplicateImage { .. })
    ));
}

#[test]
fn an_empty_plan_finishes_at_start() {
    let mut h = H::new(plan(vec![]), config(2));
    let s = finished(&h.start()).unwrap();
    assert_eq!(s.outcome, Outcome::Completed);
}

/// An encounter with no images: find-or-create is the whole sync of it.
fn bare(id: &str, day: &str) -> PlanEncounter {
    PlanEncounter {
        fields: fields(day),
        ..encounter(id, &[])
    }
}

fn jane_new() -> PlanUser {
    jane_new_in(1)
}

fn jane_new_in(population_id: i64) -> PlanUser {
    PlanUser::create_on_sync(
        population_id,
        crate::api::CreateUser {
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            email: None,
        },
    )
}

fn created_user(id: i64) -> Result<ApiResponse, HttpFailure> {
    Ok(ApiResponse::User(crate::api::CreatedUser {
        user: crate::api::UserRef {
            id,
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            email: "placeholder+jane.smith@finsync.invalid".into(),
            placeholder_email: true,
        },
        created: true,
    }))
}

#[test]
fn find_or_create_sends_the_reviewed_fields_in_full() {
    let mut enc = bare("e1", "2024-07-15");
    enc.fields.gps = Some(crate::api::Gps {
        lat: 48.51,
        lon: -123.15,
    });
    enc.fields.notes = Some("breaching".into());
    enc.fields.license = Some(crate::api::License::PublicAttribution);
    enc.fields.organisations = vec![3];
    enc.fields.known_individuals = vec!["T002B".into(), "T036A".into()];
    enc.fields.photographer_user_id = Some(42);
    let expected = enc.fields.clone();
    let mut h = H::new(plan(vec![enc]), config(2));
    let (_, req) = one_api(&h.start());
    assert_eq!(req, ApiRequest::FindOrCreateEncounter(expected));
    // What goes on the wire: the server's full shape, camelCase.
    let ApiRequest::FindOrCreateEncounter(f) = req else {
        panic!()
    };
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["license"], "publicAttribution");
    assert_eq!(json["knownIndividuals"][1], "T036A");
    assert_eq!(json["organisations"][0], 3);
    assert_eq!(json["photographerUserId"], 42);
    assert_eq!(json["gps"]["lat"], 48.51);
}

#[test]
fn a_photographer_created_on_sync_is_created_once_before_its_encounters() {
    let mut e1 = bare("e1", "2024-07-15");
    let mut e2 = bare("e2", "2024-07-16");
    for e in [&mut e1, &mut e2] {
        e.fields.photographer = "Jane Smith".into();
        e.create_photographer = Some(jane_new());
    }
    let mut h = H::new(plan(vec![e1.clone(), e2.clone()]), config(2));
    let (id, req) = one_api(&h.start());
    assert_eq!(req, ApiRequest::CreateUser(jane_new().request));
    // The answer is lost once: asked again (the server is idempotent on the name).
    let cmds = h.answer(id, Err(s503()));
    let (id, req) = one_api(&cmds);
    assert!(matches!(req, ApiRequest::CreateUser(_)));
    let cmds = h.answer(id, created_user(77));
    // Write-ahead: the user id is persisted before the find-or-create that names it.
    let p = position(&cmds, |c| {
        matches!(c, Command::Persist(Persist::UserCreated { .. }))
    });
    let f = position(&cmds, |c| matches!(c, Command::ApiRequest { .. }));
    assert!(p < f);
    let mut store = SyncStore::default();
    for c in persists(&cmds) {
        store.apply(&c);
    }
    assert_eq!(store.created_users().get(&jane_new().key), Some(&77));
    let (id, req) = one_api(&cmds);
    let ApiRequest::FindOrCreateEncounter(f) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(
        (f.photographer.as_str(), f.photographer_user_id),
        ("Jane Smith", Some(77))
    );
    // The second encounter of the same person only references the user.
    let cmds = h.answer(id, encounter_ref(5));
    let (id, req) = one_api(&cmds);
    let ApiRequest::FindOrCreateEncounter(f) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(
        (f.date.as_str(), f.photographer_user_id),
        ("2024-07-16", Some(77))
    );
    assert!(finished(&h.answer(id, encounter_ref(6))).is_some());

    // A later run (resume, Retry, or a new encounter of the same manifest) starts from the
    // persisted state: the user is not created again.
    let mut e3 = bare("e3", "2024-07-17");
    e3.create_photographer = Some(jane_new());
    let resumed = plan(vec![e3]).with_store(&store);
    assert_eq!(resumed.encounters[0].create_photographer, None);
    let mut h = H::new(resumed, config(2));
    let (_, req) = one_api(&h.start());
    let ApiRequest::FindOrCreateEncounter(f) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(f.photographer_user_id, Some(77));
}

#[test]
fn a_user_created_for_one_population_is_created_again_for_another() {
    // Population 1 (one organisation) creates Jane Smith as user 77.
    let mut e1 = bare("e1", "2024-07-15");
    e1.fields.photographer = "Jane Smith".into();
    e1.create_photographer = Some(jane_new_in(1));
    let mut h = H::new(plan(vec![e1]), config(2));
    let (id, req) = one_api(&h.start());
    assert!(matches!(req, ApiRequest::CreateUser(_)));
    let cmds = h.answer(id, created_user(77));
    // One store holds the sync state of every population (as the browser's does).
    let mut store = SyncStore::default();
    for c in persists(&cmds) {
        store.apply(&c);
    }
    let (id, _) = one_api(&cmds);
    assert!(finished(&h.answer(id, encounter_ref(5))).is_some());

    // Population 2, same name: user 77 belongs to population 1's organisation, so it is not
    // reused; Jane Smith is created again for population 2.
    let mut e2 = bare("e2", "2024-07-16");
    e2.fields.photographer = "Jane Smith".into();
    e2.create_photographer = Some(jane_new_in(2));
    let other = Plan {
        population_id: 2,
        encounters: vec![e2],
    }
    .with_store(&store);
    assert_eq!(
        other.encounters[0].create_photographer,
        Some(jane_new_in(2))
    );
    assert_eq!(other.encounters[0].fields.photographer_user_id, None);
    let mut h = H::new(other, config(2));
    let (id, req) = one_api(&h.start());
    assert_eq!(req, ApiRequest::CreateUser(jane_new_in(2).request));
    let cmds = h.answer(id, created_user(78));
    let (_, req) = one_api(&cmds);
    let ApiRequest::FindOrCreateEncounter(f) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(f.photographer_user_id, Some(78));
    for c in persists(&cmds) {
        store.apply(&c);
    }
    // Both creations are remembered, each for its own population.
    assert_eq!(store.created_users().get(&jane_new_in(1).key), Some(&77));
    assert_eq!(store.created_users().get(&jane_new_in(2).key), Some(&78));
}

#[test]
fn a_refused_user_creation_fails_its_encounter_with_the_servers_reason() {
    let mut e1 = bare("e1", "2024-07-15");
    e1.create_photographer = Some(jane_new());
    let e2 = bare("e2", "2024-07-16");
    let mut h = H::new(plan(vec![e1, e2]), config(2));
    let (id, _) = one_api(&h.start());
    let cmds = h.answer(
        id,
        Err(HttpFailure::Status {
            status: 409,
            error: Some(ApiError {
                code: "emailInUse".into(),
                message: "jane@x.org belongs to a user of another organisation".into(),
            }),
            azure_code: None,
            message: None,
            retry_after_ms: None,
        }),
    );
    let failed = persists(&cmds).into_iter().find_map(|p| match p {
        Persist::EncounterStatus {
            encounter,
            status: EncounterStatus::Failed { failure: Some(f) },
        } if encounter == "e1" => Some(f),
        _ => None,
    });
    let f = failed.expect("e1 failed");
    assert_eq!((f.step, f.kind), (Step::CreateUser, FailureKind::Rejected));
    assert_eq!(f.code.as_deref(), Some("emailInUse"));
    // The next encounter goes on, without a user.
    let (_, req) = one_api(&cmds);
    let ApiRequest::FindOrCreateEncounter(f) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(
        (f.date.as_str(), f.photographer_user_id),
        ("2024-07-16", None)
    );
}

// ---- Azure-sourced images: server-side copy (issue 8) ------------------------------------

fn azure(id: &str, connection: &str) -> PlanImage {
    PlanImage {
        source: crate::cloud::ImageSource::Azure(crate::cloud::BlobRef {
            connection_id: connection.into(),
            container: "source".into(),
            blob: format!("2024/{id}.jpg"),
        }),
        ..image(id, 1_000)
    }
}

fn copy_answer(
    req: &ApiRequest,
    each: impl Fn(&str) -> (crate::api::CopyStatus, Option<&'static str>),
) -> Result<ApiResponse, HttpFailure> {
    let ApiRequest::CopyBlobs(r) = req else {
        panic!("{req:?}")
    };
    Ok(ApiResponse::Copy(crate::api::CopyResults {
        results: r
            .items
            .iter()
            .map(|i| {
                let (status, code) = each(&i.idempotency_key);
                crate::api::CopyResult {
                    idempotency_key: i.idempotency_key.clone(),
                    status,
                    error: code.map(|c| ApiError {
                        code: c.into(),
                        message: format!("server: {c}"),
                    }),
                }
            })
            .collect(),
    }))
}

fn copied(_: &str) -> (crate::api::CopyStatus, Option<&'static str>) {
    (crate::api::CopyStatus::Copied, None)
}

/// An encounter of one local image "l" and two Azure ones "x", "y", through its sessions.
fn mixed_through_sessions(h: &mut H) -> Vec<Command> {
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(3)));
    let ApiRequest::CreateUploadSessions(r) = &req else {
        panic!()
    };
    // Azure images get sessions like local ones: the server copies into the session's blob.
    assert_eq!(r.items.len(), 3);
    h.answer(id, sessions_for(&req, &[]))
}

fn mixed() -> PlanEncounter {
    let mut enc = encounter("e1", &["l"]);
    enc.images.push(azure("x", "c1"));
    enc.images.push(azure("y", "c1"));
    enc
}

#[test]
fn azure_images_are_copied_by_reference_and_committed_with_the_uploads() {
    let mut h = H::new(plan(vec![mixed()]), config(2));
    let cmds = mixed_through_sessions(&mut h);
    // The local image is PUT; the Azure ones go out in one copy request, by reference.
    let ps = puts(&cmds);
    assert_eq!(
        ps.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ["l"],
        "no PUT for an Azure image"
    );
    let (copy_id, req) = one_api(&cmds);
    let ApiRequest::CopyBlobs(r) = &req else {
        panic!("{req:?}")
    };
    assert_eq!(
        r.items
            .iter()
            .map(|i| (i.idempotency_key.clone(), i.source.blob.clone()))
            .collect::<Vec<_>>(),
        [
            (key("x"), "2024/x.jpg".to_string()),
            (key("y"), "2024/y.jpg".to_string())
        ]
    );
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::ApiRequest { request: ApiRequest::CopyBlobs(_), timeout_ms, .. }
            if *timeout_ms == retry::copy_timeout_ms(30_000, 2)
    )));
    // Write-ahead: both are persisted as uploading before the copy request.
    let up = position(
        &cmds,
        |c| matches!(c, Command::Persist(Persist::ImageStatus { image, status: ImageStatus::Uploading, .. }) if image == "y"),
    );
    let send = position(&cmds, |c| {
        matches!(
            c,
            Command::ApiRequest {
                request: ApiRequest::CopyBlobs(_),
                ..
            }
        )
    });
    assert!(up < send);
    // Nothing in the command is a URL with a signature.
    assert!(!format!("{cmds:?}").contains("sig="));

    assert!(apis(&h.put_done(ps[0].0, Ok(()))).is_empty());
    let cmds = h.answer(copy_id, copy_answer(&req, copied));
    let (id, req) = one_api(&cmds);
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("l"), key("x"), key("y")]
        })
    );
    let s = finished(&h.answer(id, commit_all(&req))).unwrap();
    assert_eq!(s.encounters[0].status, EncounterStatus::Synced);
    assert_eq!(s.progress.images_complete, 3);
    assert_eq!(s.progress.bytes_done, 3_000, "copies count in the progress");
}

#[test]
fn a_copy_is_retried_after_exactly_2s_then_4s_then_fails() {
    let mut enc = encounter("e1", &[]);
    enc.images.push(azure("x", "c1"));
    let mut h = H::new(plan(vec![enc]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(3)));
    let (id, req0) = one_api(&h.answer(id, sessions_for(&req, &[])));
    assert!(matches!(req0, ApiRequest::CopyBlobs(_)));
    let t0 = h.now;
    assert!(apis(&h.answer(id, Err(s503()))).is_empty());
    assert_eq!(h.e.poll_timeout(), Some(t0 + 2_000));
    let (id, req1) = one_api(&h.fire());
    assert_eq!(req1, req0, "the same copy again");
    // The server's copy did not finish in its polling window: the same schedule.
    h.answer(
        id,
        copy_answer(&req1, |_| {
            (crate::api::CopyStatus::Error, Some("copyTimeout"))
        }),
    );
    assert_eq!(h.e.poll_timeout(), Some(t0 + 6_000));
    let (id, _) = one_api(&h.fire());
    let s = finished(&h.answer(id, Err(HttpFailure::Timeout))).unwrap();
    let f = &s.encounters[0].failed[0].failure;
    assert_eq!(
        (f.step, f.kind, f.attempts),
        (Step::Copy, FailureKind::RetriesExhausted, 3)
    );
    assert_eq!(
        s.encounters[0].status,
        EncounterStatus::Failed { failure: None }
    );
}

#[test]
fn a_source_the_storage_service_cannot_read_fails_with_the_fix_and_is_not_retried() {
    let mut enc = encounter("e1", &[]);
    enc.images.push(azure("x", "c1"));
    enc.images.push(azure("y", "gone"));
    enc.images.push(azure("z", "c1"));
    enc.images.push(azure("w", "c1"));
    let mut h = H::new(plan(vec![enc]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(3)));
    let (id, req) = one_api(&h.answer(id, sessions_for(&req, &[])));
    let (kx, ky, kz) = (key("x"), key("y"), key("z"));
    let cmds = h.answer(
        id,
        copy_answer(&req, |k| {
            use crate::api::CopyStatus::*;
            if k == kx {
                (Error, Some("copySourceDenied"))
            } else if k == ky {
                (Error, Some(crate::cloud::CONNECTION_MISSING))
            } else if k == kz {
                (Error, Some("copySourceNotFound"))
            } else {
                (Complete, None)
            }
        }),
    );
    assert!(apis(&cmds).is_empty(), "nothing retried, nothing to commit");
    assert_eq!(h.e.poll_timeout(), None);
    let s = finished(&cmds).unwrap();
    let e = &s.encounters[0];
    assert_eq!(e.status, EncounterStatus::Partial);
    assert_eq!(e.images_complete, 1);
    let denied = &e.failed.iter().find(|f| f.image == "x").unwrap().failure;
    assert_eq!(
        (
            denied.step,
            denied.kind,
            denied.code.as_deref(),
            denied.attempts
        ),
        (
            Step::Copy,
            FailureKind::ItemError,
            Some("copySourceDenied"),
            1
        )
    );
    assert!(
        denied.message.contains("CannotVerifyCopySource")
            && denied
                .message
                .contains("Settings → Azure storage connections")
            && denied.message.contains("said: server: copySourceDenied"),
        "{}",
        denied.message
    );
    let missing = &e.failed.iter().find(|f| f.image == "y").unwrap().failure;
    assert_eq!(
        missing.code.as_deref(),
        Some(crate::cloud::CONNECTION_MISSING)
    );
    assert!(matches!(
        &e.skipped[0],
        ImageSkip { image, reason: SkipReason::SourceMissing { .. } } if image == "z"
    ));
}

#[test]
fn a_source_blob_changed_since_the_scan_is_skipped_at_commit() {
    let mut enc = encounter("e1", &[]);
    enc.images.push(azure("x", "c1"));
    let mut h = H::new(plan(vec![enc]), config(2));
    let (id, _) = one_api(&h.start());
    let (id, req) = one_api(&h.answer(id, encounter_ref(3)));
    let (id, req) = one_api(&h.answer(id, sessions_for(&req, &[])));
    let (id, _) = one_api(&h.answer(id, copy_answer(&req, copied)));
    let cmds = h.answer(
        id,
        Ok(ApiResponse::Commit(CommitResults {
            results: vec![CommitResult {
                idempotency_key: key("x"),
                status: SessionStatus::Error,
                file_item_id: None,
                error: Some(ApiError {
                    code: "sizeMismatch".into(),
                    message: "x.jpg: uploaded 1001 bytes, expected 1000".into(),
                }),
            }],
        })),
    );
    let s = finished(&cmds).unwrap();
    assert!(matches!(
        &s.encounters[0].skipped[0].reason,
        SkipReason::SourceChanged { detail } if detail.contains("discovery")
    ));
}

#[test]
fn a_resumed_azure_image_copied_before_the_crash_is_committed_without_a_copy() {
    let mut enc = mixed();
    enc.remote = Some(RemoteEncounter {
        id: 3,
        url: "/encounters/3".into(),
    });
    enc.images[1].status = ImageStatus::Uploaded;
    enc.images[2].status = ImageStatus::Complete {
        file_item_id: Some(9),
    };
    enc.images.remove(0);
    let mut h = H::new(plan(vec![enc]), config(2));
    let (_, req) = one_api(&h.start());
    assert_eq!(
        req,
        ApiRequest::CommitSessions(crate::api::CommitSessions {
            idempotency_keys: vec![key("x")]
        })
    );
}
