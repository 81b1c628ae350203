// Starts the `trove` binary (TROVE_BIN, or the workspace's debug build) for client tests: on a free
// port with a fresh data directory, or again on the same address and data to test restarts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { once } from 'node:events';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * A free TCP port on the loopback interface.
 * @returns {Promise<number>}
 */
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * @typedef {{url: string, adminKey: string, dataDir: string, kill: () => Promise<void>, stop: () => Promise<void>}} Trove
 */

/**
 * @param {{dataDir?: string, addr?: string, env?: Record<string, string>}} [options]
 * @returns {Promise<Trove>}
 */
export async function startTrove(options = {}) {
  const bin = process.env.TROVE_BIN ?? join(here, '..', '..', 'target', 'debug', 'trove');
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'trove-node-'));
  const child = spawn(bin, ['serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      TROVE_ADDR: options.addr ?? '127.0.0.1:0',
      TROVE_DATA_DIR: dataDir,
      TROVE_LOG: 'warn',
      ...(options.env ?? {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value ?? '';
  const second = (await lines.next()).value ?? '';
  const url = first.replace('Trove listening on ', '');
  const said = second.replace('Admin key: ', '');
  const adminKey = said.startsWith('read from ')
    ? (await import('node:fs')).readFileSync(said.replace('read from ', ''), 'utf8').trim()
    : said.split(' ')[0];
  if (!url.startsWith('http') || adminKey.length < 16) {
    child.kill();
    throw new Error(`trove did not start: ${first} / ${second}`);
  }
  const exited = once(child, 'exit');
  return {
    url,
    adminKey,
    dataDir,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill();
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
