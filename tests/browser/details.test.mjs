// The smaller promises of the components: the JavaScript API without elements, restrictions from
// attributes, keyboard use, texts, announcements and error events.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
  token = userToken(trove.dataDir, 'bob');
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await trove?.stop();
});

async function page() {
  const p = await browser.newPage();
  await p.addInitScript(() => {
    /** @type {any} */ (window).events = [];
    for (const type of ['start', 'success', 'error', 'reject']) {
      document.addEventListener(`trove-upload-${type}`, (e) => {
        /** @type {any} */ (window).events.push({ type, detail: /** @type {CustomEvent} */ (e).detail });
      });
    }
  });
  await p.goto(`${trove.url}/ui/example`);
  await p.waitForFunction(() => customElements.get('trove-upload') !== undefined);
  await p.evaluate((t) => {
    for (const id of ['button', 'dropzone', 'list']) /** @type {any} */ (document.getElementById(id)).token = t;
  }, token);
  return p;
}

/**
 * @param {import('playwright-core').Page} p
 * @param {string} type
 */
function nextEvent(p, type) {
  return p
    .waitForFunction((t) => /** @type {any} */ (window).events.find((/** @type {any} */ e) => e.type === t), type)
    .then((h) => h.jsonValue());
}

test('TroveClient uploads, lists and signs without any element', async () => {
  const p = await page();
  const result = await p.evaluate(async (t) => {
    const { TroveClient } = await import('/ui/trove-components.js');
    const client = new TroveClient({ token: t });
    /** @type {number[]} */
    const progress = [];
    const file = await client.upload(new File(['from the API'], 'api.txt', { type: 'text/plain' }), {
      metadata: { source: 'api' },
      onProgress: (loaded) => progress.push(loaded),
    });
    const listed = await client.list({ limit: '10' });
    const signed = await client.signedUrl(file.id);
    const body = await (await fetch(signed.url)).text();
    return { file, progress, listed: listed.files.map((/** @type {any} */ f) => f.id), body, unfinished: await client.uploads() };
  }, token);
  assert.equal(result.file.name, 'api.txt');
  assert.equal(result.file.metadata.source, 'api');
  assert.equal(result.progress.at(-1), 12);
  assert.ok(result.listed.includes(result.file.id));
  assert.equal(result.body, 'from the API');
  assert.deepEqual(result.unfinished, []);
  await p.close();
});

test('max-size, accept and max-files refuse files before sending them', async () => {
  const p = await page();
  await p.evaluate(() => {
    const el = document.getElementById('button');
    el?.setAttribute('max-size', '5');
  });
  await p.locator('#button input[type=file]').setInputFiles([{ name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.from('more than five') }]);
  const tooBig = await nextEvent(p, 'reject');
  assert.equal(tooBig.detail.file.name ?? 'big.txt', 'big.txt');
  assert.match(tooBig.detail.reason, /larger than/);
  await p.evaluate(() => {
    /** @type {any} */ (window).events = [];
    const el = document.getElementById('button');
    el?.removeAttribute('max-size');
    el?.setAttribute('accept', 'image/*,.pdf');
    el?.setAttribute('max-files', '1');
  });
  await p.locator('#button input[type=file]').setInputFiles([
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('x') },
    { name: 'a.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4') },
  ]);
  await p.waitForFunction(() => /** @type {any} */ (window).events.filter((/** @type {any} */ e) => e.type === 'reject').length === 2);
  const reasons = await p.evaluate(() => /** @type {any} */ (window).events.filter((/** @type {any} */ e) => e.type === 'reject').map((/** @type {any} */ e) => e.detail.reason));
  assert.match(reasons[0], /type/);
  assert.match(reasons[1], /more than 1/);
  await p.close();
});

test('the drop zone opens the selector from the keyboard', async () => {
  const p = await page();
  // Listening first turns on the interception of file choosers before the key is pressed.
  const opened = p.waitForEvent('filechooser');
  await p.locator('#dropzone [part=drop-area]').focus();
  await p.keyboard.press('Enter');
  const chooser = await opened;
  assert.ok(chooser.isMultiple());
  await chooser.setFiles([{ name: 'keyboard.txt', mimeType: 'text/plain', buffer: Buffer.from('typed') }]);
  const done = await nextEvent(p, 'success');
  assert.equal(done.detail.file.name, 'keyboard.txt');
  // The live region announced it.
  const said = await p.evaluate(() => {
    const els = ['button', 'dropzone', 'list'].map((id) => document.getElementById(id)?.shadowRoot?.querySelector('[aria-live]')?.textContent ?? '');
    return els.join(' | ');
  });
  assert.match(said, /keyboard\.txt uploaded/);
  await p.close();
});

test('texts come from the i18n property', async () => {
  const p = await page();
  await p.evaluate(() => {
    /** @type {any} */ (document.getElementById('dropzone')).i18n = { drop: 'Dateien hierher ziehen' };
  });
  assert.equal((await p.locator('#dropzone [part=drop-area]').textContent())?.trim(), 'Dateien hierher ziehen');
  await p.close();
});

test('a refused upload reports Trove\'s error code', async () => {
  const p = await page();
  await p.evaluate(() => document.getElementById('button')?.setAttribute('bucket', 'no-such-bucket'));
  await p.locator('#button input[type=file]').setInputFiles([{ name: 'lost.txt', mimeType: 'text/plain', buffer: Buffer.from('x') }]);
  const error = await nextEvent(p, 'error');
  assert.equal(error.detail.error.code, 'invalid_request');
  assert.match(error.detail.error.message, /no-such-bucket/);
  await p.locator('#list li[data-state=failed] button[data-act=retry]').waitFor();
  await p.close();
});
