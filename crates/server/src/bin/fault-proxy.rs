//! `finsync-fault-proxy`: an HTTP/1.1 reverse proxy that injects faults, deterministically
//! from a seed, into the requests it forwards — for putting in front of Azurite (or the
//! server) in tests and benchmarks.
//!
//! ```text
//! finsync-fault-proxy --listen 127.0.0.1:10001 --target http://127.0.0.1:10000 \
//!     --rate 0.2 --seed 42 --kinds 502,503,hang,reset [--routes '/devstoreaccount1/*'] \
//!     [--hang-ms 30000] [--fault-preflight]
//! ```
//!
//! Each request whose path matches `--routes` (default: all) is faulted with probability
//! `--rate`: `502`/`503` answer at once with a short XML error like the blob service's
//! (`x-ms-error-code: FaultInjected`), `hang` holds the request for `--hang-ms` and then resets
//! the connection, `reset` resets it at once (RST, no response). The request is then not
//! forwarded. CORS preflights (`OPTIONS`) are forwarded untouched unless `--fault-preflight`:
//! browsers do not retry a failed preflight, so faulting them tests nothing but a CORS error.
//! Faulted answers echo the request's `Origin` in `Access-Control-Allow-Origin` so a browser
//! app sees the status instead of an opaque network error. Bodies are streamed both ways.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clap::Parser;
use finsync_core::api::FaultConfig;
use finsync_server::faults::{self, FaultKind, Faults};

#[derive(Parser, Debug)]
#[command(
    name = "finsync-fault-proxy",
    version,
    about = "HTTP proxy that injects faults"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:10001")]
    listen: String,
    /// Where to forward to (`http://host:port` or `host:port`).
    #[arg(long)]
    target: String,
    /// Probability (0–1) that a matching request is faulted.
    #[arg(long, default_value_t = 0.2)]
    rate: f64,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Comma-separated fault kinds: 502, 503, hang, reset.
    #[arg(long, value_delimiter = ',', default_value = "502,503,reset")]
    kinds: Vec<String>,
    /// Comma-separated paths to fault (exact, or a prefix ending in `*`).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    routes: Vec<String>,
    /// How long `hang` holds a request before resetting the connection.
    #[arg(long, default_value_t = faults::DEFAULT_HANG_MS)]
    hang_ms: u64,
    /// Fault CORS preflight (OPTIONS) requests too.
    #[arg(long, default_value_t = false)]
    fault_preflight: bool,
}

struct Proxy {
    target: String,
    faults: Faults,
    fault_preflight: bool,
    http: reqwest::Client,
}

/// Headers that belong to one hop only (RFC 9110 §7.6.1) plus `host`.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

fn fault_response(kind: FaultKind, origin: Option<&HeaderValue>) -> Response {
    let (status, code) = match kind {
        FaultKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "ServerBusy"),
        _ => (StatusCode::BAD_GATEWAY, "FaultInjected"),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
         <Message>{} injected by finsync-fault-proxy</Message></Error>",
        status.as_u16()
    );
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/xml"));
    h.insert("x-ms-error-code", HeaderValue::from_static("FaultInjected"));
    if let Some(o) = origin {
        h.insert("access-control-allow-origin", o.clone());
        h.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("*"),
        );
    }
    resp
}

async fn handle(State(p): State<Arc<Proxy>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let preflight = req.method() == Method::OPTIONS;
    if !preflight || p.fault_preflight {
        if let Some((kind, hang)) = p.faults.decide(&path) {
            eprintln!("fault-proxy: {kind:?} on {} {path}", req.method());
            return match kind {
                FaultKind::BadGateway | FaultKind::Unavailable => {
                    fault_response(kind, req.headers().get("origin"))
                }
                FaultKind::Hang | FaultKind::Reset => {
                    let killer = finsync_server::net::conn_info(&req).map(|c| c.killer.clone());
                    drop(req);
                    faults::apply(kind, hang, killer).await
                }
                FaultKind::Garbage | FaultKind::Html | FaultKind::TooLarge | FaultKind::TooMany => {
                    let origin = req.headers().get("origin").cloned();
                    let mut resp = faults::apply(kind, hang, None).await;
                    if let Some(o) = origin {
                        resp.headers_mut().insert("access-control-allow-origin", o);
                    }
                    resp
                }
            };
        }
    }
    forward(&p, req).await
}

async fn forward(p: &Proxy, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let pq = parts
        .uri
        .path_and_query()
        .map(|x| x.as_str())
        .unwrap_or("/");
    let url = format!("{}{pq}", p.target);
    let mut headers = HeaderMap::new();
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    let has_body = parts.headers.contains_key("content-length")
        || parts.headers.contains_key("transfer-encoding");
    let mut out = p.http.request(parts.method.clone(), url).headers(headers);
    if has_body {
        out = out.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    match out.send().await {
        Ok(resp) => {
            let status = resp.status();
            let mut builder = Response::builder().status(status.as_u16());
            for (k, v) in resp.headers() {
                if !hop_by_hop(k) {
                    builder = builder.header(k, v);
                }
            }
            builder
                .body(Body::from_stream(resp.bytes_stream()))
                .unwrap_or_else(|e| {
                    (
                        StatusCode::BAD_GATEWAY,
                        format!("bad upstream response: {e}"),
                    )
                        .into_response()
                })
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!(
                "finsync-fault-proxy: upstream unreachable: {}",
                e.without_url()
            ),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(args).await {
        eprintln!("finsync-fault-proxy: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let target = if args.target.contains("://") {
        args.target.trim_end_matches('/').to_string()
    } else {
        format!("http://{}", args.target.trim_end_matches('/'))
    };
    let faults = Faults::with(FaultConfig {
        routes: args.routes,
        rate: args.rate,
        kinds: args.kinds,
        seed: args.seed,
        hang_ms: Some(args.hang_ms),
    })?;
    let proxy = Arc::new(Proxy {
        target: target.clone(),
        faults,
        fault_preflight: args.fault_preflight,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?,
    });
    let app = Router::new().fallback(handle).with_state(proxy);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    println!(
        "finsync-fault-proxy listening on {} → {target} (rate {}, seed {})",
        listener.local_addr()?,
        args.rate,
        args.seed
    );
    finsync_server::net::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
