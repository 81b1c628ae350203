// The console in Debian's Chromium, driven by playwright-core, against the real server: signing in
// with the admin key, buckets and categories made through its forms, uploads through the
// components (selector and drop), the files table's filters, order and paging, a file's panel
// (metadata, associations, public and signed URLs, replacing the content), bulk delete, another
// tenant's view, accessibility scans and the narrow layout. Each step checks what the server holds
// afterwards, not only what the page shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { launchChromium, userToken } from './harness.mjs';
import { startTrove } from '../node/trove.mjs';
import { png } from '../node/png.mjs';

const root = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);

/** @type {import('../node/trove.mjs').Trove} */
let trove;
/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').BrowserContext} */
let context;
/** @type {import('playwright-core').Page} */
let page;

before(async () => {
  trove = await startTrove();
  browser = await launchChromium();
  // The axe script is injected inline, which the console's Content-Security-Policy forbids.
  context = await browser.newContext({ bypassCSP: true });
  page = await context.newPage();
});

after(async () => {
  await browser?.close();
  await trove?.stop();
});

/**
 * The server as the admin key sees it.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
async function admin(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { 'x-trove-admin-key': trove.adminKey };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${trove.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Scans the page with axe-core in light and dark, and writes a screenshot of each to docs/. @param {string} name */
async function scan(name) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  for (const scheme of /** @type {const} */ (['light', 'dark'])) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
    const result = await page.evaluate(() => /** @type {any} */ (window).axe.run(document));
    assert.deepEqual(
      result.violations.map((/** @type {any} */ v) => `${v.id}: ${v.help} (${v.nodes.map((/** @type {any} */ n) => n.target.join(' ')).join(', ')})`),
      [],
      `${name}, ${scheme}`,
    );
    await page.screenshot({ path: join(root, 'docs', 'console', `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The rows of the files table, as the names shown. */
async function fileNames() {
  return page.locator('table.files tbody th a').allTextContents();
}

/** Waits until the page's main region is no longer loading. */
async function settled() {
  await page.waitForFunction(() => !document.getElementById('main')?.hasAttribute('aria-busy'));
}

/**
 * Waits for the notice an action shows once the server has answered, then for the page it reloads.
 * @param {string} text
 */
async function saved(text) {
  await page.locator('#notices .notice', { hasText: text }).last().waitFor();
  await settled();
}

test('a browser asking for / lands on the sign-in page, and the admin key signs in', async () => {
  const res = await page.goto(`${trove.url}/`);
  assert.equal(res?.status(), 200);
  assert.equal(new URL(page.url()).pathname, '/console');
  await page.locator('#signin-secret').waitFor();
  await scan('sign-in');
  await page.selectOption('#signin-kind', 'admin');
  await page.fill('#signin-secret', 'not the key');
  await page.click('form.signin button[type=submit]');
  // The server's refusal is shown with its code, and nothing is kept.
  await page.locator('.error code', { hasText: 'unauthorized' }).waitFor();
  await page.fill('#signin-secret', trove.adminKey);
  await page.click('form.signin button[type=submit]');
  await page.locator('#readiness', { hasText: 'ready' }).waitFor();
  await scan('overview');
});

test('a bucket and a category are created through their forms', async () => {
  await page.click('#nav a:text("Buckets")');
  await page.locator('form[aria-label="New bucket"]').waitFor();
  const form = page.locator('form[aria-label="New bucket"]');
  await form.getByLabel('Id', { exact: true }).fill('photos');
  await form.getByLabel('Maximum size').fill('5 MB');
  await form.getByLabel('Allowed MIME types').fill('image/png, text/plain');
  await form.getByLabel('Download expiration (seconds)').fill('86400');
  await form.locator('button[type=submit]').click();
  await page.locator('table.grid th a', { hasText: 'photos' }).waitFor();
  const bucket = await admin('GET', '/v1/buckets/photos');
  assert.equal(bucket.status, 200);
  assert.equal(bucket.body.maxUploadFileSize, 5_000_000);
  assert.deepEqual(bucket.body.allowedMimeTypes, ['image/png', 'text/plain']);
  assert.equal(bucket.body.downloadExpiration, 86400);
  // A size that is not one is refused in the page, before anything is sent.
  await page.goto(`${trove.url}/console/buckets?edit=photos`);
  const edit = page.locator('form[aria-label="Edit bucket photos"]');
  await edit.getByLabel('Maximum size').fill('lots');
  await edit.locator('button[type=submit]').click();
  await edit.locator('.error').waitFor();
  assert.equal((await admin('GET', '/v1/buckets/photos')).body.maxUploadFileSize, 5_000_000);
  await scan('buckets');

  await page.click('#nav a:text("Categories")');
  const cat = page.locator('form[aria-label="New category"]');
  await cat.waitFor();
  await cat.getByLabel('Key').fill('avatars');
  await cat.getByLabel('Name', { exact: true }).fill('Avatars');
  await cat.getByLabel('Bucket').selectOption('photos');
  await cat.getByLabel('Default access').selectOption('tenant');
  await cat.locator('button[type=submit]').click();
  await page.locator('table.grid th a', { hasText: 'avatars' }).waitFor();
  const category = await admin('GET', '/v1/categories/avatars');
  assert.equal(category.body.bucketId, 'photos');
  assert.equal(category.body.defaultAccess, 'tenant');
  await scan('categories');
});

test('files uploaded through the selector and dropped on the table land in the filtered bucket and category', async () => {
  await page.goto(`${trove.url}/console/files?bucketId=photos&category=avatars`);
  await settled();
  await page.locator('trove-upload input[type=file]').setInputFiles([
    { name: 'red.png', mimeType: 'image/png', buffer: png(40, 30, [220, 20, 20]) },
  ]);
  await page.locator('table.files tbody th a', { hasText: 'red.png' }).waitFor();
  // A drop anywhere on the table.
  const transfer = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['plain words for a text file'], 'notes.txt', { type: 'text/plain' }));
    return dt;
  });
  await page.dispatchEvent('.drop-target', 'drop', { dataTransfer: transfer });
  await page.locator('table.files tbody th a', { hasText: 'notes.txt' }).waitFor();
  const list = await admin('GET', '/v1/files?bucketId=photos&category=avatars');
  assert.deepEqual(list.body.files.map((/** @type {any} */ f) => f.name).sort(), ['notes.txt', 'red.png']);
  // The image has a thumbnail from the image previews; the text file an icon.
  await page.locator('table.files img.thumb').waitFor();
  assert.equal(await page.locator('table.files .icon').count(), 1);
  await scan('files');
  // The overview counts them, with their bytes.
  const bytes = list.body.files.reduce((/** @type {number} */ n, /** @type {any} */ f) => n + f.size, 0);
  await page.click('#nav a:text("Overview")');
  const row = page.locator('table.usage tbody tr', { has: page.locator('th a', { hasText: /^photos$/ }) });
  await row.waitFor();
  assert.deepEqual(await row.locator('td').allTextContents(), ['2', `${bytes} B`]);
});

test('the table filters, sorts and pages, and the address keeps it all', async () => {
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${trove.url}/v1/files?bucketId=photos&name=extra-${i}.txt`, {
      method: 'POST',
      headers: { 'x-trove-admin-key': trove.adminKey, 'content-type': 'text/plain' },
      body: `extra ${i}`,
    });
    assert.equal(res.status, 201, await res.text());
  }
  await page.goto(`${trove.url}/console/files?bucketId=photos`);
  await settled();
  assert.equal((await fileNames()).length, 5);
  // Name search through the filter form.
  const filters = page.locator('details.card');
  if ((await filters.getAttribute('open')) === null) await filters.locator('summary').click();
  await page.fill('#filter-q', 'extra');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/q=extra/);
  await settled();
  assert.deepEqual((await fileNames()).sort(), ['extra-0.txt', 'extra-1.txt', 'extra-2.txt']);
  // Sorting by name, ascending then descending.
  await page.click('table.files thead a:text("Name")');
  await page.waitForURL(/orderBy=name/);
  await settled();
  const first = await fileNames();
  await page.click('table.files thead a:text("Name")');
  await page.waitForURL(/order=asc/);
  await settled();
  const second = await fileNames();
  assert.deepEqual([first, second].map((names) => names.join()).sort(), [
    'extra-0.txt,extra-1.txt,extra-2.txt', 'extra-2.txt,extra-1.txt,extra-0.txt',
  ].sort());
  assert.deepEqual(second, [...first].reverse());
  // Keyset pages of 25 would hold everything: the count says so, and there is no next page.
  assert.match(await page.locator('table.files caption').innerText(), /^3 files match/);
  assert.equal(await page.locator('.pager a:text("Next page")').count(), 0);
  // Back returns to the view before, filters and all.
  await page.goBack();
  await settled();
  assert.match(page.url(), /orderBy=name/);
  await page.goto(`${trove.url}/console/files?bucketId=photos&limit=25`);
  await settled();
});

test('a file panel edits metadata and associations, and its public and signed URLs work', async () => {
  await page.goto(`${trove.url}/console/files?bucketId=photos&q=notes`);
  await settled();
  await page.click('table.files tbody th a:text("notes.txt")');
  await page.locator('h1', { hasText: 'notes.txt' }).waitFor();
  const id = page.url().split('/').pop() ?? '';
  await page.locator('pre.preview', { hasText: 'plain words' }).waitFor();
  await scan('file');

  // Metadata is validated before it is sent.
  const meta = page.locator('form[aria-label="Metadata"]');
  await meta.locator('textarea').fill('{"project": ');
  await meta.locator('button[type=submit]').click();
  await meta.locator('.error code', { hasText: 'invalid_json' }).waitFor();
  await meta.locator('textarea').fill('{"project": "apollo", "pages": 3}');
  await meta.locator('button[type=submit]').click();
  await saved('Metadata saved');
  assert.match(await meta.locator('textarea').inputValue(), /"project": "apollo"/);
  assert.deepEqual((await admin('GET', `/v1/files/${id}`)).body.metadata, { project: 'apollo', pages: 3 });

  const assoc = page.locator('form[aria-label="Associations"]');
  await assoc.getByLabel('Entity name').fill('deal');
  await assoc.getByLabel('Entity reference').fill('42');
  await assoc.locator('button[type=submit]').click();
  await saved('Association added');
  await page.locator('.associations code', { hasText: 'deal:42' }).waitFor();
  const withAssoc = (await admin('GET', `/v1/files/${id}`)).body;
  assert.deepEqual(withAssoc.associations.map((/** @type {any} */ a) => `${a.entityName}:${a.entityReference}`), ['deal:42']);

  // Public: the link works without credentials; private again: the file is unknown to strangers.
  await page.click('button:text("Make public")');
  const link = page.locator('#public-url');
  await link.waitFor();
  const publicUrl = await link.getAttribute('href') ?? '';
  assert.equal((await fetch(publicUrl)).status, 200);
  await page.click('button:text("Make private")');
  await page.locator('button:text("Make public")').waitFor();
  assert.equal((await fetch(publicUrl)).status, 404);

  // A signed URL for a day, fetched without credentials.
  const signed = page.locator('form[aria-label="Signed URL"]');
  await signed.getByLabel('Expires in').selectOption('86400');
  await signed.locator('button[type=submit]').click();
  const signedUrl = await page.locator('#signed-url').getAttribute('href') ?? '';
  const got = await fetch(signedUrl);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), 'plain words for a text file');
  // A week is longer than the bucket allows, so it is not offered.
  assert.equal(await signed.locator('option[value="604800"]').count(), 0);
  // A custom expiry: its field, label and input, is there only once "custom" is chosen.
  assert.equal(await signed.getByText('Custom (seconds)').isVisible(), false);
  await signed.getByLabel('Expires in').selectOption('custom');
  await signed.getByLabel('Custom (seconds)').fill('120');
  await signed.locator('button[type=submit]').click();
  await page.waitForFunction((old) => document.querySelector('#signed-url')?.getAttribute('href') !== old, signedUrl);
  const customUrl = await page.locator('#signed-url').getAttribute('href') ?? '';
  assert.equal((await fetch(customUrl)).status, 200);

  // Replacing the content.
  const before = (await admin('GET', `/v1/files/${id}`)).body;
  await page.locator('form[aria-label="Replace the content"] input[type=file]').setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('new words, replacing the old ones') },
  ]);
  await page.click('form[aria-label="Replace the content"] button[type=submit]');
  await page.locator('pre.preview', { hasText: 'new words' }).waitFor();
  const after = (await admin('GET', `/v1/files/${id}`)).body;
  assert.notEqual(after.etag, before.etag);
  assert.equal(after.size, 'new words, replacing the old ones'.length);
});

/**
 * Starts a tus upload of `name` as `token`, with the fingerprint the components give such a file,
 * and sends its first `sent` bytes; the address of the upload.
 * @param {string} token @param {string} name @param {string} text @param {number} lastModified @param {number} sent
 */
async function interruptedUpload(token, name, text, lastModified, sent) {
  const b64 = (/** @type {string} */ v) => Buffer.from(v).toString('base64');
  const fingerprint = ['trove-v1', name, Buffer.byteLength(text), 'text/plain', lastModified].join(':');
  const created = await fetch(`${trove.url}/v1/tus`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-length': String(Buffer.byteLength(text)),
      'upload-metadata': `filename ${b64(name)},fingerprint ${b64(fingerprint)},filetype ${b64('text/plain')}`,
    },
  });
  assert.equal(created.status, 201, await created.text());
  const url = new URL(created.headers.get('location') ?? '', `${trove.url}/v1/tus/`).href;
  const patched = await fetch(url, {
    method: 'PATCH',
    headers: {
      authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0', 'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
    },
    body: Buffer.from(text).subarray(0, sent),
  });
  assert.equal(patched.status, 204, await patched.text());
  return url;
}

test("a user's unfinished uploads are listed, and can be resumed or cancelled", async () => {
  const token = userToken(trove.dataDir, 'ann', 'acme');
  const stamp = Date.UTC(2026, 0, 2);
  const resumed = 'the first half, then the second half';
  await interruptedUpload(token, 'half.txt', resumed, stamp, 15);
  const abandoned = await interruptedUpload(token, 'abandoned.txt', 'never finished, then cancelled', stamp, 5);
  const own = await browser.newContext();
  const p = await own.newPage();
  /** @type {string[]} */
  const created = [];
  p.on('request', (r) => {
    if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/tus') created.push(r.url());
  });
  await p.goto(`${trove.url}/console/files#token=${token}`);
  const list = p.locator('trove-active-uploads');
  await list.getByText('half.txt').waitFor();
  await list.getByText('abandoned.txt').waitFor();
  assert.equal(await list.getByText(/Interrupted/).count(), 2);

  // Choosing the same file again continues from the server's offset.
  const transfer = await p.evaluateHandle(({ text, lastModified }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'half.txt', { type: 'text/plain', lastModified }));
    return dt;
  }, { text: resumed, lastModified: stamp });
  await p.dispatchEvent('.drop-target', 'drop', { dataTransfer: transfer });
  await p.locator('table.files tbody th a', { hasText: 'half.txt' }).waitFor();
  const files = await (await fetch(`${trove.url}/v1/files?q=half`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal(files.files.length, 1);
  const content = await fetch(`${trove.url}/v1/files/${files.files[0].id}/content`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(await content.text(), resumed);
  assert.deepEqual(created, [], 'the upload continued; no new one was created');

  // Cancelling the other removes it from the server.
  const row = list.locator('li', { hasText: 'abandoned.txt' });
  const terminated = p.waitForResponse((r) => r.request().method() === 'DELETE' && r.url() === abandoned);
  await row.getByRole('button', { name: /Cancel/ }).click();
  assert.equal((await terminated).status(), 204);
  await row.waitFor({ state: 'detached' });
  const head = await fetch(abandoned, { method: 'HEAD', headers: { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' } });
  assert.equal(head.status, 404);
  const unfinished = await (await fetch(`${trove.url}/v1/uploads?protocol=tus`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.deepEqual(unfinished.uploads, []);
  await own.close();
});

test('a user of another tenant sees none of these files', async () => {
  const stranger = new URL(`${trove.url}/console/files`);
  const other = await browser.newContext();
  const p = await other.newPage();
  await p.goto(`${trove.url}/console#token=${userToken(trove.dataDir, 'mallory', 'elsewhere')}`);
  await p.locator('#readiness').waitFor();
  // The token left the address as soon as it was read.
  assert.equal(new URL(p.url()).hash, '');
  // Managing buckets is not offered to a user.
  await p.goto(`${trove.url}/console/buckets`);
  await p.locator('h1', { hasText: 'Buckets' }).waitFor();
  assert.equal(await p.locator('form[aria-label="New bucket"]').count(), 0);
  await p.goto(stranger.href);
  await p.locator('table.files caption').waitFor();
  assert.match(await p.locator('table.files caption').innerText(), /^0 files match/);
  await other.close();
});

test('bulk delete asks first, then deletes the selected files', async () => {
  await page.goto(`${trove.url}/console/files?bucketId=photos&q=extra`);
  await settled();
  await page.locator('table.files thead input[type=checkbox]').check();
  await page.click('button:text("Delete 3 selected")');
  // Cancelling deletes nothing.
  await page.click('dialog button:text("Cancel")');
  assert.equal((await admin('GET', '/v1/files?bucketId=photos&q=extra&count=true')).body.totalCount, 3);
  await page.locator('table.files thead input[type=checkbox]').check();
  await page.click('button:text("Delete 3 selected")');
  await page.click('dialog button:text("Delete")');
  await page.locator('table.files caption', { hasText: '0 files match' }).waitFor();
  assert.equal((await admin('GET', '/v1/files?bucketId=photos&q=extra&count=true')).body.totalCount, 0);
});

test('a bucket that still holds files is deleted only after a typed confirmation', async () => {
  await page.goto(`${trove.url}/console/buckets`);
  await page.click('button[aria-label="Delete photos"]');
  await page.click('dialog button:text("Delete")');
  await page.locator('.error code', { hasText: 'bucket_not_empty' }).waitFor();
  const force = page.locator('dialog button:text("Delete with force")');
  assert.equal(await force.isDisabled(), true);
  await page.fill('#confirm-typed', 'photos');
  await force.click();
  await page.locator('table.grid th a', { hasText: 'photos' }).waitFor({ state: 'detached' });
  assert.equal((await admin('GET', '/v1/buckets/photos')).status, 404);
});

test('every page is usable 360 px wide: nothing but the tables scrolls sideways', async () => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ['/console', '/console/buckets', '/console/categories', '/console/files']) {
    await page.goto(`${trove.url}${path}`);
    await settled();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 360, `${path} is ${width} px wide`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
});
