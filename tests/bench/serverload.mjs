// Server load: the Rust load generator (finsync-load) against the release server and
// Azurite, on loopback, bounded in clients, images and time. Prints its JSON.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startStack, ROOT } from '../e2e/support/env.mjs';

const bin = process.env.FINSYNC_LOAD_BIN || path.join(ROOT, 'target/release/finsync-load');
const stack = await startStack();
try {
  const out = execFileSync(bin, ['--server', stack.appUrl, '--key', stack.apiKey,
    '--clients', process.env.LOAD_CLIENTS || '32', '--images', process.env.LOAD_IMAGES || '25', '--max-seconds', '300'],
  { encoding: 'utf8', maxBuffer: 1 << 20 });
  process.stdout.write(out);
} finally {
  await stack.stop();
}
