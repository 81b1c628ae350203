// The components when things go wrong: a server killed mid-upload, a page reloaded mid-upload, a
// token that expired, folders; and the example page's accessibility and looks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, userToken } from './harness.mjs';
import { freePort, startTrove } from '../node/trove.mjs';

const MIB = 1024 * 1024;
const root = join(import.meta.dirname, '..', '..');

/** @type {import('../node/trove.mjs').Trove} */
let trove;
/** @type {string} */
let addr;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {string} */
let token;
const work = mkdtempSync(join(tmpdir(), 'trove-browser-'));

before(async () => {
  addr = `127.0.0.1:${await freePort()}`;
  trove = await startTrove({ addr });
  token = userToken(trove.dataDir, 'alice');
  const res = await fetch(`${trove.url}/v1/buckets`, {
    method: 'POST',
    headers: { 'x-trove-admin-key': trove.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'large', maxUploadFileSize: 1024 * MIB }),
  });
  assert.equal(res.status, 201);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await trove?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** @param {string} path */
async function get(path) {
  const res = await fetch(`${trove.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, path);
  return res;
}

/** @param {Buffer} data */
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The example page, signed in with `token` (or a `getToken` callback), recording events. */
async function examplePage(options = { token: '', fresh: '' }) {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    /** @type {any} */ (window).events = [];
    for (const type of ['start', 'progress', 'success', 'error', 'cancel', 'reject']) {
      document.addEventListener(`trove-upload-${type}`, (e) => {
        const detail = /** @type {CustomEvent} */ (e).detail;
        /** @type {any} */ (window).events.push({ type, file: type === 'success' ? detail.file : undefined, loaded: detail.loaded, error: detail.error });
      });
    }
  });
  await page.goto(`${trove.url}/ui/example`);
  await page.waitForFunction(() => customElements.get('trove-upload') !== undefined);
  await page.evaluate(({ first, fresh }) => {
    /** @type {any} */ (window).tokenRequests = 0;
    for (const id of ['button', 'dropzone', 'list']) {
      const el = /** @type {any} */ (document.getElementById(id));
      if (fresh) {
        el.getToken = async () => {
          /** @type {any} */ (window).tokenRequests++;
          return fresh;
        };
      }
      el.token = first;
    }
  }, { first: options.token || token, fresh: options.fresh });
  return page;
}

/** @param {import('playwright-core').Page} page */
function success(page) {
  return page
    .waitForFunction(() => /** @type {any} */ (window).events.find((/** @type {any} */ e) => e.type === 'success')?.file, undefined, { timeout: 120_000 })
    .then((h) => h.jsonValue());
}

test('an upload finishes on its own after the server was killed and started again', async () => {
  const data = randomBytes(24 * MIB);
  const page = await examplePage();
  await page.evaluate(() => document.getElementById('button')?.setAttribute('bucket', 'large'));
  await page.locator('#button input[type=file]').setInputFiles([{ name: 'survivor.bin', mimeType: 'application/octet-stream', buffer: data }]);
  await page.waitForFunction(() => /** @type {any} */ (window).events.some((/** @type {any} */ e) => e.type === 'progress' && e.loaded >= 8 * 1024 * 1024));
  await trove.kill();
  trove = await startTrove({ addr, dataDir: trove.dataDir });
  const file = await success(page);
  const stored = Buffer.from(await (await get(`/v1/files/${file.id}/content`)).arrayBuffer());
  assert.equal(sha256(stored), sha256(data));
  await page.close();
});

test('an upload waits while the browser is offline and goes on when it is back', async () => {
  const data = randomBytes(24 * MIB);
  const page = await examplePage();
  await page.evaluate(() => document.getElementById('button')?.setAttribute('bucket', 'large'));
  // Hold the second chunk until the browser has gone offline, so the cut is mid-upload.
  let patches = 0;
  /** @type {(v?: unknown) => void} */
  let release = () => {};
  const held = new Promise((resolve) => (release = resolve));
  await page.route('**/v1/tus/**', async (route) => {
    if (route.request().method() === 'PATCH' && ++patches === 2) await held;
    return route.continue().catch(() => undefined);
  });
  await page.locator('#button input[type=file]').setInputFiles([{ name: 'offline.bin', mimeType: 'application/octet-stream', buffer: data }]);
  await page.waitForFunction(() => /** @type {any} */ (window).events.some((/** @type {any} */ e) => e.type === 'progress' && e.loaded >= 8 * 1024 * 1024));
  await page.context().setOffline(true);
  release();
  await page.locator('#list li[data-state=stalled], #list li[data-state=retrying]').first().waitFor();
  await page.context().setOffline(false);
  const file = await success(page);
  const stored = Buffer.from(await (await get(`/v1/files/${file.id}/content`)).arrayBuffer());
  assert.equal(sha256(stored), sha256(data));
  await page.close();
});

test('after a reload, choosing the same file again continues from the server\'s offset', async () => {
  const data = randomBytes(64 * MIB);
  const path = join(work, 'reloaded.bin');
  writeFileSync(path, data);
  const page = await examplePage();
  await page.evaluate(() => document.getElementById('button')?.setAttribute('bucket', 'large'));
  // Let two 8 MiB chunks through, then hold the upload where it is, as a slow network would.
  let patches = 0;
  await page.route('**/v1/tus/**', (route) => {
    if (route.request().method() === 'PATCH' && ++patches > 2) return; // never answered
    return route.continue();
  });
  await page.locator('#button input[type=file]').setInputFiles(path);
  const pending = async () => (await (await get('/v1/uploads?protocol=tus')).json()).uploads;
  for (const deadline = Date.now() + 60_000; ; ) {
    const [u] = await pending();
    if (u && u.offset >= 16 * MIB) break;
    assert.ok(Date.now() < deadline, 'two chunks never arrived');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await page.reload();
  await page.unroute('**/v1/tus/**');
  await page.evaluate((t) => {
    for (const id of ['button', 'dropzone', 'list']) /** @type {any} */ (document.getElementById(id)).token = t;
  }, token);
  await page.locator('#list li[data-state=interrupted]').waitFor();
  /** @type {number[]} */
  const offsets = [];
  page.on('request', (r) => {
    if (r.method() === 'PATCH') offsets.push(Number(r.headers()['upload-offset']));
  });
  await page.evaluate(() => document.getElementById('button')?.setAttribute('bucket', 'large'));
  await page.locator('#button input[type=file]').setInputFiles(path);
  const file = await success(page);
  assert.ok(offsets[0] >= 16 * MIB, `continued from ${offsets[0]}, not from zero`);
  const stored = Buffer.from(await (await get(`/v1/files/${file.id}/content`)).arrayBuffer());
  assert.equal(sha256(stored), sha256(data));
  await page.close();
});

/**
 * An HS256 token signed with the server's development secret.
 * @param {Record<string, unknown>} claims
 */
function jwt(claims) {
  const secret = readFileSync(join(trove.dataDir, 'jwt-secret'), 'utf8').trim();
  const enc = (/** @type {unknown} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

test('an expired token is replaced through getToken() and the upload goes on', async () => {
  const now = Math.floor(Date.now() / 1000);
  const valid = jwt({ sub: 'alice', iat: now, exp: now + 600 });
  const expired = jwt({ sub: 'alice', iat: now - 7200, exp: now - 3600 });
  const check = async (/** @type {string} */ t) =>
    (await fetch(`${trove.url}/v1/uploads`, { headers: { authorization: `Bearer ${t}` } })).status;
  assert.equal(await check(valid), 200, 'the signing is right');
  assert.equal(await check(expired), 401, 'and this one is expired');
  const page = await examplePage({ token: expired, fresh: valid });
  await page.locator('#button input[type=file]').setInputFiles([{ name: 'renewed.txt', mimeType: 'text/plain', buffer: Buffer.from('still here') }]);
  const file = await success(page);
  assert.equal(await (await get(`/v1/files/${file.id}/content`)).text(), 'still here');
  assert.ok((await page.evaluate(() => /** @type {any} */ (window).tokenRequests)) >= 1);
  await page.close();
});

test('a folder keeps every file with its relative path', async () => {
  const folder = join(work, 'album');
  mkdirSync(join(folder, 'inner'), { recursive: true });
  writeFileSync(join(folder, 'a.txt'), 'A');
  writeFileSync(join(folder, 'inner', 'b.txt'), 'B');
  const page = await examplePage();
  await page.evaluate(() => document.getElementById('dropzone')?.setAttribute('directory', ''));
  await page.locator('#dropzone input[type=file]').setInputFiles(folder);
  await page.waitForFunction(() => /** @type {any} */ (window).events.filter((/** @type {any} */ e) => e.type === 'success').length === 2);
  const files = await page.evaluate(() => /** @type {any} */ (window).events.filter((/** @type {any} */ e) => e.type === 'success').map((/** @type {any} */ e) => e.file));
  const paths = files.map((/** @type {any} */ f) => f.metadata.relativePath).sort();
  assert.deepEqual(paths, ['album/a.txt', 'album/inner/b.txt']);
  await page.close();
});

test('the example page has no accessibility violations, in light and dark', async () => {
  const require = createRequire(import.meta.url);
  const page = await examplePage();
  await page.locator('#button input[type=file]').setInputFiles([{ name: 'shown.txt', mimeType: 'text/plain', buffer: Buffer.from('for the picture') }]);
  await success(page);
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  for (const scheme of /** @type {const} */ (['light', 'dark'])) {
    // Reduced motion: the scan and the picture see the settled colours, not a transition.
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    const result = await page.evaluate(() => /** @type {any} */ (window).axe.run(document));
    assert.deepEqual(
      result.violations.map((/** @type {any} */ v) => `${v.id}: ${v.help} (${v.nodes.map((/** @type {any} */ n) => n.target.join(" ")).join(", ")})`),
      [],
      scheme,
    );
    await page.screenshot({ path: join(root, 'docs', `components-${scheme}.png`), fullPage: true });
  }
  await page.close();
});
