// Draws finsync's icon (a dorsal fin above a wave) from one set of shapes into
// public/icon.svg and public/icon-192.png / icon-512.png, the sizes browsers want to offer
// installation. The PNGs are checked in; run `node scripts/icons.mjs` after changing a shape.
// The artwork is full-bleed with the fin inside the central 80 % circle, so one file serves
// as a plain and as a maskable icon.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PUBLIC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');
const SKY = [0x0b, 0x5f, 0x7a];
const SEA = [0x06, 0x3f, 0x52];
const FIN = [0xf4, 0xf8, 0xfa];

// Shapes in the unit square, y down.
const quad = (a, c, b, n = 24) => Array.from({ length: n + 1 }, (_, i) => {
  const t = i / n;
  return [(1 - t) ** 2 * a[0] + 2 * (1 - t) * t * c[0] + t * t * b[0], (1 - t) ** 2 * a[1] + 2 * (1 - t) * t * c[1] + t * t * b[1]];
});
const fin = [...quad([0.27, 0.7], [0.42, 0.42], [0.6, 0.2]), ...quad([0.6, 0.2], [0.54, 0.47], [0.74, 0.7]).slice(1)];
const waveY = (x) => 0.66 + 0.03 * Math.sin(x * Math.PI * 4);

function inside(poly, x, y) {
  let odd = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) odd = !odd;
  }
  return odd;
}

function colour(x, y) {
  if (y < 0.7 && inside(fin, x, y) && y < waveY(x) + 0.04) return FIN;
  return y > waveY(x) ? SEA : SKY;
}

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function png(size) {
  const ss = 4; // 4×4 samples per pixel
  const raw = Buffer.alloc(size * (size * 3 + 1));
  for (let py = 0; py < size; py++) {
    const row = py * (size * 3 + 1);
    for (let px = 0; px < size; px++) {
      const sum = [0, 0, 0];
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const c = colour((px + (sx + 0.5) / ss) / size, (py + (sy + 0.5) / ss) / size);
          sum[0] += c[0]; sum[1] += c[1]; sum[2] += c[2];
        }
      }
      for (let k = 0; k < 3; k++) raw[row + 1 + px * 3 + k] = Math.round(sum[k] / (ss * ss));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function svg() {
  const n = (v) => +(v * 512).toFixed(1);
  const hex = (c) => '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
  const wave = Array.from({ length: 33 }, (_, i) => `${n(i / 32)},${n(waveY(i / 32))}`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">
  <rect width="512" height="512" fill="${hex(SKY)}"/>
  <path fill="${hex(FIN)}" d="M${fin.map(([x, y]) => `${n(x)},${n(y)}`).join(' L')} Z"/>
  <path fill="${hex(SEA)}" d="M${wave.join(' L')} L512,512 L0,512 Z"/>
</svg>
`;
}

writeFileSync(path.join(PUBLIC, 'icon.svg'), svg());
for (const size of [192, 512]) writeFileSync(path.join(PUBLIC, `icon-${size}.png`), png(size));
console.log('wrote public/icon.svg, icon-192.png, icon-512.png');
