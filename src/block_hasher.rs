//! The `Content-MD5` of each block of a big upload, computed off the page's main thread in a
//! dedicated worker (`public/block-md5.js`, copied to the root of the bundle), and in the page
//! itself ([`blob_md5`]) where no worker can be had.
//!
//! Why: hashing a 1 GiB file's blocks in the page (WASM, md-5) kept its main thread busy about
//! 2.7 s of a 7 s upload; in the meantime it could neither start the next Put Block nor take
//! the answers of those in flight. The worker reads each block itself: the page posts the
//! `File` (a handle on it, not its bytes) with the byte range and gets back the base64 digest
//! and how many bytes were read.
//!
//! The worker's MD5 is plain JS. The md-5 crate built for wasm32 alone (a 3 KiB module, no
//! wasm-bindgen) read and hashed 490 MiB/s in the same worker against the script's 420 MiB/s:
//! about 0.35 CPU-s less per GiB, which would take a second wasm build and its loading.
//!
//! When the worker cannot be created, fails to load (a missing file, a policy) or dies, every
//! request waiting on it and every later one is hashed in the page, the way blocks were hashed
//! before: the same result, more of the page's time.

use wasm_bindgen::prelude::*;
use web_sys::Blob;

use crate::blob_put::{blob_md5, check_hashed, PutError};
use crate::files::js_error_text;
use crate::worker_pool::{get, set, WorkerPool};

/// The worker's script, relative to the page (it sits next to `index.html`).
pub const WORKER_URL: &str = "block-md5.js";

/// Where the hasher's worker is loaded from: [`WORKER_URL`]; in the crate's browser tests, where
/// no bundle is served, a `blob:` URL of the same script, so they go through it too.
pub fn worker_url() -> String {
    #[cfg(test)]
    {
        thread_local! {
            static URL: String =
                crate::worker_pool::blob_script_url(include_str!("../public/block-md5.js"));
        }
        URL.with(Clone::clone)
    }
    #[cfg(not(test))]
    {
        WORKER_URL.to_string()
    }
}

/// Hashes blocks of a `Blob` in the worker, or in the page.
#[derive(Clone)]
pub struct BlockHasher(WorkerPool);

impl BlockHasher {
    /// A hasher over `count` workers of the script at `url` ([`worker_url`] in the app); in
    /// the page when none can be created.
    pub fn new(url: &str, count: usize) -> BlockHasher {
        BlockHasher(WorkerPool::new(url, count))
    }

    /// A hasher that hashes in the page's own thread.
    pub fn in_page() -> BlockHasher {
        BlockHasher(WorkerPool::none())
    }

    /// Whether blocks are hashed in workers (until one fails).
    pub fn uses_worker(&self) -> bool {
        !self.0.is_empty()
    }

    /// How many blocks are worth hashing at once: one per worker (one in the page).
    pub fn parallelism(&self) -> usize {
        self.0.len().max(1)
    }

    /// Base64 of the MD5 of `blob`'s bytes `start..end` (a `Content-MD5` value).
    pub async fn md5(&self, blob: &Blob, start: u64, end: u64) -> Result<String, PutError> {
        let request = js_sys::Object::new();
        set(&request, "blob", blob);
        set(&request, "start", &JsValue::from(start as f64));
        set(&request, "end", &JsValue::from(end as f64));
        match self.0.ask(request).await {
            Some(reply) => md5_of(&reply, start, end),
            None => blob_md5(blob, start, end).await,
        }
    }
}

/// A worker reply as a `Content-MD5` value, or why the block could not be hashed.
fn md5_of(reply: &JsValue, start: u64, end: u64) -> Result<String, PutError> {
    let error = get(reply, "error");
    if !error.is_undefined() {
        return Err(PutError::Browser(format!(
            "cannot read the file to hash it: {}",
            js_error_text(&error)
        )));
    }
    let (Some(md5), Some(bytes)) = (get(reply, "md5").as_string(), get(reply, "bytes").as_f64())
    else {
        return Err(PutError::Browser(
            "the block hasher answered without a digest".into(),
        ));
    };
    check_hashed(bytes as u64, start, end)?;
    Ok(md5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob_put::tests::blob_of;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use md5::{Digest, Md5};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    /// `len` pseudo-random bytes from a random seed (xorshift), so each run hashes other bytes.
    fn random_bytes(len: usize) -> Vec<u8> {
        let mut x = (js_sys::Math::random() * u32::MAX as f64) as u64 | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    fn md5_crate(bytes: &[u8]) -> String {
        B64.encode(Md5::digest(bytes))
    }

    // RFC 1321, appendix A.5.
    const VECTORS: [(&str, &str); 7] = [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            "abcdefghijklmnopqrstuvwxyz",
            "c3fcd3d76192e4007dfb496cca67e13b",
        ),
        (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f",
        ),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];

    fn hex_to_b64(hex: &str) -> String {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        B64.encode(bytes)
    }

    #[wasm_bindgen_test]
    async fn the_worker_hashes_the_rfc_1321_vectors() {
        let hasher = BlockHasher::new(&worker_url(), 1);
        assert!(hasher.uses_worker());
        for (text, hex) in VECTORS {
            let blob = blob_of(text.as_bytes());
            assert_eq!(
                hasher.md5(&blob, 0, text.len() as u64).await.unwrap(),
                hex_to_b64(hex),
                "MD5 of {text:?}"
            );
        }
        assert!(hasher.uses_worker(), "the worker answered (no fallback)");
    }

    #[wasm_bindgen_test]
    async fn the_workers_agree_with_the_md5_crate_on_random_bytes() {
        // Two workers, the requests in turn, all posted before any answer is awaited.
        let hasher = BlockHasher::new(&worker_url(), 2);
        assert_eq!(hasher.parallelism(), 2);
        // Over 2 MiB: the worker reads in 1 MiB pieces; ranges that start unaligned, end short
        // of a 64-byte block, and one whole.
        let len = 2 * 1024 * 1024 + 777;
        let bytes = random_bytes(len);
        let blob = blob_of(&bytes);
        let ranges = [
            (0, len),
            (1, len - 3),
            (5, 5 + 1024 * 1024),
            (1024 * 1024 - 1, 1024 * 1024 + 64),
            (len - 55, len),
            (len - 56, len),
            (100, 100),
        ];
        let got = futures::future::join_all(
            ranges
                .iter()
                .map(|&(start, end)| hasher.md5(&blob, start as u64, end as u64)),
        )
        .await;
        for ((start, end), got) in ranges.into_iter().zip(got) {
            assert_eq!(
                got.unwrap(),
                md5_crate(&bytes[start..end]),
                "bytes {start}..{end}"
            );
        }
        assert!(hasher.uses_worker());
    }

    /// The script's `Md5` class itself (evaluated in the page with a stand-in `self`), fed the
    /// same random bytes in odd pieces at unaligned offsets: every path of `update` (the carried
    /// tail, the aligned view, the copy of unaligned words) against the md-5 crate.
    #[wasm_bindgen_test]
    fn the_script_md5_agrees_with_the_crate_over_odd_pieces() {
        let make = js_sys::Function::new_with_args(
            "self",
            &format!(
                "{}\n;return Md5;",
                include_str!("../public/block-md5.js").replace("'use strict';", "")
            ),
        );
        let class = make.call1(&JsValue::NULL, &js_sys::Object::new()).unwrap();
        let bytes = random_bytes(300_001);
        let js_bytes = js_sys::Uint8Array::from(&bytes[..]);
        for pieces in [
            &[1usize][..],
            &[63, 1, 65, 4096, 7, 128, 10_000][..],
            &[64][..],
            &[3, 65_536][..],
        ] {
            let md5 = js_sys::Reflect::construct(
                class.unchecked_ref::<js_sys::Function>(),
                &js_sys::Array::new(),
            )
            .unwrap();
            let update: js_sys::Function = js_sys::Reflect::get(&md5, &"update".into())
                .unwrap()
                .unchecked_into();
            let (mut at, mut k) = (0usize, 0usize);
            while at < bytes.len() {
                let n = pieces[k % pieces.len()].min(bytes.len() - at);
                update
                    .call1(&md5, &js_bytes.subarray(at as u32, (at + n) as u32))
                    .unwrap();
                at += n;
                k += 1;
            }
            let digest: js_sys::Function = js_sys::Reflect::get(&md5, &"digest".into())
                .unwrap()
                .unchecked_into();
            let out: js_sys::Uint8Array = digest.call0(&md5).unwrap().unchecked_into();
            assert_eq!(
                B64.encode(out.to_vec()),
                md5_crate(&bytes),
                "pieces {pieces:?}"
            );
        }
    }

    #[wasm_bindgen_test]
    async fn a_range_past_the_end_of_the_file_is_an_error() {
        // As when the file shrank after it was picked: fewer bytes than the block should have.
        let hasher = BlockHasher::new(&worker_url(), 1);
        let blob = blob_of(&random_bytes(100));
        let got = hasher.md5(&blob, 0, 200).await;
        assert!(
            matches!(&got, Err(PutError::Browser(m)) if m.contains("read 100 bytes")),
            "{got:?}"
        );
        assert!(hasher.uses_worker());
    }

    #[wasm_bindgen_test]
    async fn without_its_worker_the_hasher_hashes_in_the_page() {
        // A script the page cannot load: the worker fails after it was created, with the first
        // request already posted to it; that one and the later ones are hashed in the page.
        let hasher = BlockHasher::new("no-such-block-md5.js", 2);
        let bytes = random_bytes(1024 * 1024 + 5);
        let blob = blob_of(&bytes);
        let first = hasher.md5(&blob, 0, bytes.len() as u64).await.unwrap();
        assert_eq!(first, md5_crate(&bytes));
        assert!(!hasher.uses_worker(), "the failed worker was dropped");
        assert_eq!(
            hasher.md5(&blob, 3, 1000).await.unwrap(),
            md5_crate(&bytes[3..1000])
        );
        let in_page = BlockHasher::in_page();
        assert!(!in_page.uses_worker());
        assert_eq!(
            in_page.md5(&blob, 7, bytes.len() as u64).await.unwrap(),
            md5_crate(&bytes[7..])
        );
    }
}
