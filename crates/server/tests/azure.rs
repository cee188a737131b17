//! Checks against a real Azure storage account, for what Azurite cannot show: Put Blob From
//! URL (`--copy-put-from-url`; Azurite does not implement it) and the storage service's own
//! refusal of a Put Block through an upload URL once commit has leased the blob (Azurite
//! stages it; see `tests/ingest.rs`).
//!
//! Ignored by default: run with
//! `FINSYNC_AZURE_TEST_CONNECTION_STRING='DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net' cargo test -p finsync-server --test azure -- --ignored`.
//! It creates two containers named `finsync-azure-test-<time>` (and `…-variants`) and
//! deletes them at the end. Without the variable, the ignored test fails and says so.

use clap::Parser;
use finsync_core::sas::{iso8601_utc, Account, Resource};
use finsync_server::blob::{BlobStore, CopyStart, LeaseAcquire};
use finsync_server::Config;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

const VAR: &str = "FINSYNC_AZURE_TEST_CONNECTION_STRING";

#[tokio::test]
#[ignore = "needs a real Azure storage account: set FINSYNC_AZURE_TEST_CONNECTION_STRING"]
async fn put_blob_from_url_and_leases_on_real_azure() {
    let Some(conn) = std::env::var(VAR).ok().filter(|v| !v.trim().is_empty()) else {
        panic!("set {VAR} to a storage account's connection string to run this test");
    };
    let container = format!("finsync-azure-test-{}", finsync_server::now_unix());
    let cli = Cli::parse_from([
        "finsync-server",
        "--blob-connection-string",
        &conn,
        "--container",
        &container,
    ]);
    let store = BlobStore::new(&cli.config).expect("connection string");
    store.ensure_container().await.expect("create containers");
    let outcome = checks(&store, &container).await;
    // Clean up whatever happened (a leased blob does not stop a container's deletion).
    let account = Account::from_connection_string(&conn).expect("account");
    let http = reqwest::Client::new();
    for c in [container.clone(), format!("{container}-variants")] {
        let url = format!(
            "{}?restype=container&{}",
            account.url(&c, Resource::Container),
            account.account_sas("d", "c", &iso8601_utc(finsync_server::now_unix() + 600))
        );
        let _ = http
            .delete(url)
            .header("x-ms-version", finsync_core::sas::SAS_VERSION)
            .send()
            .await;
    }
    outcome.unwrap();
}

/// The status `request` is answered with.
async fn status_of(request: reqwest::RequestBuilder) -> Result<u16, String> {
    Ok(request
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status()
        .as_u16())
}

async fn checks(store: &BlobStore, container: &str) -> Result<(), String> {
    let http = reqwest::Client::new();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    store
        .put(container, "source/a.jpg", bytes.clone(), "image/jpeg")
        .await
        .map_err(|e| e.to_string())?;
    let source = store.read_url(container, "source/a.jpg", finsync_server::now_unix() + 600);
    let start = store
        .start_copy(container, "dest/a.jpg", &source, true)
        .await
        .map_err(|e| e.to_string())?;
    if start != CopyStart::Done {
        return Err(format!("Put Blob From URL answered {start:?}"));
    }
    let copied = store
        .download(container, "dest/a.jpg", None, u64::MAX)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|d| d.bytes)
        .ok_or("the copy's destination is missing")?;
    if copied != bytes {
        return Err("the copy's bytes differ from the source's".into());
    }

    // A leased blob refuses Put Blob and Put Block through a client's upload URL.
    let lease = store.lease_id(container, "dest/a.jpg");
    let held = store
        .acquire_lease(container, "dest/a.jpg", &lease)
        .await
        .map_err(|e| e.to_string())?;
    let again = store
        .acquire_lease(container, "dest/a.jpg", &lease)
        .await
        .map_err(|e| e.to_string())?;
    if (held, again) != (LeaseAcquire::Held, LeaseAcquire::Held) {
        return Err(format!("acquire answered {held:?}, then {again:?}"));
    }
    let upload = store.upload_url("dest/a.jpg", finsync_server::now_unix() + 600);
    let put = status_of(
        http.put(&upload)
            .header("x-ms-blob-type", "BlockBlob")
            .body(b"overwrite".to_vec()),
    )
    .await?;
    let block = status_of(
        http.put(format!("{upload}&comp=block&blockid=YmxvY2swMDAw"))
            .body(b"overwrite".to_vec()),
    )
    .await?;
    if (put, block) != (412, 412) {
        return Err(format!(
            "Put Blob answered {put}, Put Block {block}; expected 412"
        ));
    }
    store
        .release_lease(container, "dest/a.jpg", &lease)
        .await
        .map_err(|e| e.to_string())
}
