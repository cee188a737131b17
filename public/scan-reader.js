// finsync's scan reader: a dedicated worker that reads the start of image files for the
// Discover page's scan (src/discovery/reader.rs), so the page's main thread does not.
//
// Why: a File of an `<input webkitdirectory>` list has no size or date until asked: the first
// `size`, `lastModified` or `slice()` on it asks the browser process synchronously to stat the
// file (Blob::CaptureSnapshot; the answer is kept), and every `slice()` registers a new blob,
// synchronously too (BlobRegistry::Register). Made on the page's thread, those calls were most of
// a scan's time; here the slice blocks only this worker. The page posts each File (or
// FileSystemFileHandle) and gets back its size, date and bytes, the buffer transferred, not
// copied. (Posting a File still costs the page one synchronous call — the serialisation captures
// the snapshot —, where the I/O floor's `slice()` costs it two; a handle costs the page none.
// tests/bench/file-calls.mjs counts them.)
//
// Requests: an array of { id, src, start, end, known, expect }.
//   * `end` null — the head: the first `HEAD` bytes (the whole file when it is no larger, read
//     without a slice); `known` ([size, lastModified] of an earlier scan, or null): when the
//     file still has them, nothing is read and the reply says `kept`.
//   * `end` a number — the bytes [start, end) (a segment ran past the head); `expect`
//     ([size, lastModified] of the head's reply): a file that differs has changed meanwhile.
// Replies, in arrays (each message holds the replies that were ready, so the page wakes once for
// several files): { id, size, lastModified, buf } or { id, kept: true, size, lastModified } or
// { id, stage: 'open' | 'read', error: { name, message }, size?, lastModified? } — `open`: a
// handle's getFile() failed (moved or deleted), `read`: the read did. Every request gets exactly
// one reply; the page falls back to reading in its own thread if this worker fails to start.
'use strict';

const HEAD = 65536;
// Replies are sent when this many are ready, or when no read is left to wait for, or after
// `FLUSH_MS` at the latest.
const FLUSH_AT = 4;
const FLUSH_MS = 2;

let outbox = [];
let transfer = [];
let timer = 0;
let open = 0;

function flush() {
  clearTimeout(timer);
  timer = 0;
  if (outbox.length === 0) return;
  const [o, t] = [outbox, transfer];
  outbox = [];
  transfer = [];
  self.postMessage(o, t);
}

function post(reply, buf) {
  outbox.push(reply);
  if (buf) transfer.push(buf);
  if (outbox.length >= FLUSH_AT || open === 0) flush();
  else if (!timer) timer = setTimeout(flush, FLUSH_MS);
}

// A plain copy: any thrown value can be posted.
const plain = (e) => ({
  name: (e && typeof e.name === 'string') ? e.name : '',
  message: (e && typeof e.message === 'string') ? e.message : String(e),
});

async function serve(r) {
  open++;
  const [reply, buf] = await read(r);
  open--;
  post(reply, buf);
}

/** One request's reply, and the buffer to transfer with it. */
async function read(r) {
  let file;
  try {
    file = r.src instanceof File ? r.src : await r.src.getFile();
  } catch (e) {
    return [{ id: r.id, stage: 'open', error: plain(e) }];
  }
  let size = 0;
  let lastModified = 0;
  try {
    size = file.size;
    lastModified = file.lastModified;
    let start = r.start;
    let end = r.end;
    if (end == null) {
      if (r.known && r.known[0] === size && r.known[1] === lastModified) {
        return [{ id: r.id, kept: true, size, lastModified }];
      }
      start = 0;
      end = Math.min(size, HEAD);
    } else if (r.expect && (r.expect[0] !== size || r.expect[1] !== lastModified)) {
      throw new DOMException(
        `the file changed during the scan (${r.expect[0]} bytes before, ${size} now)`, 'NotReadableError');
    }
    let buf;
    if (end <= start) buf = new ArrayBuffer(0);
    else if (start === 0 && end >= size) buf = await file.arrayBuffer();
    else buf = await file.slice(start, end).arrayBuffer();
    return [{ id: r.id, size, lastModified, buf }, buf];
  } catch (e) {
    return [{ id: r.id, stage: 'read', size, lastModified, error: plain(e) }];
  }
}

self.onmessage = (event) => {
  for (const r of event.data) serve(r);
};
