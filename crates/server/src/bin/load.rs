//! `finsync-load`: a bounded load generator for the reference server, on loopback only.
//!
//! N simulated clients run at once; each creates its own encounter, asks for upload sessions
//! for M small real JPEGs, PUTs them to the SAS URLs, and commits them — the same calls the
//! app makes. It stops after all clients finish or after `--max-seconds`, then checks that
//! the server recorded every committed image (no lost writes) and prints one JSON object with
//! per-call latency percentiles and throughput.
//!
//! ```text
//! finsync-load --server http://127.0.0.1:8080 --key fsk_… --clients 16 --images 20
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use finsync_core::api::{
    CommitResults, CommitSessions, CreateUploadSessions, EncounterRef, FindOrCreateEncounter,
    SessionStatus, UploadItem, UploadSessions,
};
use finsync_core::fingerprint::{idempotency_key, Fingerprint};
use tokio::sync::Mutex;

#[derive(Parser, Debug)]
#[command(
    name = "finsync-load",
    about = "Bounded load generator for finsync-server"
)]
struct Args {
    /// The server (must be a loopback address).
    #[arg(long)]
    server: String,
    /// An API key of a population with browser sync on.
    #[arg(long)]
    key: String,
    /// Simulated clients running at once.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Images per client.
    #[arg(long, default_value_t = 20)]
    images: usize,
    /// Hard stop.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

#[derive(Default)]
struct Samples {
    find_or_create: Vec<f64>,
    sessions: Vec<f64>,
    put: Vec<f64>,
    commit: Vec<f64>,
    errors: Vec<String>,
    committed: usize,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

/// A small, valid, distinct JPEG (the server decodes every committed image).
fn jpeg(seed: u32) -> Result<Vec<u8>, String> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([
            (x * 4 + seed) as u8,
            (y * 5 + seed * 7) as u8,
            (seed * 13) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, String>>,
) -> (Result<T, String>, f64) {
    let t = Instant::now();
    let r = f.await;
    (r, t.elapsed().as_secs_f64() * 1000.0)
}

async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    args: &Args,
    path: &str,
    body: &B,
) -> Result<T, String> {
    let resp = http
        .post(format!("{}{path}", args.server))
        .bearer_auth(&args.key)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{path}: HTTP {status}"));
    }
    resp.json().await.map_err(|e| format!("{path}: {e}"))
}

async fn client(
    n: usize,
    args: Arc<Args>,
    http: reqwest::Client,
    population: i64,
    samples: Arc<Mutex<Samples>>,
) -> Result<(), String> {
    let enc = FindOrCreateEncounter {
        date: "2025-01-01".into(),
        time: None,
        location_name: format!("Load site {n}"),
        gps: None,
        photographer: "Load Tester".into(),
        notes: None,
    };
    let (r, ms) = timed(post::<_, EncounterRef>(
        &http,
        &args,
        "/api/v1/encounters/find-or-create",
        &enc,
    ))
    .await;
    samples.lock().await.find_or_create.push(ms);
    let enc_id = r?.id;
    let mut files = Vec::new();
    for i in 0..args.images {
        let bytes = jpeg((n * 1000 + i) as u32)?;
        let fp = Fingerprint::new(bytes.len() as u64, &bytes, &bytes);
        let key = idempotency_key(population, &format!("load-{n}"), &fp);
        files.push((format!("IMG_{n}_{i}.jpg"), key, bytes));
    }
    let req = CreateUploadSessions {
        encounter_id: enc_id,
        items: files
            .iter()
            .map(|(name, key, bytes)| UploadItem {
                idempotency_key: key.clone(),
                file_name: name.clone(),
                size: bytes.len() as u64,
                content_type: "image/jpeg".into(),
            })
            .collect(),
    };
    let (r, ms) = timed(post::<_, UploadSessions>(
        &http,
        &args,
        "/api/v1/upload-sessions",
        &req,
    ))
    .await;
    samples.lock().await.sessions.push(ms);
    let sessions = r?;
    for (s, (_, _, bytes)) in sessions.sessions.iter().zip(&files) {
        let Some(url) = &s.upload_url else { continue };
        let (r, ms) = timed(async {
            let resp = http
                .put(url)
                .header("x-ms-blob-type", "BlockBlob")
                .body(bytes.clone())
                .send()
                .await
                .map_err(|e| format!("PUT: {}", e.without_url()))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("PUT: HTTP {}", resp.status()))
            }
        })
        .await;
        samples.lock().await.put.push(ms);
        r?;
    }
    let commit = CommitSessions {
        idempotency_keys: files.iter().map(|(_, k, _)| k.clone()).collect(),
    };
    let (r, ms) = timed(post::<_, CommitResults>(
        &http,
        &args,
        "/api/v1/upload-sessions/commit",
        &commit,
    ))
    .await;
    samples.lock().await.commit.push(ms);
    let done = r?
        .results
        .iter()
        .filter(|c| c.status == SessionStatus::Complete)
        .count();
    samples.lock().await.committed += done;
    if done != files.len() {
        return Err(format!("client {n}: {done} of {} committed", files.len()));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let host = args
        .server
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    if !(host == "localhost" || host.starts_with("127.") || host == "[::1]") {
        eprintln!("finsync-load only targets loopback servers, not {host}");
        std::process::exit(2);
    }
    let http = reqwest::Client::new();
    let status: finsync_core::api::StatusResponse = match http
        .get(format!("{}/api/v1/status", args.server))
        .bearer_auth(&args.key)
        .send()
        .await
    {
        Ok(r) => match r.json().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("status: {e}");
                std::process::exit(1);
            }
        },
        Err(e) => {
            eprintln!("cannot reach {}: {e}", args.server);
            std::process::exit(1);
        }
    };
    let Some(population) = status.population.map(|p| p.id) else {
        eprintln!("the key has no population");
        std::process::exit(1);
    };
    let samples = Arc::new(Mutex::new(Samples::default()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|n| {
            tokio::spawn(client(
                n,
                args.clone(),
                http.clone(),
                population,
                samples.clone(),
            ))
        })
        .collect();
    let all = async {
        for t in tasks {
            match t.await {
                Ok(Err(e)) => samples.lock().await.errors.push(e),
                Err(e) => samples.lock().await.errors.push(e.to_string()),
                Ok(Ok(())) => {}
            }
        }
    };
    let timed_out = tokio::time::timeout(Duration::from_secs(args.max_seconds), all)
        .await
        .is_err();
    let seconds = started.elapsed().as_secs_f64();
    // No lost writes: the server's count equals what it confirmed.
    let counted = match http
        .get(format!("{}/api/v1/populations", args.server))
        .bearer_auth(&args.key)
        .send()
        .await
    {
        Ok(r) => r
            .json::<finsync_core::api::PopulationList>()
            .await
            .ok()
            .and_then(|l| l.populations.first().map(|p| p.counts.images)),
        Err(_) => None,
    };
    let mut s = std::mem::take(&mut *samples.lock().await);
    let requests = s.find_or_create.len() + s.sessions.len() + s.put.len() + s.commit.len();
    let committed = s.committed;
    let mut out = serde_json::json!({
        "clients": args.clients, "imagesPerClient": args.images, "seconds": seconds,
        "timedOut": timed_out, "errors": s.errors.clone(), "committed": committed,
        "serverImageCount": counted, "requests": requests,
        "requestsPerSecond": requests as f64 / seconds,
        "imagesPerSecond": committed as f64 / seconds,
    });
    for (name, v) in [
        ("findOrCreate", &mut s.find_or_create),
        ("sessions", &mut s.sessions),
        ("put", &mut s.put),
        ("commit", &mut s.commit),
    ] {
        let p50 = percentile(v, 0.5);
        let p99 = percentile(v, 0.99);
        out[name] = serde_json::json!({ "n": v.len(), "p50ms": p50, "p99ms": p99 });
    }
    println!("{out}");
    if timed_out || !s.errors.is_empty() || counted != Some(committed as u64) {
        std::process::exit(1);
    }
}
