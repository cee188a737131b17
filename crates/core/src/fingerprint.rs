//! Content fingerprints and image idempotency keys (spec decision 7).
//!
//! A file's fingerprint is its size plus SHA-256 of its first and last [`EDGE_BYTES`] bytes:
//! cheap to compute from two `Blob.slice` reads, stable across re-scans, renames and browsers.
//!
//! The idempotency key of an image is
//!
//! ```text
//! "v1-" + hex(SHA-256("finsync-key-v1" 0x00 population_id 0x00 encounter_identity 0x00 fingerprint))[..40]
//! ```
//!
//! where `encounter_identity` is [`crate::normalize::encounter_identity`] (day, location,
//! photographer) and `fingerprint` is [`Fingerprint::to_hex`]. Nothing random, no scan-job or
//! local row id goes in, so a retry, a Reset, a resume, a re-scan of the same folder and a
//! second browser all produce the same key, and the server resumes the same session.

use sha2::{Digest, Sha256};

/// How many bytes at each end of a file go into its fingerprint.
pub const EDGE_BYTES: u64 = 64 * 1024;

/// Byte ranges `[start, end)` of the head and tail slices for a file of `size` bytes.
pub fn edge_ranges(size: u64) -> ((u64, u64), (u64, u64)) {
    let head = (0, size.min(EDGE_BYTES));
    let tail = (size.saturating_sub(EDGE_BYTES), size);
    (head, tail)
}

/// Size plus SHA-256 of head and tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    digest: [u8; 32],
}

impl Fingerprint {
    /// `head` and `tail` are the bytes of [`edge_ranges`]; for small files they overlap.
    pub fn new(size: u64, head: &[u8], tail: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"finsync-fp-v1");
        h.update(size.to_le_bytes());
        h.update((head.len() as u64).to_le_bytes());
        h.update(head);
        h.update((tail.len() as u64).to_le_bytes());
        h.update(tail);
        Fingerprint {
            size,
            digest: h.finalize().into(),
        }
    }

    /// `"<size>-<64 hex digits>"`.
    pub fn to_hex(&self) -> String {
        format!("{}-{}", self.size, hex(&self.digest))
    }

    /// Parses [`Fingerprint::to_hex`]'s output, so a fingerprint stored at scan time gives the
    /// same idempotency key later without reading the file again.
    pub fn from_hex(s: &str) -> Option<Fingerprint> {
        let (size, digits) = s.split_once('-')?;
        let size = size.parse::<u64>().ok()?;
        let b = digits.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut digest = [0u8; 32];
        for (i, d) in digest.iter_mut().enumerate() {
            *d = (nibble(b[2 * i])? << 4) | nibble(b[2 * i + 1])?;
        }
        Some(Fingerprint { size, digest })
    }
}

/// The idempotency key of one image; see the module docs for the exact derivation.
pub fn idempotency_key(population_id: i64, encounter_identity: &str, fp: &Fingerprint) -> String {
    let mut h = Sha256::new();
    h.update(b"finsync-key-v1\0");
    h.update(population_id.to_string().as_bytes());
    h.update([0]);
    h.update(encounter_identity.as_bytes());
    h.update([0]);
    h.update(fp.to_hex().as_bytes());
    let digest = h.finalize();
    format!("v1-{}", &hex(&digest)[..40])
}

/// `true` for strings shaped like [`idempotency_key`]'s output.
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 43
        && key.starts_with("v1-")
        && key[3..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::encounter_identity;

    fn fp_of(bytes: &[u8]) -> Fingerprint {
        let ((h0, h1), (t0, t1)) = edge_ranges(bytes.len() as u64);
        Fingerprint::new(
            bytes.len() as u64,
            &bytes[h0 as usize..h1 as usize],
            &bytes[t0 as usize..t1 as usize],
        )
    }

    #[test]
    fn edge_ranges_cover_small_and_large_files() {
        assert_eq!(edge_ranges(0), ((0, 0), (0, 0)));
        assert_eq!(edge_ranges(10), ((0, 10), (0, 10)));
        assert_eq!(
            edge_ranges(200_000),
            ((0, 65_536), (200_000 - 65_536, 200_000))
        );
    }

    #[test]
    fn fingerprint_sees_head_tail_and_size() {
        let mut a = vec![7u8; 300_000];
        let base = fp_of(&a);
        assert_eq!(base, fp_of(&a.clone()));
        a[10] = 8; // head changed
        assert_ne!(base, fp_of(&a));
        a[10] = 7;
        a[299_999] = 1; // tail changed
        assert_ne!(base, fp_of(&a));
        a[299_999] = 7;
        a.push(7); // size changed
        assert_ne!(base, fp_of(&a));
    }

    #[test]
    fn hex_round_trips() {
        let fp = fp_of(b"some jpeg bytes");
        assert_eq!(Fingerprint::from_hex(&fp.to_hex()), Some(fp));
        assert_eq!(Fingerprint::from_hex("12-abc"), None);
        assert_eq!(Fingerprint::from_hex(&fp.to_hex().to_uppercase()), None);
        assert_eq!(Fingerprint::from_hex("x"), None);
    }

    #[test]
    fn key_depends_on_population_encounter_and_content_only() {
        let fp = fp_of(b"jpeg bytes");
        let id = encounter_identity("2024-07-15", "Haro Strait", "J Smith");
        let k = idempotency_key(1, &id, &fp);
        assert!(is_valid_key(&k), "{k}");
        assert_eq!(k, idempotency_key(1, &id, &fp_of(b"jpeg bytes")));
        assert_ne!(k, idempotency_key(2, &id, &fp));
        let other = encounter_identity("2024-07-16", "Haro Strait", "J Smith");
        assert_ne!(k, idempotency_key(1, &other, &fp));
        assert_ne!(k, idempotency_key(1, &id, &fp_of(b"jpeg bytez")));
        // Pinned (recomputed independently in Python) so an accidental change of the
        // derivation (which would re-upload every
        // library) fails loudly.
        assert_eq!(k, "v1-503907146fa8dd4e631c0075ed1a6b9c6e4c717c");
        assert!(!is_valid_key("v1-XYZ"));
        assert!(!is_valid_key("../../etc/passwd"));
    }
}
