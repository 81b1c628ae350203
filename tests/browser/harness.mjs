// What every browser test file needs: Debian's Chromium with the flags DEVELOPERS.md gives, and a
// user's token from `trove token` for a running server.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const root = join(import.meta.dirname, '..', '..');
export const TROVE_BIN = process.env.TROVE_BIN ?? join(root, 'target', 'debug', 'trove');

/** Headless Chromium from Debian, kept off the network it cannot reach. */
export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
}

/**
 * A token for `user` (in `tenant`, if given), signed with the development secret of the server in
 * `dataDir`.
 * @param {string} dataDir
 * @param {string} user
 * @param {string} [tenant]
 */
export function userToken(dataDir, user, tenant) {
  return execFileSync(TROVE_BIN, ['token', '--user', user, ...(tenant ? ['--tenant', tenant] : [])], {
    env: { PATH: process.env.PATH ?? '', TROVE_DATA_DIR: dataDir },
  }).toString().trim();
}
