//! Image checks and resize variants.
//!
//! * At commit, [`check_header`] looks at the first bytes of the blob only: they must start a
//!   JPEG, PNG, TIFF or BMP (the spec's "type/magic bytes" check), and a JPEG's header segments
//!   must fit in the file up to its image data (a file cut short is refused). Decoding a whole image there took
//!   most of a commit's time (p50 3.5 s per batch of 25 on 2 cores) while the uploads waited.
//! * After commit, the **variants queue** decodes the image and writes a thumbnail and a
//!   preview (longest side from the config, never upscaled, EXIF orientation applied, JPEG).
//!   The queue is the `jobs` table (kind `variants`: `queued` → `running` → `done`, `failed`
//!   or `skipped`), so it survives a restart: [`start`] puts `running` jobs back to `queued`
//!   and `--variant-workers` tasks work through them, one decode each at a time (memory ≤
//!   workers × `--max-decode-bytes`). Until its job is done an image has no variants and the
//!   encounter page shows a placeholder.
//! * The queue yields to uploads: a worker takes no job while an upload-session, commit or
//!   copy request is being answered or was answered during the last `--variants-quiet-ms`
//!   (1 s), waiting at most 30 s per job. Reading every image back while a sync still uploads
//!   competed with it for the storage service and the CPU (a 200-image sync took about twice
//!   as long in the upload benchmark); thumbnails of a sync appear once its uploads pause or
//!   end.
//! * A job that fails for a passing reason (storage or database error) goes back to `queued`
//!   with `not_before` = now + [`backoff_secs`] (2 s, 4 s, 8 s … capped at 15 min) and its
//!   `attempts` counted in the row; the worker moves on to other jobs at once instead of
//!   sleeping on it. After [`MAX_ATTEMPTS`] failures (about 50 minutes of them) the job is
//!   `failed`, with a note in the audit log.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageDecoder, ImageReader};
use rusqlite::{params, OptionalExtension};

use crate::error::AppError;
use crate::ingest::variant_blob_name;
use crate::{db, AppState};

/// Why an image yielded no variants.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// Not an image this server can read (unknown format or corrupt data).
    #[error("{0}")]
    Undecodable(String),
    /// A valid-looking image beyond the decoder's memory limits.
    #[error("{0}")]
    TooLarge(String),
    #[error("cannot encode a variant: {0}")]
    Encode(String),
}

/// The encoded variants of one image.
#[derive(Debug)]
pub struct Variants {
    pub width: u32,
    pub height: u32,
    pub thumbnail: Vec<u8>,
    pub preview: Vec<u8>,
}

fn classify(e: image::ImageError) -> VariantError {
    match e {
        image::ImageError::Limits(l) => VariantError::TooLarge(l.to_string()),
        other => VariantError::Undecodable(other.to_string()),
    }
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, VariantError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| VariantError::Undecodable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(VariantError::Undecodable(
            "not a JPEG, PNG, TIFF or BMP image".into(),
        ));
    }
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(classify)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

/// `img` scaled to fit `longest` (never upscaled), as RGB.
fn fit(img: &DynamicImage, longest: u32) -> DynamicImage {
    let scaled = if img.width().max(img.height()) > longest {
        img.thumbnail(longest, longest)
    } else {
        img.clone()
    };
    DynamicImage::ImageRgb8(scaled.to_rgb8())
}

fn jpeg(img: &DynamicImage) -> Result<Vec<u8>, VariantError> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82);
    img.write_with_encoder(encoder)
        .map_err(|e| VariantError::Encode(e.to_string()))?;
    Ok(out)
}

/// Bytes of a blob that commit reads for [`check_header`]: enough for a JPEG's headers up to
/// its image data in all but unusual files (EXIF is at most 64 KiB).
pub const HEADER_BYTES: u64 = 96 * 1024;

/// Whether `head` (the first bytes of a file of `size` bytes) starts an image this server
/// decodes. For a JPEG the header segments are walked up to the image data (SOS): a segment
/// that runs past the end of the file, or a file that ends before its image data, is cut
/// short. Cheap — no decoding; damage inside the image data is found by the variants queue.
pub fn check_header(head: &[u8], size: u64) -> Result<(), HeaderError> {
    if size == 0 {
        return Err(HeaderError::Damaged("the file is empty".into()));
    }
    if let Some(format) = other_format(head) {
        return Err(HeaderError::Unsupported {
            format: Some(format.into()),
        });
    }
    let Ok(format) = image::guess_format(head) else {
        return Err(HeaderError::Unsupported { format: None });
    };
    if !format.reading_enabled() {
        return Err(HeaderError::Unsupported {
            format: Some(format!("{format:?}").to_uppercase()),
        });
    }
    if format == image::ImageFormat::Jpeg {
        jpeg_headers(head, size)?;
    }
    Ok(())
}

/// Why [`check_header`] refused a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A JPEG whose headers are damaged or that ends before its image data (or an empty
    /// file): the copy is broken, the original may be fine.
    #[error("{0}")]
    Damaged(String),
    /// An intact file of a format this server does not read (`format` when recognised).
    #[error("{}", match format {
        Some(f) => format!("it is a {f} image, which this server does not read"),
        None => "its first bytes match none of these formats".to_string(),
    })]
    Unsupported { format: Option<String> },
}

/// Formats the image crate does not recognise but phones and cameras produce.
fn other_format(head: &[u8]) -> Option<&'static str> {
    // ISO base media file: size, "ftyp", major brand.
    if head.get(4..8) != Some(b"ftyp") {
        return None;
    }
    match head.get(8..12)? {
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
            Some("HEIC")
        }
        b"avif" | b"avis" => Some("AVIF"),
        _ => None,
    }
}

fn jpeg_headers(head: &[u8], size: u64) -> Result<(), HeaderError> {
    let cut = || HeaderError::Damaged("the JPEG is cut short before its image data".into());
    let mut pos = 2usize; // after SOI
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        while head.get(pos) == Some(&0xFF) && head.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(&ff), Some(&marker)) = (head.get(pos), head.get(pos + 1)) else {
            // Not enough of the file read to see further: the queue decides.
            return if (pos as u64) + 2 > size {
                Err(cut())
            } else {
                Ok(())
            };
        };
        if ff != 0xFF {
            return Err(HeaderError::Damaged(
                "the JPEG's header segments are damaged".into(),
            ));
        }
        match marker {
            0xD9 => return Err(cut()),
            0x01 | 0xD0..=0xD7 => {
                pos += 2;
                continue;
            }
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (head.get(pos + 2), head.get(pos + 3)) else {
            return if (pos as u64) + 4 > size {
                Err(cut())
            } else {
                Ok(())
            };
        };
        let end = pos as u64 + 2 + u64::from(u16::from_be_bytes([hi, lo]));
        if end > size || (marker == 0xDA && end >= size) {
            return Err(cut());
        }
        if marker == 0xDA {
            return Ok(());
        }
        pos = end as usize;
    }
}

/// Decodes `bytes` and encodes the two variants. CPU-bound: call from a blocking thread.
pub fn make(bytes: &[u8], thumbnail_px: u32, preview_px: u32) -> Result<Variants, VariantError> {
    let img = decode(bytes)?;
    let (thumbnail_px, preview_px) = (thumbnail_px.max(16), preview_px.max(16));
    let preview = fit(&img, preview_px);
    // The thumbnail comes from the preview when that is larger: far fewer pixels to average.
    let thumbnail = if preview_px >= thumbnail_px {
        fit(&preview, thumbnail_px)
    } else {
        fit(&img, thumbnail_px)
    };
    Ok(Variants {
        width: img.width(),
        height: img.height(),
        thumbnail: jpeg(&thumbnail)?,
        preview: jpeg(&preview)?,
    })
}

/// Failures for a passing reason after which a job is `failed` for good.
pub const MAX_ATTEMPTS: i64 = 12;

/// Seconds a job waits after its `attempts`-th failure: 2^attempts, at most 15 minutes.
pub fn backoff_secs(attempts: i64) -> i64 {
    1i64.checked_shl(attempts.clamp(1, 20) as u32)
        .unwrap_or(i64::MAX)
        .min(15 * 60)
}

/// Longest a worker yields to uploads before it takes a job anyway, so a server that is never
/// quiet still makes thumbnails (one job per this long).
const MAX_YIELD: Duration = Duration::from_secs(30);

/// Wakes the variant workers when commit queues work, and tells them when uploads are going
/// on.
#[derive(Default)]
pub struct Queue {
    wake: tokio::sync::Notify,
    uploads: std::sync::Mutex<Uploads>,
}

/// The upload requests the queue yields to: how many are being answered, and when the last
/// one came in or was answered.
#[derive(Default)]
struct Uploads {
    in_flight: usize,
    at: Option<Instant>,
}

/// An upload-session, commit or copy request being answered ([`Queue::uploads_active`]): while
/// one lives the queue takes no job, and its quiet time counts from when the last one ended.
pub struct UploadRequest<'a>(&'a Queue);

impl Drop for UploadRequest<'_> {
    fn drop(&mut self) {
        let mut u = self.0.uploads();
        u.in_flight = u.in_flight.saturating_sub(1);
        u.at = Some(Instant::now());
    }
}

impl Queue {
    /// Tells a worker that a job was queued.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, Uploads> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An upload-session, commit or copy request came in: the queue yields until it has been
    /// answered (drop the guard then) and for the quiet time after. Counting from the answer,
    /// not the arrival, matters on a loaded machine: a batch of commits can take longer than
    /// the quiet time, and a job started meanwhile read a whole original from the storage
    /// service in the middle of the sync.
    pub fn uploads_active(&self) -> UploadRequest<'_> {
        let mut u = self.uploads();
        u.in_flight += 1;
        u.at = Some(Instant::now());
        UploadRequest(self)
    }

    /// How long until `quiet` has passed since the last upload request ended (`None`: it
    /// has); `quiet` again while one is being answered.
    fn busy_for(&self, quiet: Duration) -> Option<Duration> {
        let u = self.uploads();
        if u.in_flight > 0 {
            return Some(quiet).filter(|d| !d.is_zero());
        }
        quiet.checked_sub(u.at?.elapsed()).filter(|d| !d.is_zero())
    }
}

/// Waits while uploads are going on (see `Config::variants_quiet_ms`), at most [`MAX_YIELD`].
async fn yield_to_uploads(s: &AppState) {
    let quiet = Duration::from_millis(s.config.variants_quiet_ms);
    let started = Instant::now();
    while let Some(wait) = s.variants.busy_for(quiet) {
        let Some(left) = MAX_YIELD.checked_sub(started.elapsed()) else {
            return;
        };
        tokio::time::sleep(wait.min(left)).await;
    }
}

/// One claimed job.
struct Claimed {
    job: i64,
    attempts: i64,
    file_item: i64,
    encounter: i64,
    blob: String,
    /// The snapshot commit verified (the committed bytes); `None` for items from before v5.
    snapshot: Option<String>,
    file_name: String,
    key: String,
}

/// Puts jobs a stopped server left `running` back in the queue and starts the workers.
pub async fn start(s: &AppState) -> Result<(), AppError> {
    let now = crate::now_unix();
    s.db.tx(move |tx| {
        tx.execute(
            "UPDATE jobs SET state = 'queued', updated_at = ?1 WHERE kind = 'variants' AND state = 'running'",
            params![now],
        )?;
        Ok(())
    })
    .await?;
    for _ in 0..s.config.variant_workers {
        tokio::spawn(worker(s.clone()));
    }
    Ok(())
}

async fn claim(s: &AppState) -> Result<Option<Claimed>, AppError> {
    let now = crate::now_unix();
    s.db.tx(move |tx| {
        let next = tx
            .query_row(
                "SELECT j.id, f.id, f.encounter_id, f.blob_name, f.file_name, u.idempotency_key,
                        j.attempts, f.blob_snapshot
                 FROM jobs j JOIN file_items f ON f.id = j.file_item_id
                 JOIN upload_sessions u ON u.id = f.session_id
                 WHERE j.kind = 'variants' AND j.state = 'queued'
                   AND (j.not_before IS NULL OR j.not_before <= ?1)
                 ORDER BY j.id LIMIT 1",
                params![now],
                |r| {
                    Ok(Claimed {
                        job: r.get(0)?,
                        file_item: r.get(1)?,
                        encounter: r.get(2)?,
                        blob: r.get(3)?,
                        file_name: r.get(4)?,
                        key: r.get(5)?,
                        attempts: r.get(6)?,
                        snapshot: r.get(7)?,
                    })
                },
            )
            .optional()?;
        if let Some(c) = &next {
            tx.execute(
                "UPDATE jobs SET state = 'running', updated_at = ?2 WHERE id = ?1",
                params![c.job, now],
            )?;
        }
        Ok(next)
    })
    .await
}

async fn finish(s: &AppState, job: i64, state: &'static str, note: Option<String>) {
    let now = crate::now_unix();
    let r =
        s.db.tx(move |tx| {
            tx.execute(
                "UPDATE jobs SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![job, state, now],
            )?;
            if let Some(note) = note {
                let pop: Option<i64> = tx
                    .query_row(
                        "SELECT population_id FROM jobs WHERE id = ?1",
                        params![job],
                        |r| r.get(0),
                    )
                    .optional()?;
                db::audit_in(tx, pop, "server", "variants.failed", &note)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = r {
        tracing::error!(job, error = %e, "cannot record a variants job's end");
    }
}

/// What became of one job.
enum Done {
    Made,
    /// No variants, and trying again would not help (`skipped` or `failed`, with a note).
    Final(&'static str, Option<String>),
}

async fn run(s: &AppState, c: &Claimed) -> Result<Done, AppError> {
    let permit = s
        .decode_permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::Internal(format!("decoder pool closed: {e}")))?;
    let container = s.blob.container();
    let Some(dl) = s
        .blob
        .download(
            container,
            &c.blob,
            c.snapshot.as_deref(),
            s.config.max_decode_bytes,
        )
        .await?
    else {
        return Ok(Done::Final(
            "failed",
            Some(format!("{}: the original blob is gone", c.file_name)),
        ));
    };
    let Some(bytes) = dl.bytes else {
        tracing::info!(
            size = dl.size,
            "image larger than max-decode-bytes: no variants"
        );
        return Ok(Done::Final("skipped", None));
    };
    let md5 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, dl.md5);
    let (t, p) = (s.config.thumbnail_px, s.config.preview_px);
    let made = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        make(&bytes, t, p)
    })
    .await
    .map_err(|e| AppError::Internal(format!("decoder task failed: {e}")))?;
    let v = match made {
        Ok(v) => v,
        Err(VariantError::Undecodable(m)) => {
            return Ok(Done::Final(
                "failed",
                Some(format!(
                    "{}: no thumbnail, the image does not decode ({m})",
                    c.file_name
                )),
            ))
        }
        Err(VariantError::TooLarge(m)) => {
            tracing::info!(reason = %m, "image beyond decoder limits: no variants");
            return Ok(Done::Final("skipped", None));
        }
        Err(e @ VariantError::Encode(_)) => return Err(AppError::Internal(e.to_string())),
    };
    let vc = s.blob.variants_container();
    let tn = variant_blob_name(c.encounter, &c.key, "thumbnail");
    let pn = variant_blob_name(c.encounter, &c.key, "preview");
    s.blob.put(vc, &tn, v.thumbnail, "image/jpeg").await?;
    s.blob.put(vc, &pn, v.preview, "image/jpeg").await?;
    let (item, w, h) = (c.file_item, v.width, v.height);
    s.db.tx(move |tx| {
        tx.execute(
            "UPDATE file_items SET thumbnail_blob = ?2, preview_blob = ?3, width = ?4, height = ?5,
             content_md5 = COALESCE(content_md5, ?6) WHERE id = ?1",
            params![item, tn, pn, w, h, md5],
        )?;
        Ok(())
    })
    .await?;
    Ok(Done::Made)
}

/// Seconds until the earliest queued job that is backing off may run (`None`: none is).
async fn next_due_in(s: &AppState) -> Result<Option<i64>, AppError> {
    let now = crate::now_unix();
    s.db.tx(move |tx| {
        let at: Option<i64> = tx.query_row(
            "SELECT MIN(not_before) FROM jobs WHERE kind = 'variants' AND state = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(at.map(|at| (at - now).max(0)))
    })
    .await
}

/// Puts a job that failed for a passing reason back in the queue, due after its backoff, or
/// fails it for good after [`MAX_ATTEMPTS`]. The worker does not wait for it.
async fn back_off(s: &AppState, c: &Claimed, error: &AppError) {
    let attempts = c.attempts + 1;
    tracing::warn!(job = c.job, attempt = attempts, error = %error, "variants job failed");
    if attempts >= MAX_ATTEMPTS {
        let note = format!(
            "{}: no thumbnail after {attempts} attempts ({error})",
            c.file_name
        );
        finish(s, c.job, "failed", Some(note)).await;
        return;
    }
    let (job, now) = (c.job, crate::now_unix());
    let not_before = now + backoff_secs(attempts);
    let r =
        s.db.tx(move |tx| {
            tx.execute(
                "UPDATE jobs SET state = 'queued', attempts = ?2, not_before = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![job, attempts, not_before, now],
            )?;
            Ok(())
        })
        .await;
    if let Err(e) = r {
        tracing::error!(job, error = %e, "cannot put a variants job back in the queue");
    }
}

async fn worker(s: AppState) {
    loop {
        yield_to_uploads(&s).await;
        let claimed = match claim(&s).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                // Commit wakes us; otherwise the earliest backed-off job, or a 30 s backstop.
                let wait = match next_due_in(&s).await {
                    Ok(Some(secs)) => secs.clamp(1, 30) as u64,
                    _ => 30,
                };
                let _ = tokio::time::timeout(Duration::from_secs(wait), s.variants.wake.notified())
                    .await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "variants queue: cannot claim a job");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let job = claimed.job;
        match run(&s, &claimed).await {
            Ok(Done::Made) => finish(&s, job, "done", None).await,
            Ok(Done::Final(state, note)) => finish(&s, job, state, note).await,
            Err(e) => back_off(&s, &claimed, &e).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200])
        }));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn the_queue_yields_while_an_upload_request_is_answered_and_for_the_quiet_time_after() {
        let quiet = Duration::from_millis(400);
        let q = Queue::default();
        assert_eq!(q.busy_for(quiet), None, "no upload request yet");
        let commit = q.uploads_active();
        let sessions = q.uploads_active();
        // A request answered for longer than the quiet time still holds the queue back.
        std::thread::sleep(quiet + Duration::from_millis(100));
        assert_eq!(q.busy_for(quiet), Some(quiet));
        drop(commit);
        assert_eq!(
            q.busy_for(quiet),
            Some(quiet),
            "one is still being answered"
        );
        drop(sessions);
        // The quiet time counts from the last answer.
        let wait = q.busy_for(quiet).expect("quiet right after the answer");
        assert!(wait > quiet / 2 && wait <= quiet, "{wait:?}");
        std::thread::sleep(quiet);
        assert_eq!(q.busy_for(quiet), None);
        // Zero quiet time turns yielding off, even during a request.
        let _r = q.uploads_active();
        assert_eq!(q.busy_for(Duration::ZERO), None);
    }

    #[test]
    fn backoff_doubles_from_2s_to_at_most_15_minutes() {
        let waits: Vec<i64> = (1..=MAX_ATTEMPTS).map(backoff_secs).collect();
        assert_eq!(&waits[..5], &[2, 4, 8, 16, 32]);
        assert_eq!(backoff_secs(10), 900);
        assert_eq!(backoff_secs(i64::MAX), 900);
        // A job keeps trying for most of an hour before it is failed for good.
        let total: i64 = (1..MAX_ATTEMPTS).map(backoff_secs).sum();
        assert!((2_400..4_000).contains(&total), "{total}");
    }

    #[test]
    fn variants_fit_and_never_upscale() {
        let v = make(&png(600, 300), 256, 1024).unwrap();
        assert_eq!((v.width, v.height), (600, 300));
        let t = image::load_from_memory(&v.thumbnail).unwrap();
        assert_eq!((t.width(), t.height()), (256, 128));
        let p = image::load_from_memory(&v.preview).unwrap();
        assert_eq!((p.width(), p.height()), (600, 300));
    }

    #[test]
    fn header_check_knows_images_and_files_cut_short() {
        let p = png(8, 8);
        assert!(check_header(&p[..16], p.len() as u64).is_ok());
        assert_eq!(
            check_header(b"definitely not an image", 23),
            Err(HeaderError::Unsupported { format: None })
        );
        assert!(matches!(check_header(b"", 0), Err(HeaderError::Damaged(_))));
        // GIF is recognised but this server has no decoder for it; HEIC (iPhones) is not
        // known to the image crate but named all the same.
        assert_eq!(
            check_header(b"GIF89a\x01\x00\x01\x00", 10),
            Err(HeaderError::Unsupported {
                format: Some("GIF".into())
            })
        );
        let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";
        assert_eq!(
            check_header(heic, 4096),
            Err(HeaderError::Unsupported {
                format: Some("HEIC".into())
            })
        );
        // A JPEG: whole, only its first bytes read, and cut short at each header segment.
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb([x as u8 * 6, y as u8 * 8, 99])
        }))
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
        let jpg = out.into_inner();
        let size = jpg.len() as u64;
        assert!(check_header(&jpg, size).is_ok());
        assert!(
            check_header(&jpg[..6], size).is_ok(),
            "undecided: the queue decodes"
        );
        let sos = jpg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        for cut in [4, 20, sos - 3, sos + 4] {
            assert!(
                matches!(
                    check_header(&jpg[..cut], cut as u64),
                    Err(HeaderError::Damaged(_))
                ),
                "cut at {cut} of {size}"
            );
        }
    }

    #[test]
    fn garbage_and_truncated_images_are_undecodable() {
        assert!(matches!(
            make(b"definitely not an image", 256, 1024),
            Err(VariantError::Undecodable(_))
        ));
        let mut cut = png(64, 64);
        cut.truncate(cut.len() / 2);
        assert!(matches!(
            make(&cut, 256, 1024),
            Err(VariantError::Undecodable(_))
        ));
    }
}
