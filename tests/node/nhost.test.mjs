// @nhost/nhost-js, as published on npm, against Trove's compatible API at /nhost/v1: the client
// configured only with `storageUrl`, a session holding a token in the layout Nhost's auth issues,
// and Trove started with an Nhost-format JWT secret. Each step checks what Trove holds afterwards
// through its own API, not only what the client returns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from '@nhost/nhost-js';
import { MemoryStorage } from '@nhost/nhost-js/session';
import { startTrove } from './trove.mjs';
import { png } from './png.mjs';

const run = promisify(execFile);
const NS = 'https://hasura.io/jwt/claims';
const key = randomBytes(32).toString('hex');

/** @type {import('./trove.mjs').Trove} */
let trove;

before(async () => {
  trove = await startTrove({
    env: {
      TROVE_JWT_SECRET: JSON.stringify({ type: 'HS256', key }),
      TROVE_JWT_TENANT_CLAIM: `${NS}.x-hasura-org-id`,
    },
  });
  // The admin secret header Nhost's admin clients send is Trove's admin key.
  const res = await fetch(`${trove.url}/v1/buckets`, {
    method: 'POST',
    headers: { 'x-hasura-admin-secret': trove.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'limited', maxUploadFileSize: 16 }),
  });
  assert.equal(res.status, 201, await res.text());
});

after(async () => {
  await trove?.stop();
});

/** @param {unknown} v */
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** An HS256 token as Nhost's auth issues it. @param {string} user @param {string} org */
function accessToken(user, org) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: user, iat: now, exp: now + 3600, iss: 'hasura-auth',
    [NS]: {
      'x-hasura-user-id': user, 'x-hasura-org-id': org,
      'x-hasura-allowed-roles': ['user', 'me'], 'x-hasura-default-role': 'user', 'x-hasura-user-is-anonymous': 'false',
    },
  };
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/** A client signed in as `user`, as an application's would be. @param {string} user @param {string} org */
function clientFor(user, org) {
  const nhost = createClient({ storageUrl: `${trove.url}/nhost/v1`, authUrl: `${trove.url}/no-auth-here`, storage: new MemoryStorage() });
  nhost.sessionStorage.set({
    accessToken: accessToken(user, org), accessTokenExpiresIn: 3600, refreshToken: randomUUID(), refreshTokenId: randomUUID(),
    user: /** @type {any} */ ({ id: user, displayName: user, email: `${user}@example.com`, roles: ['user', 'me'], defaultRole: 'user' }),
  });
  return nhost;
}

/** @param {string} id */
async function stored(id) {
  const res = await fetch(`${trove.url}/v1/files/${id}`, { headers: { 'x-trove-admin-key': trove.adminKey } });
  return { status: res.status, body: res.status === 200 ? await res.json() : null };
}

/**
 * The FetchError the client throws for a refused call.
 * @param {() => Promise<unknown>} call
 * @returns {Promise<any>}
 */
async function refusal(call) {
  try {
    await call();
  } catch (e) {
    return e;
  }
  assert.fail('the call was expected to fail');
}

test('uploadFiles stores several files with their metadata, and the rest of the client works on them', async () => {
  const ann = clientFor('ann', 'acme');
  const chosen = randomUUID();
  const up = await ann.storage.uploadFiles({
    'bucket-id': 'default',
    'file[]': [new File(['first words'], 'first.txt', { type: 'text/plain' }), new File([png(64, 32)], 'picture.png', { type: 'image/png' })],
    'metadata[]': [{ id: chosen, name: 'renamed.txt', metadata: { project: 'apollo' } }, {}],
  });
  assert.equal(up.status, 201);
  const [text, picture] = up.body.processedFiles ?? [];
  assert.equal(text.id, chosen);
  assert.equal(text.name, 'renamed.txt');
  assert.deepEqual(text.metadata, { project: 'apollo' });
  assert.equal(text.size, 11);
  assert.equal(text.uploadedByUserId, 'ann');
  assert.equal(picture.name, 'picture.png');
  assert.equal(picture.mimeType, 'image/png');
  const held = await stored(chosen);
  assert.equal(held.body.tenantId, 'acme');
  assert.equal(held.body.bucketId, 'default');

  // getFile: the bytes, and a rendition through the image parameters.
  const got = await ann.storage.getFile(chosen);
  assert.equal(await got.body.text(), 'first words');
  const thumb = await ann.storage.getFile(picture.id, { w: 16, h: 8, f: 'png' });
  const bytes = Buffer.from(await thumb.body.arrayBuffer());
  assert.equal(thumb.headers.get('content-type'), 'image/png');
  assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [16, 8]);

  // getFileMetadataHeaders: what a download would carry.
  const head = await ann.storage.getFileMetadataHeaders(chosen);
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('etag'), text.etag);
  assert.equal(head.headers.get('content-length'), '11');

  // getFilePresignedURL: a URL that works without any credentials.
  const signed = await ann.storage.getFilePresignedURL(chosen);
  assert.ok(signed.body.expiration > 0);
  const plain = await fetch(signed.body.url);
  assert.equal(plain.status, 200);
  assert.equal(await plain.text(), 'first words');

  // replaceFile: new bytes, the name given, the old metadata kept unless given.
  const replaced = await ann.storage.replaceFile(chosen, {
    file: new File(['other words, longer'], 'ignored.txt', { type: 'text/plain' }),
    metadata: { name: 'final.txt' },
  });
  assert.equal(replaced.body.name, 'final.txt');
  assert.equal(replaced.body.size, 19);
  assert.notEqual(replaced.body.etag, text.etag);
  assert.equal((await stored(chosen)).body.size, 19);
  assert.equal(await (await ann.storage.getFile(chosen)).body.text(), 'other words, longer');

  // deleteFile: gone, for the client and for Trove.
  const deleted = await ann.storage.deleteFile(chosen);
  assert.equal(deleted.status, 204);
  assert.equal((await stored(chosen)).status, 404);
  const missing = await refusal(() => ann.storage.getFile(chosen));
  assert.equal(missing.status, 404);
  assert.equal(typeof missing.body.error.message, 'string');
});

test('an upload over the bucket limit fails with the message, listing what was stored before it', async () => {
  const ann = clientFor('ann', 'acme');
  const e = await refusal(() => ann.storage.uploadFiles({
    'bucket-id': 'limited',
    'file[]': [new File(['small'], 'small.txt', { type: 'text/plain' }), new File(['x'.repeat(100)], 'large.txt', { type: 'text/plain' })],
  }));
  assert.equal(e.status, 413);
  assert.equal(e.headers.get('x-error'), e.body.error.message);
  assert.match(e.message, /\S/);
  assert.deepEqual(e.body.processedFiles.map((/** @type {any} */ f) => f.name), ['small.txt']);
  const list = await (await fetch(`${trove.url}/v1/files?bucketId=limited`, { headers: { 'x-trove-admin-key': trove.adminKey } })).json();
  assert.deepEqual(list.files.map((/** @type {any} */ f) => f.name), ['small.txt']);
});

test('a user may not read, replace or delete another user\'s file', async () => {
  const ann = clientFor('ann', 'acme');
  const bob = clientFor('bob', 'acme');
  const up = await ann.storage.uploadFiles({ 'file[]': [new File(['mine'], 'mine.txt', { type: 'text/plain' })] });
  const id = up.body.processedFiles?.[0].id ?? '';
  for (const [i, call] of [
    () => bob.storage.getFile(id),
    () => bob.storage.getFilePresignedURL(id),
    () => bob.storage.deleteFile(id),
    () => bob.storage.replaceFile(id, { file: new File(['theirs'], 'x.txt', { type: 'text/plain' }) }),
  ].entries()) {
    const e = await refusal(call);
    assert.equal(e.status, 404, `another user does not learn the file exists (${i}): ${e} ${e.cause}`);
  }
  assert.equal((await stored(id)).body.size, 4);
  assert.equal(await (await ann.storage.getFile(id)).body.text(), 'mine');
});

test("the README's client script runs as written", async () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Moving from Nhost Storage'));
  const script = section.slice(section.indexOf('```js\n') + 6, section.indexOf('\n```', section.indexOf('```js\n')));
  assert.match(script, /createClient/);
  // Beside this file, so that it imports the client installed here.
  const path = join(import.meta.dirname, `.readme-nhost-${process.pid}.mjs`);
  writeFileSync(path, script);
  try {
    const { stdout } = await run(process.execPath, [path], {
      env: { PATH: process.env.PATH ?? '', TROVE_URL: trove.url, ACCESS_TOKEN: accessToken('carol', 'acme') },
    });
    const [id, url] = stdout.trim().split(' ');
    const held = await stored(id);
    assert.equal(held.body.uploadedByUserId, 'carol');
    assert.deepEqual(held.body.metadata, { movedFrom: 'nhost' });
    assert.equal(await (await fetch(url)).text(), 'hello from nhost-js');
  } finally {
    rmSync(path, { force: true });
  }
});
