// Draws the figures of test-output/bench/*.json as charts (inline SVG, no external assets) in
// headless Chromium and screenshots each to docs/bench/*.png, which report.mjs embeds in
// BENCHMARKS.md. A chart whose figures are missing is not drawn (and its old PNG removed).
// `node tests/bench/plots.mjs scan` draws only the named charts and leaves the others alone
// (after running one benchmark on its own).
import { readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, CHROMIUM_ARGS } from '../e2e/support/env.mjs';

const dir = path.join(ROOT, 'test-output/bench');
const outDir = path.join(ROOT, 'docs/bench');
const read = (name) => existsSync(path.join(dir, name)) ? JSON.parse(readFileSync(path.join(dir, name), 'utf8')) : null;
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 760;

/** Horizontal bars: rows of { label, value, highlight }. */
function bars(title, unit, rows) {
  const rowH = 34, top = 44, labelW = 300, barW = W - labelW - 90;
  const max = Math.max(...rows.map(r => r.value)) || 1;
  const h = top + rows.length * rowH + 16;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="26" font-size="16" font-weight="bold">${esc(title)}</text>`;
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, r.value / max * barW);
    svg += `<text x="${labelW - 8}" y="${y + 20}" font-size="13" text-anchor="end">${esc(r.label)}</text>
<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${r.highlight ? '#1f6feb' : '#8b949e'}"/>
<text x="${labelW + w + 6}" y="${y + 20}" font-size="13">${esc(r.value.toFixed(1))} ${esc(unit)}</text>`;
  });
  return svg + '</svg>';
}

/** A line of [x, y] points with axes, broken where the samples skip more than 2 s; `goal`
 *  draws a dashed horizontal line. */
function line(title, xLabel, yLabel, points, marks = [], goal = null) {
  const h = 320, left = 60, right = 20, top = 44, bottom = 46;
  const pw = W - left - right, ph = h - top - bottom;
  const xMax = Math.max(...points.map(p => p[0]), 1);
  const yMax = Math.max(...points.map(p => p[1]), goal?.at ?? 1, 1) * 1.1;
  const x = (v) => left + v / xMax * pw, y = (v) => top + ph - v / yMax * ph;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="26" font-size="16" font-weight="bold">${esc(title)}</text>
<line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}" stroke="#333"/>
<line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}" stroke="#333"/>
<text x="${left + pw / 2}" y="${h - 8}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>
<text x="14" y="${top + ph / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${top + ph / 2})">${esc(yLabel)}</text>`;
  for (let i = 0; i <= 4; i++) {
    const v = yMax * i / 4;
    svg += `<text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(0)}</text>
<line x1="${left}" y1="${y(v)}" x2="${left + pw}" y2="${y(v)}" stroke="#eee"/>`;
    const t = xMax * i / 4;
    svg += `<text x="${x(t)}" y="${top + ph + 16}" font-size="11" text-anchor="middle">${t.toFixed(0)}</text>`;
  }
  for (const m of marks) {
    svg += `<line x1="${x(m.at)}" y1="${top}" x2="${x(m.at)}" y2="${top + ph}" stroke="#d29922" stroke-dasharray="4 3"/>
<text x="${x(m.at) + 4}" y="${top + 12}" font-size="11" fill="#9a6700">${esc(m.label)}</text>`;
  }
  if (goal) {
    svg += `<line x1="${left}" y1="${y(goal.at)}" x2="${left + pw}" y2="${y(goal.at)}" stroke="#cf222e" stroke-dasharray="6 4"/>
<text x="${left + pw / 2}" y="${y(goal.at) + 14}" font-size="11" fill="#cf222e" text-anchor="middle">${esc(goal.label)}</text>`;
  }
  const runs = [];
  for (const p of points) {
    const last = runs.at(-1)?.at(-1);
    if (!last || p[0] - last[0] > 2) runs.push([p]); else runs.at(-1).push(p);
  }
  for (const run of runs) {
    svg += `<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="${run.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`;
  }
  return svg + '</svg>';
}

const charts = {};
const up = read('upload.json');
if (up) {
  charts['upload'] = bars(`Upload throughput, ${up.files} × ${up.fileMiB} MiB, 4 in flight (higher is better)`, 'MiB/s', [
    { label: 'finsync (whole sync)', value: up.finsyncMiBps, highlight: true },
    { label: 'bare fetch PUT pool', value: up.poolMiBps },
    ...(up.xhrPoolMiBps === undefined ? [] : [{ label: 'bare XMLHttpRequest PUT pool', value: up.xhrPoolMiBps }]),
    { label: '@azure/storage-blob uploadData', value: up.sdkMiBps },
    ...(up.curlMiBps === undefined ? [] : [{ label: 'curl --parallel-max 4', value: up.curlMiBps }]),
  ]);
  if (up.memorySamples?.length) {
    // Only finsync's runs are sampled; the baselines in between leave gaps in the line.
    const marks = Array.isArray(up.memoryMarks) ? up.memoryMarks.map(m => ({ at: m.at, label: m.label.replace(/, round (\d+)$/, ' #$1') })) : [];
    charts['memory'] = line(`Renderer memory while finsync syncs ${(up.finsyncGiB ?? (up.files * up.fileMiB + up.bigMiB) / 1024).toFixed(1)} GiB (over the baseline)`,
      'seconds since the first upload (the other clients\' runs in between left out)', 'MiB', up.memorySamples,
      marks, { at: 64, label: 'goal: ≤ 64 MiB' });
  }
}
const scan = read('scan.json');
if (scan) {
  charts['scan'] = bars(`Discovery scan, ${scan.files} JPEGs (higher is better)`, 'files/s', [
    { label: 'finsync scan: metadata + IndexedDB', value: scan.finsyncFilesPerSec, highlight: true },
    ...(scan.finsyncFingerprintedFilesPerSec === undefined ? [] : [
      { label: '… until every fingerprint is stored', value: scan.finsyncFingerprintedFilesPerSec }]),
    { label: 'exifr parse', value: scan.exifrFilesPerSec },
    { label: 'I/O floor: 64 KiB slice read', value: scan.floorFilesPerSec },
  ]);
}
const resume = read('resume.json');
if (resume) {
  charts['resume'] = bars(`Resume overhead, ${resume.files} × ${resume.fileMiB} MiB (lower is better)`, 's', [
    { label: 'uninterrupted sync', value: resume.uninterrupted.seconds },
    { label: 'killed at ~50 %, relaunched, resumed', value: resume.interrupted.seconds, highlight: true },
    { label: '  of which: relaunch to first PUT', value: resume.interrupted.relaunchToFirstPutSeconds },
  ]);
}

// `node report.mjs scan upload` (or BENCH_ONLY=upload): rewrite just those sections.
const only = [...process.argv.slice(2), ...(process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : [])];
if (only.length) for (const name of Object.keys(charts)) if (!only.includes(name)) delete charts[name];
mkdirSync(outDir, { recursive: true });
for (const name of ['upload', 'memory', 'scan', 'resume']) {
  if (!charts[name] && (!only.length || only.includes(name))) rmSync(path.join(outDir, `${name}.png`), { force: true });
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: W + 40, height: 600 }, deviceScaleFactor: 1 });
  for (const [name, svg] of Object.entries(charts)) {
    await page.setContent(`<!doctype html><html><body style="margin:0;font-family:sans-serif">${svg}</body></html>`);
    await page.locator('svg').screenshot({ path: path.join(outDir, `${name}.png`) });
    console.log(`docs/bench/${name}.png`);
  }
} finally {
  await browser.close();
}
