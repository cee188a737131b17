//! Test harness: a real Azurite (from the repo's node_modules, on a free port, in a temporary
//! folder) and the real server on a loopback port, both stopped when [`Stack`] is dropped.

#![allow(dead_code)]

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use finsync_core::sas::{Account, AZURITE_ACCOUNT, AZURITE_KEY};
use finsync_server::{auth, build, db, Config};

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

fn free_port() -> u16 {
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
}

pub struct Stack {
    pub azurite: Azurite,
    pub base: String,
    pub http: reqwest::Client,
    pub db: db::Db,
    pub container: String,
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
        let azurite = Azurite::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let container = "finsync-test".to_string();
        let config = Config {
            listen: "127.0.0.1:0".into(),
            database: dir.path().join("server.db"),
            blob_connection_string: azurite.connection_string(),
            container: container.clone(),
            allowed_origins: vec![ORIGIN.into()],
            configure_blob_cors: true,
            static_dir: None,
            demo: false,
            public_url: "http://127.0.0.1".into(),
        };
        let (router, state) = build(config).await.expect("server starts");
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
            container,
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

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(
        &self,
        key: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request");
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
