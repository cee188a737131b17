//! finsync, the browser app. Read ARCHITECTURE.md first.
//!
//! * [`ui`] — Leptos components: render state, emit intents, do no I/O.
//! * [`app`] — the shell (header, status bar, navigation) and the state pages share.
//! * [`pages`] — one component per page (Sync, Settings, Activity log); they own their state
//!   and run intents through the adapters.
//! * [`activity`] — the local activity log (never holds secrets).
//! * [`keys`] — this browser's API keys per population, the sign-in session, provisioning.
//! * [`discovery`] — scan jobs, manifests, materialisation and pre-sync review (spec §2), and
//!   the approved encounters the Sync page plans from.
//! * Browser adapters: [`store`] (IndexedDB), [`files`] (folder access), [`api`] (sync API
//!   over HTTP), [`azure`] (List Blobs and Range GETs on a storage connection's container), [`blob_put`] (PUT a File to a SAS URL), [`sync`] (plans and the driver that runs the core engine).

pub mod activity;
pub mod api;
pub mod app;
pub mod azure;
pub mod blob_put;
pub mod block_hasher;
pub mod discovery;
pub mod files;
pub mod keys;
pub mod pages;
pub mod store;
pub mod sync;
pub mod ui;
pub mod worker_pool;

/// Entry point called by `main.rs` (trunk's binary).
pub fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
