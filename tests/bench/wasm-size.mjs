// Where the bytes of the app's wasm are: the code size of every function, from the code
// section and the function names in the "name" section, grouped by crate (and by module for
// finsync's own crates). Works on cargo's release wasm passed through wasm-bindgen (which
// demangles the names and drops its own describe functions), without wasm-opt, which would drop
// the names: the byte counts are before wasm-opt, the shares are close to the bundle's. A
// release build keeps the names there (cargo's default strip = "debuginfo" leaves the name
// section); trunk's wasm-opt drops them from dist/.
//
//   node tests/bench/wasm-size.mjs [path/to/finsync.wasm]   # prints the table
import { readFileSync, existsSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../e2e/support/env.mjs';

/** Cargo's release wasm of the app (names kept when built with strip = "none"). */
export function cargoWasm() {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target');
  return path.join(target, 'wasm32-unknown-unknown/release/finsync.wasm');
}

/** `file` through wasm-bindgen (into a temporary folder): the wasm trunk hands to wasm-opt. */
export function bound(file = cargoWasm()) {
  const out = mkdtempSync(path.join(os.tmpdir(), 'finsync-wasm-size-'));
  execFileSync('wasm-bindgen', ['--target', 'web', '--out-dir', out, '--out-name', 'app', file]);
  return path.join(out, 'app_bg.wasm');
}

function leb(b, i) {
  let r = 0, s = 0, x;
  do { x = b[i++]; r += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
  return [r, i];
}

/** { code, data, named, functions: [{ name, size }] } of a wasm file. */
export function functionSizes(file) {
  const b = readFileSync(file);
  const names = new Map();
  const bodies = [];
  let imported = 0, data = 0, i = 8;
  while (i < b.length) {
    const id = b[i++];
    let size; [size, i] = leb(b, i);
    const end = i + size;
    if (id === 0) {
      let n, j; [n, j] = leb(b, i);
      const name = b.toString('utf8', j, j + n); j += n;
      if (name === 'name') {
        while (j < end) {
          const sub = b[j++]; let len; [len, j] = leb(b, j);
          if (sub === 1) {
            let count, k; [count, k] = leb(b, j);
            for (let c = 0; c < count; c++) {
              let idx, l; [idx, k] = leb(b, k); [l, k] = leb(b, k);
              names.set(idx, b.toString('utf8', k, k + l)); k += l;
            }
          }
          j += len;
        }
      }
    } else if (id === 2) { // imports: functions take the first indices
      let count, j; [count, j] = leb(b, i);
      for (let c = 0; c < count; c++) {
        let l; [l, j] = leb(b, j); j += l; [l, j] = leb(b, j); j += l;
        const kind = b[j++];
        let x, flags;
        if (kind === 0) { [x, j] = leb(b, j); imported++; }
        else if (kind === 1) { j++; [flags, j] = leb(b, j); [x, j] = leb(b, j); if (flags & 1) [x, j] = leb(b, j); }
        else if (kind === 2) { [flags, j] = leb(b, j); [x, j] = leb(b, j); if (flags & 1) [x, j] = leb(b, j); }
        else if (kind === 3) j += 2;
        else if (kind === 4) { j++; [x, j] = leb(b, j); }
      }
    } else if (id === 10) {
      let count, j; [count, j] = leb(b, i);
      for (let c = 0; c < count; c++) {
        let len; [len, j] = leb(b, j);
        bodies.push([imported + c, len]); j += len;
      }
    } else if (id === 11) data = size;
    i = end;
  }
  const functions = bodies.map(([idx, size]) => ({ name: names.get(idx) ?? '', size }));
  return { code: functions.reduce((a, f) => a + f.size, 0), data, named: names.size > 0, functions };
}

const LEPTOS = new Set(['leptos', 'tachys', 'reactive_graph', 'leptos_dom', 'leptos_macro', 'either_of', 'any_spawner', 'throw_error', 'oco_ref', 'or_poisoned', 'send_wrapper', 'slotmap', 'guardian', 'next_tuple', 'const_str_slice_concat', 'erased', 'leptos_server', 'server_fn', 'hydration_context', 'reactive_stores', 'indexmap', 'rustc_hash', 'pin_project_lite']);
const STD = new Set(['core', 'alloc', 'std', 'compiler_builtins', 'dlmalloc', 'hashbrown', 'str', 'char', 'f64', 'f32', 'bool', 'u8', 'u16', 'u32', 'u64', 'usize', 'i8', 'i16', 'i32', 'i64', 'isize']);
const GLUE = new Set(['wasm_bindgen', 'js_sys', 'web_sys', 'wasm_bindgen_futures', 'console_error_panic_hook']);

/** The area a function's (demangled) name belongs to. */
export function area(name) {
  if (!name) return '(no name)';
  if (/impl serde(_core)?::(de::Deserialize|ser::Serialize) for /.test(name)) return 'serde derives (record and API types)';
  // `<T as tachys::view::Render>::build` → tachys; `<serde_json::de::X as serde_core::…>` → serde_json.
  let s = name.replace(/^<+/, '');
  if (/^(&(mut )?)?[A-Z][A-Za-z0-9]*(<[^>]*>)? as /.test(s)) s = s.slice(s.indexOf(' as ') + 4);
  s = s.replace(/^(&(mut )?|dyn )/, '').replace(/^<+/, '');
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[0-9a-f]+\])?(?:::([A-Za-z_][A-Za-z0-9_]*))?(?:::([A-Za-z_][A-Za-z0-9_]*))?/.exec(s);
  if (!m) return 'other';
  const [, crate, , mod, sub] = m;
  if (crate === 'finsync') return mod === 'pages' || mod === 'ui' ? `finsync::${mod}::${sub ?? ''}` : `finsync::${mod ?? ''}`;
  if (crate === 'finsync_core') return `finsync_core::${mod ?? ''}`;
  if (LEPTOS.has(crate)) return 'Leptos (leptos, tachys, reactive_graph, …)';
  if (STD.has(crate)) return 'Rust std (core, alloc, hashbrown, …)';
  if (GLUE.has(crate)) return 'wasm-bindgen, js-sys, web-sys';
  if (/^futures/.test(crate)) return 'futures';
  if (crate === 'serde' || crate === 'serde_core') return 'serde (generic code)';
  if (crate === 'exif') return 'kamadak-exif';
  if (crate === 'md5' || crate === 'sha2' || crate === 'digest' || crate === 'block_buffer') return 'md-5, sha2';
  return crate;
}

/** [[area, bytes, functions]] biggest first. */
export function byArea(functions) {
  const acc = new Map();
  for (const f of functions) {
    const a = area(f.name);
    const [bytes, n] = acc.get(a) ?? [0, 0];
    acc.set(a, [bytes + f.size, n + 1]);
  }
  return [...acc].map(([a, [bytes, n]]) => [a, bytes, n]).sort((x, y) => y[1] - x[1]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? cargoWasm();
  if (!existsSync(file)) { console.error(`${file} is missing: build the release wasm first`); process.exit(1); }
  const { code, data, named, functions } = functionSizes(bound(file));
  if (!named) { console.error(`${file} has no name section (was it built with strip = "symbols"?)`); process.exit(1); }
  console.log(`code ${code} bytes in ${functions.length} functions, data ${data} bytes`);
  for (const [a, bytes, n] of byArea(functions)) console.log(`${String(bytes).padStart(9)} ${(100 * bytes / code).toFixed(1).padStart(5)} % ${String(n).padStart(6)}  ${a}`);
}
