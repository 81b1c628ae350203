// Buckets: every field listed; create, edit and delete (refusals shown as the server words
// them; deleting a bucket that still holds files needs a typed confirmation).

import { enc } from './api.js';
import { h, errorBox, formatSize, parseSize, formatDuration, confirmDialog, field, select, notice } from './dom.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/**
 * The form of a bucket; `bucket` null for a new one. Resolves the body to send, only with the
 * fields that differ from `bucket` when editing.
 * @param {Record<string, any> | null} bucket
 * @param {(body: Record<string, unknown>) => Promise<void>} save
 */
function bucketForm(bucket, save) {
  const id = h('input', { name: 'id', required: true, pattern: '[a-z0-9][a-z0-9._-]*', value: bucket?.id ?? '', readonly: Boolean(bucket) });
  const minSize = h('input', { name: 'minUploadFileSize', value: formatSize(bucket?.minUploadFileSize ?? 1) });
  const maxSize = h('input', { name: 'maxUploadFileSize', value: formatSize(bucket?.maxUploadFileSize ?? 50_000_000) });
  const types = h('input', { name: 'allowedMimeTypes', value: (bucket?.allowedMimeTypes ?? []).join(', '), placeholder: 'image/*, application/pdf' });
  const cache = h('input', { name: 'cacheControl', value: bucket?.cacheControl ?? 'max-age=3600' });
  const expiration = h('input', { name: 'downloadExpiration', type: 'number', min: 1, value: bucket?.downloadExpiration ?? 30 });
  const presigned = h('input', { name: 'presignedUrlsEnabled', type: 'checkbox', checked: bucket ? bucket.presignedUrlsEnabled : true });
  const visibility = select('defaultVisibility', [['private', 'private'], ['public', 'public']], bucket?.defaultVisibility ?? 'private');
  const problems = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card editor', 'aria-label': bucket ? `Edit bucket ${bucket.id}` : 'New bucket' },
    h('h2', {}, bucket ? `Bucket ${bucket.id}` : 'New bucket'),
    field('Id', id, 'Lower-case letters, digits, dots, dashes and underscores'),
    field('Minimum size', minSize, 'With units: 1 B, 10 KB, 5 MiB'),
    field('Maximum size', maxSize, 'With units: 50 MB, 2 GiB'),
    field('Allowed MIME types', types, 'Comma-separated; empty allows every type'),
    field('Cache-Control', cache),
    field('Download expiration (seconds)', expiration, 'The longest a signed URL of this bucket lives'),
    h('div', { class: 'field check' }, presigned, h('label', { for: presigned.id = 'f-presigned' }, 'Signed URLs enabled')),
    field('Default visibility', visibility),
    problems,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, bucket ? 'Save' : 'Create bucket')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const min = parseSize(minSize.value);
    const max = parseSize(maxSize.value);
    if (min === null || max === null) {
      problems.replaceChildren(errorBox({ code: 'invalid_request', message: 'A size is not a number of bytes with an optional unit (KB, MB, GB, KiB, MiB, GiB).' }));
      return;
    }
    /** @type {Record<string, unknown>} */
    const body = {
      minUploadFileSize: min,
      maxUploadFileSize: max,
      allowedMimeTypes: types.value.split(',').map((t) => t.trim()).filter(Boolean),
      cacheControl: cache.value,
      downloadExpiration: Number(expiration.value),
      presignedUrlsEnabled: presigned.checked,
      defaultVisibility: visibility.value,
    };
    if (bucket) {
      for (const [k, v] of Object.entries(body)) {
        if (JSON.stringify(bucket[k]) === JSON.stringify(v)) delete body[k];
      }
    } else {
      body.id = id.value.trim();
    }
    try {
      await save(body);
    } catch (err) {
      problems.replaceChildren(errorBox(err));
    }
  });
  return form;
}

/**
 * Deletes after a confirmation; when the server refuses with `busyCode` (the thing is still in
 * use), says so and offers `?force=true` behind a typed confirmation.
 * @param {PageContext} ctx
 * @param {HTMLElement} area where refusals are shown
 * @param {{path: string, label: string, typed: string, busyCode: string, busyText: string, back: string}} what
 */
export async function removeWithForce(ctx, area, what) {
  if (!(await confirmDialog(`Delete ${what.label}?`))) return;
  try {
    await ctx.api.del(what.path);
  } catch (e) {
    area.replaceChildren(errorBox(e));
    if (/** @type {{code?: string}} */ (e).code !== what.busyCode) return;
    const force = await confirmDialog(`${what.label} ${what.busyText}`, { typed: what.typed, action: 'Delete with force' });
    if (!force) return;
    try {
      await ctx.api.del(`${what.path}?force=true`);
    } catch (e2) {
      area.replaceChildren(errorBox(e2));
      return;
    }
  }
  notice(`Deleted ${what.label}`);
  ctx.navigate(what.back, true);
}

/** @param {PageContext} ctx */
export async function render(ctx) {
  const { api, main } = ctx;
  const buckets = /** @type {Array<Record<string, any>>} */ ((await api.get('/v1/buckets')).buckets ?? []);
  const admin = api.identity?.kind === 'admin';
  const editing = ctx.params.get('edit');
  const area = h('div', {});
  const table = h('table', { class: 'grid' },
    h('caption', {}, `${buckets.length} bucket${buckets.length === 1 ? '' : 's'}`),
    h('thead', {}, h('tr', {}, ...['Id', 'Min size', 'Max size', 'Allowed types', 'Cache-Control', 'Signed URL expiry', 'Signed URLs', 'Default visibility', 'Created', 'Updated'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    h('tbody', {}, ...buckets.map((b) => h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `/console/files?bucketId=${enc(b.id)}` }, b.id)),
      h('td', {}, formatSize(b.minUploadFileSize)),
      h('td', {}, formatSize(b.maxUploadFileSize)),
      h('td', {}, b.allowedMimeTypes?.length ? b.allowedMimeTypes.join(', ') : 'any'),
      h('td', {}, h('code', {}, b.cacheControl)),
      h('td', {}, formatDuration(b.downloadExpiration)),
      h('td', {}, b.presignedUrlsEnabled ? 'yes' : 'no'),
      h('td', {}, b.defaultVisibility),
      h('td', {}, new Date(b.createdAt).toLocaleDateString()),
      h('td', {}, new Date(b.updatedAt).toLocaleDateString()),
      h('td', { class: 'row-actions' }, admin && h('a', { href: `/console/buckets?edit=${enc(b.id)}`, 'aria-label': `Edit ${b.id}` }, 'Edit'),
        admin && h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${b.id}`, onclick: () => removeWithForce(ctx, area, { path: `/v1/buckets/${enc(b.id)}`, label: `bucket ${b.id}`, typed: b.id, busyCode: 'bucket_not_empty', busyText: 'still holds files. Delete it with every file in it?', back: '/console/buckets' }) }, 'Delete'))))));

  const editor = !admin
    ? null
    : editing
      ? bucketForm(buckets.find((b) => b.id === editing) ?? null, async (body) => {
        await api.patch(`/v1/buckets/${enc(editing)}`, body);
        notice(`Bucket ${editing} saved`);
        ctx.navigate('/console/buckets');
      })
      : bucketForm(null, async (body) => {
        await api.post('/v1/buckets', body);
        notice(`Bucket ${body.id} created`);
        ctx.navigate('/console/buckets', true);
      });
  main.replaceChildren(
    h('h1', {}, 'Buckets'),
    area,
    h('div', { class: 'scroll' }, table),
    editor ?? h('p', { class: 'hint' }, 'Creating and changing buckets needs the admin key.'),
  );
}
