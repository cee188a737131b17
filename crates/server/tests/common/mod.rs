//! Test harness: a real Azurite (from the repo's node_modules, on a free port, in a temporary
//! folder) and the real server on a loopback port, both stopped when [`Stack`] is dropped.

#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use finsync_core::api::{OrganisationRole, PopulationRole};
use finsync_core::sas::{Account, AZURITE_ACCOUNT, AZURITE_KEY};
use finsync_server::{accounts, auth, build, db, Config};

/// A second storage account on the same Azurite, standing in for a research group's own
/// storage (the source of server-side copies). Azurite copies only between accounts of one
/// instance.
pub const RESEARCH_ACCOUNT: &str = "researchgroup";
/// Its key (base64 of a fixed test string; not a secret).
pub const RESEARCH_KEY: &str = "Zmluc3luYy10ZXN0LXJlc2VhcmNoLWdyb3VwLWtleS0wMTIzNDU2Nzg5YWJjZGVm";

/// Cheap argon2 parameters so tests stay fast in debug builds.
pub const TEST_ARGON2_KIB: u32 = 64;

pub struct Azurite {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Azurite {
    pub fn start() -> Azurite {
        let bin = repo_root().join("node_modules/.bin/azurite-blob");
        assert!(
            bin.exists(),
            "{} is missing: run `npm ci` in the repo root (make test does)",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new(bin)
            .args(["--silent", "--location"])
            .arg(dir.path())
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--loose", "--skipApiVersionCheck", "--disableTelemetry"])
            .env(
                "AZURITE_ACCOUNTS",
                format!("{AZURITE_ACCOUNT}:{AZURITE_KEY};{RESEARCH_ACCOUNT}:{RESEARCH_KEY}"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Azurite did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Azurite {
            child,
            endpoint: format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"),
            _dir: dir,
        }
    }

    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={};",
            self.endpoint
        )
    }

    pub fn account(&self) -> Account {
        Account::new(AZURITE_ACCOUNT, AZURITE_KEY, &self.endpoint).expect("dev account")
    }

    /// The research group's account on the same Azurite.
    pub fn research_account(&self) -> Account {
        let endpoint = self.endpoint.replace(AZURITE_ACCOUNT, RESEARCH_ACCOUNT);
        Account::new(RESEARCH_ACCOUNT, RESEARCH_KEY, &endpoint).expect("research account")
    }
}

pub struct Stack {
    pub azurite: Azurite,
    pub base: String,
    pub http: reqwest::Client,
    pub db: db::Db,
    /// The server's blob store (to count the storage calls a request makes).
    pub blob: std::sync::Arc<finsync_server::blob::BlobStore>,
    pub container: String,
    /// The configuration this server started with (to start another on the same database).
    pub config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub const ORIGIN: &str = "http://127.0.0.1:9999";

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(|_| {}).await
    }

    /// Starts with the test configuration changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Stack {
        let azurite = Azurite::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let container = "finsync-test".to_string();
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            database: dir.path().join("server.db"),
            blob_connection_string: azurite.connection_string(),
            container: container.clone(),
            allowed_origins: vec![ORIGIN.into()],
            configure_blob_cors: true,
            static_dir: None,
            demo: false,
            public_url: "http://127.0.0.1".into(),
            variants_container: None,
            session_ttl_secs: 3600,
            auth_failure_burst: 1000,
            auth_failure_refill_secs: 1.0,
            trust_forwarded_for: false,
            argon2_memory_kib: TEST_ARGON2_KIB,
            argon2_iterations: 1,
            copy_timeout_secs: 20,
            copy_put_from_url: false,
            max_decode_bytes: 64 * 1024 * 1024,
            variant_workers: 1,
            // The queue's yielding to uploads has its own test; elsewhere it would only slow
            // `variants_settled`.
            variants_quiet_ms: 0,
            thumbnail_px: 256,
            preview_px: 1024,
            test_mode: false,
            public_blob_endpoint: None,
            source_blob_origins: vec!["https://*.blob.core.windows.net".into()],
        };
        tweak(&mut config);
        let (router, state) = build(config.clone()).await.expect("server starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(finsync_server::serve(listener, router, async {
            let _ = rx.await;
        }));
        Stack {
            azurite,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            db: state.db,
            blob: state.blob,
            container,
            config,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    /// Creates an organisation and a population (sync on or off) with one key.
    pub fn population(&self, name: &str, sync_enabled: bool) -> (i64, String) {
        let name = name.to_string();
        self.db
            .tx_blocking(|tx| {
                let org = db::create_organisation(tx, &format!("{name} org"))?;
                let pop = db::create_population(tx, org, &name, sync_enabled)?;
                let key = auth::create_key(tx, pop, "test")?;
                Ok((pop, key))
            })
            .expect("create population")
    }

    /// Creates a user who can sign in, with a role in an organisation and optionally in a
    /// population; returns the user id.
    pub fn user(
        &self,
        email: &str,
        password: &str,
        organisation: i64,
        org_role: OrganisationRole,
        population: Option<(i64, PopulationRole)>,
    ) -> i64 {
        let phc = auth::hash_password(
            password,
            auth::PasswordCost {
                memory_kib: TEST_ARGON2_KIB,
                iterations: 1,
            },
        )
        .expect("hash");
        let email = email.to_string();
        self.db
            .tx_blocking(|tx| {
                let id = accounts::create_user(tx, &email, "Test", "User", Some(&phc), false)?;
                accounts::set_member(tx, organisation, id, org_role)?;
                if let Some((p, r)) = population {
                    accounts::set_population_role(tx, p, id, Some(r))?;
                }
                Ok(id)
            })
            .expect("create user")
    }

    /// The organisation of a population.
    pub fn organisation_of(&self, population: i64) -> i64 {
        self.db
            .tx_blocking(|tx| {
                Ok(db::population(tx, population)?
                    .expect("population")
                    .organisation_id)
            })
            .expect("population")
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let (st, body) = self
            .post(
                "",
                "/api/v1/auth/sign-in",
                serde_json::json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// A count from the database.
    pub fn count(&self, sql: &str) -> i64 {
        let sql = sql.to_string();
        self.db
            .tx_blocking(move |tx| Ok(tx.query_row(&sql, [], |r| r.get(0))?))
            .expect("count")
    }

    /// Every row of every table, as text (rows sorted), so a test can see that a request
    /// changed nothing at all — not only the table it is about.
    pub fn db_snapshot(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.db
            .tx_blocking(|tx| {
                let tables: Vec<String> = tx
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut out = std::collections::BTreeMap::new();
                for table in tables {
                    let mut stmt = tx.prepare(&format!("SELECT * FROM \"{table}\""))?;
                    let n = stmt.column_count();
                    let mut rows = stmt
                        .query_map([], |r| {
                            (0..n)
                                .map(|i| {
                                    r.get::<_, rusqlite::types::Value>(i)
                                        .map(|v| format!("{v:?}"))
                                })
                                .collect::<Result<Vec<_>, _>>()
                                .map(|cols| cols.join(" | "))
                        })?
                        .collect::<Result<Vec<_>, _>>()?;
                    rows.sort();
                    out.insert(table, rows);
                }
                Ok(out)
            })
            .expect("database snapshot")
    }

    /// Waits until the variants queue has no `queued` or `running` job (at most 60 s).
    pub async fn variants_settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let open = self.count(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'variants' AND state IN ('queued', 'running')",
            );
            if open == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{open} variants jobs still open after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(
        &self,
        key: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if !key.is_empty() {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let json = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    pub async fn get(&self, key: Option<&str>, path: &str) -> (u16, serde_json::Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// A real JPEG of `w`×`h` pixels whose content depends on `seed`.
pub fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(seed),
            (y as u8).wrapping_add(seed),
            seed,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    out.into_inner()
}

/// A real PNG (with alpha) of `w`×`h` pixels.
pub fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x as u8).wrapping_add(seed), (y as u8), seed, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// Base64 MD5 of bytes, as `contentMd5` carries it.
pub fn md5_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

/// PUTs bytes to a SAS URL as a block blob; returns the status.
pub async fn put_blob(http: &reqwest::Client, url: &str, bytes: Vec<u8>) -> u16 {
    http.put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .body(bytes)
        .send()
        .await
        .expect("PUT")
        .status()
        .as_u16()
}

/// Reads a blob with a fresh read SAS of `account`; `None` when it does not exist.
pub async fn read_blob(
    http: &reqwest::Client,
    account: &Account,
    container: &str,
    blob: &str,
) -> Option<Vec<u8>> {
    use finsync_core::sas::{iso8601_utc, Resource};
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let url = format!(
        "{}?{}",
        account.url(container, Resource::Blob(blob)),
        account.service_sas(container, Resource::Blob(blob), "r", None, &expiry)
    );
    let resp = http.get(url).send().await.expect("GET blob");
    match resp.status().as_u16() {
        404 => None,
        200 => Some(resp.bytes().await.expect("body").to_vec()),
        other => panic!("reading {blob}: {other}"),
    }
}

/// Names of the blobs in a container (flat listing).
pub async fn list_blobs(http: &reqwest::Client, account: &Account, container: &str) -> Vec<String> {
    use finsync_core::sas::{iso8601_utc, Resource};
    let expiry = iso8601_utc(finsync_server::now_unix() + 600);
    let url = format!(
        "{}?restype=container&comp=list&{}",
        account.url(container, Resource::Container),
        account.service_sas(container, Resource::Container, "rl", None, &expiry)
    );
    let xml = http
        .get(url)
        .send()
        .await
        .expect("list")
        .text()
        .await
        .expect("xml");
    xml.split("<Name>")
        .skip(1)
        .filter_map(|p| p.split_once("</Name>").map(|(n, _)| n.to_string()))
        .collect()
}
