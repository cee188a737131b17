//! Test-only builders of real image files: a baseline JPEG (standard Annex K Huffman tables,
//! uniform grey, decoded by zune-jpeg in a test), EXIF TIFF blocks in either byte order, IPTC
//! IIM in Photoshop resources, and PNG. `tests/e2e/support/jpeg.mjs` builds the same EXIF in JS.

/// TIFF field types.
pub const BYTE: u16 = 1;
pub const ASCII: u16 = 2;
pub const LONG: u16 = 4;
pub const RATIONAL: u16 = 5;
pub const UNDEFINED: u16 = 7;

/// One IFD entry; `payload` is already in the TIFF's byte order.
#[derive(Clone, Debug)]
pub struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u32,
    pub payload: Vec<u8>,
}

/// Writes entries in one byte order.
#[derive(Clone, Copy, Debug)]
pub struct Tiff {
    pub big_endian: bool,
}

impl Tiff {
    fn u16(self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn ascii(self, tag: u16, s: &str) -> Entry {
        let mut payload = s.as_bytes().to_vec();
        payload.push(0);
        Entry {
            tag,
            typ: ASCII,
            count: payload.len() as u32,
            payload,
        }
    }
    pub fn raw_ascii(self, tag: u16, bytes: &[u8]) -> Entry {
        Entry {
            tag,
            typ: ASCII,
            count: bytes.len() as u32,
            payload: bytes.to_vec(),
        }
    }
    pub fn long(self, tag: u16, v: u32) -> Entry {
        Entry {
            tag,
            typ: LONG,
            count: 1,
            payload: self.u32(v).to_vec(),
        }
    }
    pub fn rationals(self, tag: u16, pairs: &[(u32, u32)]) -> Entry {
        let mut payload = Vec::new();
        for &(n, d) in pairs {
            payload.extend_from_slice(&self.u32(n));
            payload.extend_from_slice(&self.u32(d));
        }
        Entry {
            tag,
            typ: RATIONAL,
            count: pairs.len() as u32,
            payload,
        }
    }
    pub fn bytes(self, tag: u16, typ: u16, payload: &[u8]) -> Entry {
        Entry {
            tag,
            typ,
            count: payload.len() as u32,
            payload: payload.to_vec(),
        }
    }

    fn ifd_len(entries: &[Entry]) -> usize {
        2 + 12 * entries.len()
            + 4
            + entries
                .iter()
                .filter(|e| e.payload.len() > 4)
                .map(|e| (e.payload.len() + 1) & !1)
                .sum::<usize>()
    }

    fn write_ifd(self, out: &mut Vec<u8>, mut entries: Vec<Entry>, next: u32) {
        entries.sort_by_key(|e| e.tag);
        let at = out.len();
        let mut data_at = at + 2 + 12 * entries.len() + 4;
        let mut data = Vec::new();
        out.extend_from_slice(&self.u16(entries.len() as u16));
        for e in &entries {
            out.extend_from_slice(&self.u16(e.tag));
            out.extend_from_slice(&self.u16(e.typ));
            out.extend_from_slice(&self.u32(e.count));
            if e.payload.len() <= 4 {
                let mut v = e.payload.clone();
                v.resize(4, 0);
                out.extend_from_slice(&v);
            } else {
                out.extend_from_slice(&self.u32(data_at as u32));
                data.extend_from_slice(&e.payload);
                if e.payload.len() % 2 == 1 {
                    data.push(0);
                }
                data_at = at + 2 + 12 * entries.len() + 4 + data.len();
            }
        }
        out.extend_from_slice(&self.u32(next));
        out.extend_from_slice(&data);
    }

    /// `header | IFD0 (+ pointers) | Exif IFD | GPS IFD`; offsets from the TIFF header.
    pub fn build(self, ifd0: Vec<Entry>, exif: Vec<Entry>, gps: Vec<Entry>) -> Vec<u8> {
        let mut ifd0 = ifd0;
        let pointers = usize::from(!exif.is_empty()) + usize::from(!gps.is_empty());
        let size0 = Self::ifd_len(&ifd0) + 12 * pointers;
        let exif_at = 8 + size0;
        let gps_at = exif_at
            + if exif.is_empty() {
                0
            } else {
                Self::ifd_len(&exif)
            };
        if !exif.is_empty() {
            ifd0.push(self.long(0x8769, exif_at as u32));
        }
        if !gps.is_empty() {
            ifd0.push(self.long(0x8825, gps_at as u32));
        }
        let mut out = if self.big_endian {
            b"MM\0\x2a".to_vec()
        } else {
            b"II\x2a\0".to_vec()
        };
        out.extend_from_slice(&self.u32(8));
        self.write_ifd(&mut out, ifd0, 0);
        assert_eq!(out.len(), exif_at);
        if !exif.is_empty() {
            self.write_ifd(&mut out, exif, 0);
        }
        assert_eq!(out.len(), gps_at);
        if !gps.is_empty() {
            self.write_ifd(&mut out, gps, 0);
        }
        out
    }
}

/// What a camera writes, for [`exif_tiff`].
#[derive(Clone, Debug, Default)]
pub struct Camera {
    pub big_endian: bool,
    pub make: Option<&'static str>,
    pub model: Option<&'static str>,
    pub artist: Option<&'static str>,
    pub copyright: Option<&'static str>,
    pub owner: Option<&'static str>,
    /// `YYYY:MM:DD HH:MM:SS`
    pub original: Option<&'static str>,
    pub offset: Option<&'static str>,
    pub digitized: Option<&'static str>,
    pub gps: Option<(f64, f64)>,
    /// Bytes of a fake thumbnail stored in IFD0 as an UNDEFINED value (to make APP1 large).
    pub padding: usize,
}

fn dms(deg: f64) -> [(u32, u32); 3] {
    let a = deg.abs();
    let d = a.floor();
    let m = ((a - d) * 60.0).floor();
    let s = (((a - d) * 60.0 - m) * 60.0 * 1000.0).round();
    [(d as u32, 1), (m as u32, 1), (s as u32, 1000)]
}

/// The TIFF block of a camera's EXIF.
pub fn exif_tiff(c: &Camera) -> Vec<u8> {
    let t = Tiff {
        big_endian: c.big_endian,
    };
    let mut ifd0 = Vec::new();
    if let Some(v) = c.make {
        ifd0.push(t.ascii(0x010F, v));
    }
    if let Some(v) = c.model {
        ifd0.push(t.ascii(0x0110, v));
    }
    if let Some(v) = c.artist {
        ifd0.push(t.ascii(0x013B, v));
    }
    if let Some(v) = c.copyright {
        ifd0.push(t.ascii(0x8298, v));
    }
    if c.padding > 0 {
        ifd0.push(t.bytes(0xC4A5, UNDEFINED, &vec![0xAB; c.padding]));
    }
    let mut exif = Vec::new();
    if let Some(v) = c.original {
        exif.push(t.ascii(0x9003, v));
    }
    if let Some(v) = c.digitized {
        exif.push(t.ascii(0x9004, v));
    }
    if let Some(v) = c.offset {
        exif.push(t.ascii(0x9011, v));
    }
    if let Some(v) = c.owner {
        exif.push(t.ascii(0xA430, v));
    }
    let mut gps = Vec::new();
    if let Some((lat, lon)) = c.gps {
        gps.push(t.bytes(0x0000, BYTE, &[2, 3, 0, 0]));
        gps.push(t.ascii(0x0001, if lat >= 0.0 { "N" } else { "S" }));
        gps.push(t.rationals(0x0002, &dms(lat)));
        gps.push(t.ascii(0x0003, if lon >= 0.0 { "E" } else { "W" }));
        gps.push(t.rationals(0x0004, &dms(lon)));
    }
    t.build(ifd0, exif, gps)
}

/// A JPEG segment: marker, length, body.
pub fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(body);
    s
}

pub fn app1_exif(tiff: &[u8]) -> Vec<u8> {
    let mut body = b"Exif\0\0".to_vec();
    body.extend_from_slice(tiff);
    segment(0xE1, &body)
}

/// IIM datasets `(record, dataset, data)`.
pub fn iim(datasets: &[(u8, u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (r, d, data) in datasets {
        out.extend_from_slice(&[0x1C, *r, *d]);
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// Photoshop image resources with one 0x0404 (IPTC) resource, preceded by a 0x040C one.
pub fn photoshop_resources(iim: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // An unrelated resource with a non-empty name first: exercises name padding.
    out.extend_from_slice(b"8BIM\x04\x0c\x03abc");
    out.extend_from_slice(&5u32.to_be_bytes());
    out.extend_from_slice(b"thumb\0");
    out.extend_from_slice(b"8BIM\x04\x04\0\0");
    out.extend_from_slice(&(iim.len() as u32).to_be_bytes());
    out.extend_from_slice(iim);
    if iim.len() % 2 == 1 {
        out.push(0);
    }
    out
}

pub fn app13_iptc(datasets: &[(u8, u8, Vec<u8>)]) -> Vec<u8> {
    let mut body = b"Photoshop 3.0\0".to_vec();
    body.extend_from_slice(&photoshop_resources(&iim(datasets)));
    segment(0xED, &body)
}

const DC_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const AC_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_VALS: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];
const QUANT: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// A baseline greyscale JPEG of `w`×`h` pixels (multiples of 8), every sample 128, with the
/// standard luminance tables; `segments` go right after SOI (where cameras put APP1).
pub fn grey_jpeg(w: u16, h: u16, segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend(segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
    let mut dqt = vec![0u8];
    dqt.extend_from_slice(&QUANT);
    out.extend(segment(0xDB, &dqt));
    let [h1, h0] = h.to_be_bytes();
    let [w1, w0] = w.to_be_bytes();
    out.extend(segment(0xC0, &[8, h1, h0, w1, w0, 1, 1, 0x11, 0]));
    let mut dht = vec![0x00];
    dht.extend_from_slice(&DC_BITS);
    dht.extend(0u8..12);
    out.extend(segment(0xC4, &dht));
    let mut dht = vec![0x10];
    dht.extend_from_slice(&AC_BITS);
    dht.extend_from_slice(&AC_VALS);
    out.extend(segment(0xC4, &dht));
    out.extend(segment(0xDA, &[1, 1, 0x00, 0, 63, 0]));
    // Each block: DC difference category 0 (code 00), then EOB (code 1010).
    let blocks = (w as usize / 8) * (h as usize / 8);
    let mut bits: Vec<bool> = Vec::new();
    for _ in 0..blocks {
        bits.extend([false, false, true, false, true, false]);
    }
    while !bits.len().is_multiple_of(8) {
        bits.push(true);
    }
    for byte in bits.chunks(8) {
        let b = byte.iter().fold(0u8, |a, &bit| (a << 1) | u8::from(bit));
        out.push(b);
        if b == 0xFF {
            out.push(0);
        }
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A complete camera-like JPEG: APP1 EXIF from `camera` and, if given, APP13 IPTC.
pub fn camera_jpeg(camera: &Camera, iptc: Option<&[(u8, u8, Vec<u8>)]>) -> Vec<u8> {
    let mut segs = vec![app1_exif(&exif_tiff(camera))];
    if let Some(ds) = iptc {
        segs.push(app13_iptc(ds));
    }
    grey_jpeg(16, 16, &segs)
}

/// The field-photo fixture most tests use: little- or big-endian EXIF with everything, and IPTC.
pub fn field_photo(big_endian: bool) -> Vec<u8> {
    camera_jpeg(
        &Camera {
            big_endian,
            make: Some("Canon"),
            model: Some("Canon EOS R5"),
            artist: Some("Jane Smith"),
            copyright: Some("© 2024 Jane Smith. All rights reserved."),
            owner: Some("J. Smith"),
            original: Some("2024:07:15 10:20:30"),
            offset: Some("-07:00"),
            digitized: Some("2024:07:15 10:20:31"),
            gps: Some((48.5125, -123.1528)),
            padding: 0,
        },
        Some(&[
            (1, 90, b"\x1b%G".to_vec()),
            (2, 80, b"Jane Smith".to_vec()),
            (2, 25, b"T002B".to_vec()),
            (2, 25, b"T036A".to_vec()),
            (2, 92, b"Haro Strait".to_vec()),
            (2, 90, b"Friday Harbor".to_vec()),
            (2, 120, "Transients — T002B, T036A".as_bytes().to_vec()),
            (2, 55, b"20240715".to_vec()),
            (2, 60, b"102030-0700".to_vec()),
        ]),
    )
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

/// A 1×1 grey PNG, with an `eXIf` chunk before IDAT when `exif` is given.
pub fn png(exif: Option<&[u8]>) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
    if let Some(e) = exif {
        out.extend(png_chunk(b"eXIf", e));
    }
    // zlib: one stored block holding filter byte 0 and sample 0x80; Adler-32 at the end.
    let raw = [0u8, 0x80];
    let (a, b) = raw.iter().fold((1u32, 0u32), |(a, b), &x| {
        ((a + x as u32) % 65521, (b + a + x as u32) % 65521)
    });
    let mut z = vec![0x78, 0x01, 0x01, 0x02, 0x00, 0xFD, 0xFF];
    z.extend_from_slice(&raw);
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out.extend(png_chunk(b"IDAT", &z));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// Deterministic xorshift PRNG for the mutation tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
