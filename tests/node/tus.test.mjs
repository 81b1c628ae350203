// tus-js-client, as published on npm, against Trove: chunked uploads that are aborted halfway and
// resumed from their stored URL after the server restarted, parallel uploads (concatenation),
// deferred lengths, and the IETF draft dialect. Every file must come back byte-identical.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tus from 'tus-js-client';
import { freePort, startTrove } from './trove.mjs';

const MIB = 1024 * 1024;
/** A 64 MiB file, different in every run. */
const data = randomBytes(64 * MIB);
const digest = createHash('sha256').update(data).digest('hex');

/** @type {import('./trove.mjs').Trove} */
let trove;
/** @type {string} */
let addr;

before(async () => {
  addr = `127.0.0.1:${await freePort()}`;
  trove = await startTrove({ addr });
  const res = await fetch(`${trove.url}/v1/buckets`, {
    method: 'POST',
    headers: { 'x-trove-admin-key': trove.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'large', maxUploadFileSize: 1024 * MIB }),
  });
  assert.equal(res.status, 201);
});

after(() => trove.stop());

/**
 * Runs one upload to its end; resolves with the upload (its `url` names the file).
 * @param {any} input
 * @param {Partial<tus.UploadOptions>} options
 * @returns {Promise<tus.Upload>}
 */
function upload(input, options) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(input, {
      endpoint: `${trove.url}/v1/tus`,
      headers: { 'x-trove-admin-key': trove.adminKey },
      chunkSize: 8 * MIB,
      retryDelays: [],
      metadata: { filename: 'big.bin', filetype: 'application/octet-stream', bucketId: 'large' },
      ...options,
      onSuccess: () => resolve(u),
      onError: reject,
    });
    u.start();
  });
}

/**
 * The sha256 of the file an upload created (its id is the last segment of its URL).
 * @param {string} uploadUrl
 */
async function storedDigest(uploadUrl) {
  const head = await fetch(uploadUrl, {
    method: 'HEAD',
    headers: { 'x-trove-admin-key': trove.adminKey, 'tus-resumable': '1.0.0' },
  });
  assert.equal(head.status, 200);
  const id = head.headers.get('trove-file-id');
  assert.ok(id, 'a finished upload names its file');
  const res = await fetch(`${trove.url}/v1/files/${id}/content`, {
    headers: { 'x-trove-admin-key': trove.adminKey },
  });
  assert.equal(res.status, 200);
  return createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex');
}

test('an upload aborted halfway resumes from its stored URL after a server restart', async () => {
  /** @type {string | null} */
  let storedUrl = null;
  await new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      endpoint: `${trove.url}/v1/tus`,
      headers: { 'x-trove-admin-key': trove.adminKey },
      chunkSize: 8 * MIB,
      retryDelays: [],
      metadata: { filename: 'resumed.bin', bucketId: 'large' },
      onUploadUrlAvailable: () => {
        storedUrl = u.url;
      },
      onChunkComplete: (_chunk, accepted) => {
        if (accepted >= data.length / 2) {
          u.abort().then(resolve, reject);
        }
      },
      onSuccess: () => reject(new Error('the upload should have been aborted')),
      onError: reject,
    });
    u.start();
  });
  assert.ok(storedUrl);
  await trove.kill();
  trove = await startTrove({ addr, dataDir: trove.dataDir });

  let resumedFrom = -1;
  const resumed = await upload(data, {
    uploadUrl: storedUrl,
    onProgress: (sent) => {
      if (resumedFrom < 0) resumedFrom = sent;
    },
  });
  assert.equal(resumed.url, storedUrl, 'the same upload continued');
  assert.ok(resumedFrom >= data.length / 2, `resumed at ${resumedFrom}, not from the start`);
  assert.equal(await storedDigest(/** @type {string} */ (resumed.url)), digest);
});

test('parallel uploads are concatenated into one file', async () => {
  const u = await upload(data, { parallelUploads: 3 });
  assert.equal(await storedDigest(/** @type {string} */ (u.url)), digest);
});

test('an upload of unknown length announces it at the end', async () => {
  const stream = Readable.from(
    (function* chunks() {
      for (let at = 0; at < data.length; at += MIB) yield data.subarray(at, at + MIB);
    })(),
  );
  const u = await upload(stream, { uploadLengthDeferred: true });
  assert.equal(await storedDigest(/** @type {string} */ (u.url)), digest);
});

test("the IETF draft dialect (protocol: 'ietf-draft-05') works on the same endpoint", async () => {
  const u = await upload(data, { protocol: 'ietf-draft-05' });
  assert.equal(await storedDigest(/** @type {string} */ (u.url)), digest);
});
