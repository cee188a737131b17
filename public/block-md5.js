// finsync's block hasher: a dedicated worker that computes the MD5 of a file's blocks for the
// `Content-MD5` of each Put Block (src/blob_md5.rs), so the page's main thread does not.
//
// Why: hashing a 1 GiB file's blocks in the page (WASM) kept its main thread busy ~2.7 s of a
// ~7 s upload, during which it could not start the next request nor handle answers. Here the
// worker reads the block itself from the File: the page posts the File (or Blob) with the byte
// range, never the bytes.
//
// Requests: { id, blob, start, end }. Replies: { id, md5, bytes } — md5 the base64 of the digest
// of the bytes [start, end), `bytes` how many were read (fewer when the file shrank meanwhile) —
// or { id, error: { name, message } }. Every request gets exactly one reply; the page hashes in
// its own thread if this worker fails to start.
//
// MD5 as RFC 1321 describes it, written for speed in plain JS: the 64 steps unrolled, 32-bit
// integer arithmetic only, and the message words read through an Int32Array view of the bytes
// where they are 4-byte aligned (little-endian platforms; otherwise assembled byte by byte).
'use strict';

/** Bytes read at once: one reused buffer, so hashing a gigabyte makes no garbage. */
const PIECE = 1024 * 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** An incremental MD5. */
class Md5 {
  constructor() {
    this.s = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    // A partial 64-byte block carried to the next update, and its length.
    this.tail = new Uint8Array(64);
    this.tailWords = new Int32Array(this.tail.buffer);
    this.tailLen = 0;
    this.length = 0;
    // Aligned copies of unaligned input (or all input on a big-endian platform).
    this.scratch = new Uint8Array(4096);
    this.scratchWords = new Int32Array(this.scratch.buffer);
  }

  /** Adds `bytes` (a Uint8Array). */
  update(bytes) {
    let at = 0;
    const n = bytes.length;
    this.length += n;
    if (this.tailLen > 0) {
      const take = Math.min(64 - this.tailLen, n);
      this.tail.set(bytes.subarray(0, take), this.tailLen);
      this.tailLen += take;
      at = take;
      if (this.tailLen < 64) return;
      this.blocks(this.tailWords, 0, 1);
      this.tailLen = 0;
    }
    const whole = (n - at) >> 6;
    if (whole > 0) {
      const offset = bytes.byteOffset + at;
      if (LITTLE_ENDIAN && offset % 4 === 0) {
        this.blocks(new Int32Array(bytes.buffer, offset, whole * 16), 0, whole);
        at += whole * 64;
      } else {
        for (let left = whole; left > 0;) {
          const k = Math.min(left, this.scratch.length >> 6);
          this.scratch.set(bytes.subarray(at, at + k * 64));
          if (!LITTLE_ENDIAN) swapWords(this.scratch, k * 64);
          this.blocks(this.scratchWords, 0, k);
          at += k * 64;
          left -= k;
        }
      }
    }
    if (at < n) {
      this.tail.set(bytes.subarray(at), 0);
      this.tailLen = n - at;
    }
  }

  /** The 16-byte digest (a Uint8Array); the hasher is spent after this. */
  digest() {
    const bits = this.length * 8;
    const pad = new Uint8Array(((this.tailLen < 56 ? 56 : 120) - this.tailLen) + 8);
    pad[0] = 0x80;
    // The message length in bits, 64-bit little-endian.
    const lenAt = pad.length - 8;
    const low = bits % 0x100000000;
    const high = Math.floor(bits / 0x100000000);
    for (let i = 0; i < 4; i++) {
      pad[lenAt + i] = (low >>> (8 * i)) & 0xff;
      pad[lenAt + 4 + i] = (high >>> (8 * i)) & 0xff;
    }
    const length = this.length;
    this.update(pad);
    this.length = length;
    const out = new Uint8Array(16);
    for (let i = 0; i < 4; i++) {
      const w = this.s[i];
      out[4 * i] = w & 0xff;
      out[4 * i + 1] = (w >>> 8) & 0xff;
      out[4 * i + 2] = (w >>> 16) & 0xff;
      out[4 * i + 3] = (w >>> 24) & 0xff;
    }
    return out;
  }

  /** Runs the compression function over `count` 64-byte blocks of `w` (16 words each) from word `from`. */
  blocks(w, from, count) {
    const s = this.s;
    let a0 = s[0], b0 = s[1], c0 = s[2], d0 = s[3];
    for (let k = 0, o = from; k < count; k++, o += 16) {
      const m0 = w[o], m1 = w[o + 1], m2 = w[o + 2], m3 = w[o + 3];
      const m4 = w[o + 4], m5 = w[o + 5], m6 = w[o + 6], m7 = w[o + 7];
      const m8 = w[o + 8], m9 = w[o + 9], m10 = w[o + 10], m11 = w[o + 11];
      const m12 = w[o + 12], m13 = w[o + 13], m14 = w[o + 14], m15 = w[o + 15];
      let a = a0, b = b0, c = c0, d = d0;
    a = (a + (d ^ (b & (c ^ d))) + m0 + (-680876936)) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + (c ^ (a & (b ^ c))) + m1 + (-389564586)) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + (b ^ (d & (a ^ b))) + m2 + 606105819) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + (a ^ (c & (d ^ a))) + m3 + (-1044525330)) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + (d ^ (b & (c ^ d))) + m4 + (-176418897)) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + (c ^ (a & (b ^ c))) + m5 + 1200080426) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + (b ^ (d & (a ^ b))) + m6 + (-1473231341)) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + (a ^ (c & (d ^ a))) + m7 + (-45705983)) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + (d ^ (b & (c ^ d))) + m8 + 1770035416) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + (c ^ (a & (b ^ c))) + m9 + (-1958414417)) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + (b ^ (d & (a ^ b))) + m10 + (-42063)) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + (a ^ (c & (d ^ a))) + m11 + (-1990404162)) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + (d ^ (b & (c ^ d))) + m12 + 1804603682) | 0; a = ((a << 7) | (a >>> 25)) + b | 0;
    d = (d + (c ^ (a & (b ^ c))) + m13 + (-40341101)) | 0; d = ((d << 12) | (d >>> 20)) + a | 0;
    c = (c + (b ^ (d & (a ^ b))) + m14 + (-1502002290)) | 0; c = ((c << 17) | (c >>> 15)) + d | 0;
    b = (b + (a ^ (c & (d ^ a))) + m15 + 1236535329) | 0; b = ((b << 22) | (b >>> 10)) + c | 0;
    a = (a + (c ^ (d & (b ^ c))) + m1 + (-165796510)) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + (b ^ (c & (a ^ b))) + m6 + (-1069501632)) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + (a ^ (b & (d ^ a))) + m11 + 643717713) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + (d ^ (a & (c ^ d))) + m0 + (-373897302)) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + (c ^ (d & (b ^ c))) + m5 + (-701558691)) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + (b ^ (c & (a ^ b))) + m10 + 38016083) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + (a ^ (b & (d ^ a))) + m15 + (-660478335)) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + (d ^ (a & (c ^ d))) + m4 + (-405537848)) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + (c ^ (d & (b ^ c))) + m9 + 568446438) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + (b ^ (c & (a ^ b))) + m14 + (-1019803690)) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + (a ^ (b & (d ^ a))) + m3 + (-187363961)) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + (d ^ (a & (c ^ d))) + m8 + 1163531501) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + (c ^ (d & (b ^ c))) + m13 + (-1444681467)) | 0; a = ((a << 5) | (a >>> 27)) + b | 0;
    d = (d + (b ^ (c & (a ^ b))) + m2 + (-51403784)) | 0; d = ((d << 9) | (d >>> 23)) + a | 0;
    c = (c + (a ^ (b & (d ^ a))) + m7 + 1735328473) | 0; c = ((c << 14) | (c >>> 18)) + d | 0;
    b = (b + (d ^ (a & (c ^ d))) + m12 + (-1926607734)) | 0; b = ((b << 20) | (b >>> 12)) + c | 0;
    a = (a + (b ^ c ^ d) + m5 + (-378558)) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + m8 + (-2022574463)) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + m11 + 1839030562) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + m14 + (-35309556)) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (b ^ c ^ d) + m1 + (-1530992060)) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + m4 + 1272893353) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + m7 + (-155497632)) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + m10 + (-1094730640)) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (b ^ c ^ d) + m13 + 681279174) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + m0 + (-358537222)) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + m3 + (-722521979)) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + m6 + 76029189) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (b ^ c ^ d) + m9 + (-640364487)) | 0; a = ((a << 4) | (a >>> 28)) + b | 0;
    d = (d + (a ^ b ^ c) + m12 + (-421815835)) | 0; d = ((d << 11) | (d >>> 21)) + a | 0;
    c = (c + (d ^ a ^ b) + m15 + 530742520) | 0; c = ((c << 16) | (c >>> 16)) + d | 0;
    b = (b + (c ^ d ^ a) + m2 + (-995338651)) | 0; b = ((b << 23) | (b >>> 9)) + c | 0;
    a = (a + (c ^ (b | ~d)) + m0 + (-198630844)) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + m7 + 1126891415) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + m14 + (-1416354905)) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + m5 + (-57434055)) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
    a = (a + (c ^ (b | ~d)) + m12 + 1700485571) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + m3 + (-1894986606)) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + m10 + (-1051523)) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + m1 + (-2054922799)) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
    a = (a + (c ^ (b | ~d)) + m8 + 1873313359) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + m15 + (-30611744)) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + m6 + (-1560198380)) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + m13 + 1309151649) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
    a = (a + (c ^ (b | ~d)) + m4 + (-145523070)) | 0; a = ((a << 6) | (a >>> 26)) + b | 0;
    d = (d + (b ^ (a | ~c)) + m11 + (-1120210379)) | 0; d = ((d << 10) | (d >>> 22)) + a | 0;
    c = (c + (a ^ (d | ~b)) + m2 + 718787259) | 0; c = ((c << 15) | (c >>> 17)) + d | 0;
    b = (b + (d ^ (c | ~a)) + m9 + (-343485551)) | 0; b = ((b << 21) | (b >>> 11)) + c | 0;
      a0 = (a0 + a) | 0; b0 = (b0 + b) | 0; c0 = (c0 + c) | 0; d0 = (d0 + d) | 0;
    }
    s[0] = a0; s[1] = b0; s[2] = c0; s[3] = d0;
  }
}

/** Reverses the bytes of each 32-bit word of `bytes[0..n)` (big-endian platforms only). */
function swapWords(bytes, n) {
  for (let i = 0; i < n; i += 4) {
    const x = bytes[i], y = bytes[i + 1];
    bytes[i] = bytes[i + 3]; bytes[i + 1] = bytes[i + 2]; bytes[i + 2] = y; bytes[i + 3] = x;
  }
}

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

// The buffer the BYOB reads fill (transferred into each read and back).
let buffer = new ArrayBuffer(PIECE);

/** The MD5 of `blob`'s bytes [start, end) and how many bytes were read. */
async function hashRange(blob, start, end) {
  const md5 = new Md5();
  const piece = blob.slice(start, end);
  let reader = null;
  try {
    reader = piece.stream().getReader({ mode: 'byob' });
  } catch {
    // Not a byte stream here: read 1 MiB slices instead (more garbage, same result).
  }
  if (reader) {
    try {
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(buffer, 0, PIECE));
        if (value) buffer = value.buffer;
        if (done || !value) break;
        md5.update(value);
      }
    } finally {
      // A failed read keeps the buffer it was lent (the next request gets a new one).
      if (buffer.byteLength === 0) buffer = new ArrayBuffer(PIECE);
    }
  } else {
    for (let at = 0; at < piece.size; at += PIECE) {
      md5.update(new Uint8Array(await piece.slice(at, at + PIECE).arrayBuffer()));
    }
  }
  const bytes = md5.length;
  return { md5: base64(md5.digest()), bytes };
}

// A plain copy: any thrown value can be posted.
const plain = (e) => ({
  name: (e && typeof e.name === 'string') ? e.name : '',
  message: (e && typeof e.message === 'string') ? e.message : String(e),
});

// One request at a time: they share the read buffer, and the page asks in the order it uploads.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const r = event.data;
  queue = queue.then(async () => {
    try {
      const { md5, bytes } = await hashRange(r.blob, r.start, r.end);
      self.postMessage({ id: r.id, md5, bytes });
    } catch (e) {
      self.postMessage({ id: r.id, error: plain(e) });
    }
  });
};
