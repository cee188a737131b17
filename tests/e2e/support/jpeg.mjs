// Real JPEG files for tests: pixels encoded by jpeg-js, plus an EXIF APP1 segment written here
// (DateTimeOriginal + offset, GPS, Artist, Model), so every file is a valid, decodable photo
// with the metadata a camera would write.
import jpeg from 'jpeg-js';

const ASCII = 2, SHORT = 3, LONG = 4, RATIONAL = 5;

function asciiValue(s) { return Buffer.from(s + '\0', 'latin1'); }
function rationals(pairs) {
  const b = Buffer.alloc(8 * pairs.length);
  pairs.forEach(([n, d], i) => { b.writeUInt32LE(n, i * 8); b.writeUInt32LE(d, i * 8 + 4); });
  return b;
}
const typeSize = { [ASCII]: 1, [SHORT]: 2, [LONG]: 4, [RATIONAL]: 8 };

// One IFD at `offset` (from the TIFF header); entries: [tag, type, value Buffer|number].
// Returns the bytes of the IFD followed by its out-of-line data.
function ifd(entries, offset) {
  entries = [...entries].sort((a, b) => a[0] - b[0]);
  const head = 2 + entries.length * 12 + 4;
  const table = Buffer.alloc(head);
  const data = [];
  let dataOffset = offset + head;
  table.writeUInt16LE(entries.length, 0);
  entries.forEach(([tag, type, value], i) => {
    const at = 2 + i * 12;
    table.writeUInt16LE(tag, at);
    table.writeUInt16LE(type, at + 2);
    if (typeof value === 'number') {
      table.writeUInt32LE(1, at + 4);
      if (type === SHORT) table.writeUInt16LE(value, at + 8); else table.writeUInt32LE(value, at + 8);
      return;
    }
    table.writeUInt32LE(value.length / typeSize[type], at + 4);
    if (value.length <= 4) { value.copy(table, at + 8); return; }
    table.writeUInt32LE(dataOffset, at + 8);
    const padded = value.length % 2 ? Buffer.concat([value, Buffer.alloc(1)]) : value;
    data.push(padded);
    dataOffset += padded.length;
  });
  table.writeUInt32LE(0, head - 4);
  return Buffer.concat([table, ...data]);
}

function dms(deg) {
  const a = Math.abs(deg);
  const d = Math.floor(a), m = Math.floor((a - d) * 60), s = Math.round(((a - d) * 60 - m) * 60 * 100);
  return rationals([[d, 1], [m, 1], [s, 100]]);
}

/** EXIF APP1 segment for { date: 'YYYY:MM:DD HH:MM:SS', offset: '+02:00', lat, lon, artist, model }. */
export function exifSegment({ date, offset, lat, lon, artist, model }) {
  // Layout: header(8) | IFD0 | Exif IFD | GPS IFD — pointers need sizes, so build twice.
  const build = (exifAt, gpsAt) => {
    const ifd0 = [];
    if (model) ifd0.push([0x0110, ASCII, asciiValue(model)]);
    if (artist) ifd0.push([0x013b, ASCII, asciiValue(artist)]);
    ifd0.push([0x8769, LONG, exifAt]);
    if (lat !== undefined) ifd0.push([0x8825, LONG, gpsAt]);
    return ifd0;
  };
  const exifEntries = [];
  if (date) exifEntries.push([0x9003, ASCII, asciiValue(date)]);
  if (offset) exifEntries.push([0x9011, ASCII, asciiValue(offset)]);
  const gpsEntries = lat === undefined ? [] : [
    [0x0001, ASCII, asciiValue(lat >= 0 ? 'N' : 'S')],
    [0x0002, RATIONAL, dms(lat)],
    [0x0003, ASCII, asciiValue(lon >= 0 ? 'E' : 'W')],
    [0x0004, RATIONAL, dms(lon)],
  ];
  const size0 = ifd(build(0, 0), 8).length;
  const exifAt = 8 + size0;
  const exifBytes = ifd(exifEntries, exifAt);
  const gpsAt = exifAt + exifBytes.length;
  const ifd0Bytes = ifd(build(exifAt, gpsAt), 8);
  const gpsBytes = gpsEntries.length ? ifd(gpsEntries, gpsAt) : Buffer.alloc(0);
  const header = Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]);
  const tiff = Buffer.concat([header, ifd0Bytes, exifBytes, gpsBytes]);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const seg = Buffer.alloc(4);
  seg.writeUInt16BE(0xffe1, 0);
  seg.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([seg, body]);
}

/** A JPEG of `width`×`height` noisy pixels from `seed`, with `exif` inserted after SOI. */
export function makeJpeg({ width = 160, height = 120, seed = 1, quality = 85, exif } = {}) {
  let x = seed >>> 0 || 1;
  const rnd = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x & 0xff; };
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const px = i % width, py = Math.floor(i / width);
    data[i * 4] = (px * 255 / width + rnd() / 4) & 0xff;
    data[i * 4 + 1] = (py * 255 / height + rnd() / 4) & 0xff;
    data[i * 4 + 2] = (seed * 37 + rnd() / 2) & 0xff;
    data[i * 4 + 3] = 0xff;
  }
  const encoded = jpeg.encode({ data, width, height }, quality).data;
  if (!exif) return encoded;
  return Buffer.concat([encoded.subarray(0, 2), exifSegment(exif), encoded.subarray(2)]);
}

/** A valid JPEG of about `totalBytes`: a small picture padded with APP15 segments of random
 *  bytes (decoders skip APPn segments), for block-upload tests without encoding megapixels. */
export function makeBigJpeg(totalBytes, seed = 7) {
  const small = makeJpeg({ seed, width: 64, height: 48 });
  const segments = [];
  let size = small.length;
  let x = seed >>> 0 || 1;
  while (size < totalBytes) {
    const n = Math.min(65533, totalBytes - size - 4);
    if (n <= 0) break;
    const seg = Buffer.alloc(n + 4);
    seg.writeUInt16BE(0xffef, 0);
    seg.writeUInt16BE(n + 2, 2);
    for (let i = 4; i < seg.length; i += 4) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; seg.writeUInt32LE(x, Math.min(i, seg.length - 4)); }
    segments.push(seg);
    size += seg.length;
  }
  return Buffer.concat([small.subarray(0, 2), ...segments, small.subarray(2)]);
}
