// Starts the `trove` binary (TROVE_BIN, or the workspace's debug build) on a free port with a fresh
// data directory, for client tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * @returns {Promise<{url: string, adminKey: string, dataDir: string, stop: () => void}>}
 */
export async function startTrove() {
  const bin = process.env.TROVE_BIN ?? join(here, '..', '..', 'target', 'debug', 'trove');
  const dataDir = mkdtempSync(join(tmpdir(), 'trove-node-'));
  const child = spawn(bin, ['serve'], {
    env: { PATH: process.env.PATH ?? '', TROVE_ADDR: '127.0.0.1:0', TROVE_DATA_DIR: dataDir, TROVE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value ?? '';
  const second = (await lines.next()).value ?? '';
  const url = first.replace('Trove listening on ', '');
  const adminKey = second.replace('Admin key: ', '').split(' ')[0];
  if (!url.startsWith('http') || adminKey.length < 16) {
    child.kill();
    throw new Error(`trove did not start: ${first} / ${second}`);
  }
  return {
    url,
    adminKey,
    dataDir,
    stop() {
      child.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
