// The upload components in Debian's Chromium, driven by playwright-core, against the real server:
// the example page, files chosen through the selector, dropped and pasted, a file refused by the
// bucket's rules before any byte is sent, and a cancelled upload whose bytes leave the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, userToken } from './harness.mjs';
import { startTrove } from '../node/trove.mjs';


/** @type {import('../node/trove.mjs').Trove} */
let trove;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {string} */
let token;

before(async () => {
  trove = await startTrove();
  token = userToken(trove.dataDir, 'alice');
  const res = await api('POST', '/v1/buckets', { id: 'images', allowedMimeTypes: ['image/png'], maxUploadFileSize: 1000 }, true);
  assert.equal(res.status, 201);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await trove?.stop();
});

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {boolean} [admin]
 */
async function api(method, path, body, admin = false) {
  /** @type {Record<string, string>} */
  const headers = admin ? { 'x-trove-admin-key': trove.adminKey } : { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${trove.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** The example page, signed in, recording every trove-upload-* event. */
async function examplePage() {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    /** @type {any} */ (window).events = [];
    for (const type of ['start', 'progress', 'success', 'error', 'cancel', 'reject']) {
      document.addEventListener(`trove-upload-${type}`, (e) => {
        const detail = /** @type {CustomEvent} */ (e).detail;
        /** @type {any} */ (window).events.push({
          type,
          name: detail.file?.name ?? detail.upload?.name,
          file: type === 'success' ? detail.file : undefined,
          reason: detail.reason,
          loaded: detail.loaded,
        });
      });
    }
  });
  const res = await page.goto(`${trove.url}/ui/example`);
  assert.equal(res?.status(), 200);
  await page.fill('#token', token);
  await page.dispatchEvent('#token', 'change');
  return page;
}

/**
 * @param {import('playwright-core').Page} page
 * @param {string} type
 * @param {number} count
 */
function waitForEvents(page, type, count) {
  return page.waitForFunction(
    ([t, n]) => /** @type {any} */ (window).events.filter((/** @type {any} */ e) => e.type === t).length >= Number(n),
    [type, String(count)],
  );
}

/** @param {string} id */
async function contentOf(id) {
  const res = await api('GET', `/v1/files/${id}/content`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer()).toString();
}

test('the module is served with caching headers and an ETag', async () => {
  const res = await fetch(`${trove.url}/ui/trove-components.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const etag = res.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(`${trove.url}/ui/trove-components.js`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
});

test('files chosen through the selector, dropped and pasted are uploaded', async () => {
  const page = await examplePage();
  await page.locator('#button input[type=file]').setInputFiles([
    { name: 'one.txt', mimeType: 'text/plain', buffer: Buffer.from('first file') },
    { name: 'two.txt', mimeType: 'text/plain', buffer: Buffer.from('second file') },
  ]);
  await waitForEvents(page, 'success', 2);
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped file'], 'dropped.txt', { type: 'text/plain' }));
    document.getElementById('dropzone')?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await waitForEvents(page, 'success', 3);
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['pasted file'], 'pasted.txt', { type: 'text/plain' }));
    document.getElementById('dropzone')?.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  await waitForEvents(page, 'success', 4);
  const events = await page.evaluate(() => /** @type {any} */ (window).events);
  const successes = events.filter((/** @type {any} */ e) => e.type === 'success');
  const byName = Object.fromEntries(successes.map((/** @type {any} */ e) => [e.file.name, e.file]));
  assert.deepEqual(Object.keys(byName).sort(), ['dropped.txt', 'one.txt', 'pasted.txt', 'two.txt']);
  for (const [name, expected] of [['one.txt', 'first file'], ['dropped.txt', 'dropped file'], ['pasted.txt', 'pasted file']]) {
    assert.equal(byName[name].status, 'ready');
    assert.equal(await contentOf(byName[name].id), expected);
  }
  assert.ok(events.some((/** @type {any} */ e) => e.type === 'start' && e.name === 'one.txt'));
  assert.ok(events.some((/** @type {any} */ e) => e.type === 'progress'));
  const rows = await page.locator('#list li[data-state=done]').count();
  assert.equal(rows, 4, 'the list shows every finished upload');
  // A finished upload links to its file, opened without the page's credentials (a signed URL).
  const link = page.locator('#list li[data-state=done] a[data-file]').first();
  const name = await page.locator('#list li[data-state=done] [part=name]').first().textContent();
  const [popup] = await Promise.all([page.waitForEvent('popup'), link.click()]);
  await popup.waitForURL(/\/v1\/signed\//);
  const expected = { 'one.txt': 'first file', 'two.txt': 'second file', 'dropped.txt': 'dropped file', 'pasted.txt': 'pasted file' };
  assert.equal((await popup.textContent('body'))?.trim(), expected[/** @type {keyof typeof expected} */ (name)]);
  await page.close();
});

test("a file the bucket refuses is rejected before any byte is sent", async () => {
  const page = await examplePage();
  /** @type {string[]} */
  const tusRequests = [];
  page.on('request', (r) => {
    if (r.url().includes('/v1/tus')) tusRequests.push(r.method());
  });
  await page.evaluate(() => document.getElementById('dropzone')?.setAttribute('bucket', 'images'));
  await page.locator('#dropzone input[type=file]').setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') },
  ]);
  await waitForEvents(page, 'reject', 1);
  const events = await page.evaluate(() => /** @type {any} */ (window).events);
  const reject = events.find((/** @type {any} */ e) => e.type === 'reject');
  assert.equal(reject.name, 'notes.txt');
  assert.ok(reject.reason);
  assert.deepEqual(tusRequests, [], 'nothing was sent');
  const listed = await (await api('GET', '/v1/files?bucketId=images')).json();
  assert.equal(listed.files.length, 0);
  await page.close();
});

test('a cancelled upload stops and its bytes leave the server', async () => {
  const page = await examplePage();
  await page.locator('#button input[type=file]').setInputFiles([
    { name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(40 * 1024 * 1024, 7) },
  ]);
  await page.waitForFunction(() =>
    /** @type {any} */ (window).events.some((/** @type {any} */ e) => e.type === 'progress' && e.loaded > 0),
  );
  await page.locator('#list button[data-act=cancel]').click();
  await waitForEvents(page, 'cancel', 1);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const pending = (await (await api('GET', '/v1/uploads')).json()).uploads;
    const bytes = readdirSync(join(trove.dataDir, 'blobs', '.uploads')).length;
    if (pending.length === 0 && bytes === 0) break;
    assert.ok(Date.now() < deadline, 'the upload was not removed from the server');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const events = await page.evaluate(() => /** @type {any} */ (window).events);
  assert.ok(!events.some((/** @type {any} */ e) => e.type === 'success'));
  await page.close();
});
