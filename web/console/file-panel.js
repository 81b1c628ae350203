// One file: every field, its metadata as JSON (validated before saving), associations,
// visibility, access and category, public and signed URLs, download, replace, preview, delete.

import { enc } from './api.js';
import { h, errorBox, formatSize, formatDate, formatDuration, confirmDialog, copy, field, notice, select } from './dom.js';

/** @typedef {import('./app.js').PageContext} PageContext */

const PRESETS = /** @type {const} */ ([[3600, '1 hour'], [86400, '1 day'], [604800, '1 week']]);
/** Text previews read at most this much of the file. */
const TEXT_PREVIEW_BYTES = 64 * 1024;

/**
 * @param {PageContext} ctx
 * @param {Record<string, any>} file
 * @param {Record<string, any> | null} bucket
 */
async function preview(ctx, file, bucket) {
  const { api } = ctx;
  const mime = String(file.mimeType);
  if (file.status !== 'ready') return h('p', { class: 'hint' }, `No preview: the file is ${file.status}.`);
  if (mime.startsWith('image/')) {
    const url = await api.objectUrl(`/v1/files/${enc(file.id)}/content?w=800&h=600&fit=inside&format=auto`).catch(() => null);
    return url ? h('img', { class: 'preview', src: url, alt: `Preview of ${file.name}` }) : h('p', { class: 'hint' }, 'This image cannot be previewed.');
  }
  if (mime.startsWith('text/') && mime !== 'text/html') {
    const res = await api.request('GET', `/v1/files/${enc(file.id)}/content`, { raw: true, headers: { Range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` } });
    return h('pre', { class: 'preview text', tabindex: 0, 'aria-label': `Beginning of ${file.name}` }, await res.text());
  }
  const media = mime.startsWith('video/') ? 'video' : mime.startsWith('audio/') ? 'audio' : null;
  const framed = mime === 'application/pdf' || mime === 'text/html' || mime === 'image/svg+xml';
  if (!media && !framed) return h('p', { class: 'hint' }, 'No preview for this type.');
  if (bucket && !bucket.presignedUrlsEnabled) return h('p', { class: 'hint' }, 'The bucket disables signed URLs, which previews use.');
  // The browser fetches media and frames itself, so they get a short signed URL.
  const signed = await api.post(`/v1/files/${enc(file.id)}/signed-url`, { expiresIn: Math.min(3600, bucket?.downloadExpiration ?? 30) });
  if (media) return h(media, { class: 'preview', src: signed.url, controls: true, 'aria-label': `Play ${file.name}` });
  // Active content runs in a sandbox without scripts, forms or same-origin rights.
  return h('iframe', { class: 'preview frame', src: signed.url, sandbox: mime === 'application/pdf' ? 'allow-same-origin' : '', title: `Preview of ${file.name}` });
}

/**
 * @param {PageContext} ctx
 * @param {string} id
 */
export async function render(ctx, id) {
  const { api, main } = ctx;
  const file = await api.get(`/v1/files/${enc(id)}`);
  const [{ categories }, bucket] = await Promise.all([
    api.get('/v1/categories'),
    api.get(`/v1/buckets/${enc(file.bucketId)}`).catch(() => null),
  ]);
  const area = h('div', { 'aria-live': 'polite' });
  const reload = () => ctx.navigate(location.pathname + location.search, true);
  /** Runs a change, then shows the file again, or the error. @param {() => Promise<unknown>} action @param {string} done */
  const act = async (action, done) => {
    try {
      await action();
      notice(done);
      reload();
    } catch (e) {
      area.replaceChildren(errorBox(e));
    }
  };

  const facts = h('dl', { class: 'facts' });
  const add = (/** @type {string} */ k, /** @type {string | Node} */ v) => facts.append(h('dt', {}, k), h('dd', {}, v));
  add('Id', h('code', {}, file.id));
  add('Name', file.name);
  add('MIME type', file.mimeType);
  add('Size', `${formatSize(file.size)} (${file.size} bytes)`);
  add('Bucket', file.bucketId);
  add('Category', file.category ?? '—');
  add('Visibility', file.visibility);
  add('Access', file.access);
  add('Status', `${file.status}${file.statusReason ? ` (${file.statusReason})` : ''}`);
  add('Uploaded', file.isUploaded ? 'yes' : 'no');
  add('Owner', file.uploadedByUserId ?? '—');
  add('Tenant', file.tenantId ?? '—');
  add('ETag', h('code', {}, file.etag));
  add('SHA-256', h('code', {}, file.checksumSha256 ?? '—'));
  add('Created', formatDate(file.createdAt));
  add('Updated', formatDate(file.updatedAt));

  // Settings: name, access, category, visibility.
  const name = h('input', { name: 'name', value: file.name, required: true });
  const access = select('access', [['owner', 'owner'], ['tenant', 'tenant']], file.access);
  const category = select('category', [['', 'none'], .../** @type {Array<{key: string, name: string}>} */ (categories).map((c) => /** @type {[string, string]} */ ([c.key, c.name]))], file.category ?? '');
  const settings = h('form', { class: 'card', 'aria-label': 'Settings' }, h('h2', {}, 'Settings'),
    field('Name', name), field('Access', access), field('Category', category),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings')));
  settings.addEventListener('submit', (e) => {
    e.preventDefault();
    /** @type {Record<string, unknown>} */
    const patch = {};
    if (name.value !== file.name) patch.name = name.value;
    if (access.value !== file.access) patch.access = access.value;
    if ((category.value || null) !== (file.category ?? null)) patch.category = category.value || null;
    if (!Object.keys(patch).length) return;
    void act(() => api.patch(`/v1/files/${enc(id)}`, patch), 'Settings saved');
  });
  const isPublic = file.visibility === 'public';
  const visibility = h('section', { class: 'card', 'aria-label': 'Visibility' }, h('h2', {}, 'Visibility'),
    h('p', {}, isPublic ? 'Public: anyone with the link can download it.' : 'Private: only callers allowed by its access.'),
    h('button', { type: 'button', onclick: () => act(() => api.request('POST', `/v1/files/${enc(id)}/${isPublic ? 'private' : 'public'}`), isPublic ? 'The file is private' : 'The file is public') }, isPublic ? 'Make private' : 'Make public'),
    isPublic && file.url ? h('p', {}, h('a', { href: file.url, target: '_blank', rel: 'noopener', id: 'public-url' }, file.url), ' ',
      h('button', { type: 'button', onclick: () => copy(file.url, 'Public URL') }, 'Copy public URL')) : null);

  // Metadata as JSON.
  const metadata = h('textarea', { name: 'metadata', rows: 8, spellcheck: 'false' });
  metadata.value = JSON.stringify(file.metadata ?? {}, null, 2);
  const metaProblem = h('div', { 'aria-live': 'polite' });
  const metaForm = h('form', { class: 'card', 'aria-label': 'Metadata' }, h('h2', {}, 'Metadata'),
    field('Metadata (JSON object)', metadata), metaProblem,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save metadata')));
  metaForm.addEventListener('submit', (e) => {
    e.preventDefault();
    let value;
    try {
      value = JSON.parse(metadata.value);
    } catch (err) {
      metaProblem.replaceChildren(errorBox({ code: 'invalid_json', message: `Not valid JSON: ${/** @type {Error} */ (err).message}` }));
      return;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      metaProblem.replaceChildren(errorBox({ code: 'invalid_json', message: 'Metadata must be a JSON object.' }));
      return;
    }
    void act(() => api.patch(`/v1/files/${enc(id)}`, { metadata: value }), 'Metadata saved');
  });

  // Associations.
  const entityName = h('input', { name: 'entityName', required: true });
  const entityReference = h('input', { name: 'entityReference', required: true });
  const assocForm = h('form', { class: 'card', 'aria-label': 'Associations' }, h('h2', {}, 'Associations'),
    h('ul', { class: 'associations' }, .../** @type {Array<Record<string, string>>} */ (file.associations ?? []).map((a) => h('li', {},
      h('code', {}, `${a.entityName}:${a.entityReference}`), ' ',
      h('button', { type: 'button', 'aria-label': `Remove association ${a.entityName}:${a.entityReference}`, onclick: () => act(() => api.del(`/v1/files/${enc(id)}/associations/${enc(a.id)}`), 'Association removed') }, 'Remove')))),
    h('div', { class: 'inline' }, field('Entity name', entityName), field('Entity reference', entityReference),
      h('button', { type: 'submit' }, 'Add association')));
  assocForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(() => api.post(`/v1/files/${enc(id)}/associations`, { entityName: entityName.value.trim(), entityReference: entityReference.value.trim() }), 'Association added');
  });

  // Signed URLs and download.
  const cap = bucket?.downloadExpiration ?? Infinity;
  const presets = PRESETS.filter(([s]) => s <= cap);
  const expiry = select('expiresIn', [...presets.map(([s, l]) => /** @type {[string, string]} */ ([String(s), l])), ...(Number.isFinite(cap) && !presets.some(([s]) => s === cap) ? [/** @type {[string, string]} */ ([String(cap), `${formatDuration(cap)} (the bucket's longest)`])] : []), ['custom', 'custom']], String(presets.length ? presets[0][0] : cap));
  const custom = h('input', { name: 'customSeconds', type: 'number', min: 1, max: Number.isFinite(cap) ? cap : null, placeholder: 'seconds' });
  // The label goes with its input: a visible label beside no control reads as a broken form.
  const customField = field('Custom (seconds)', custom);
  customField.hidden = true;
  expiry.addEventListener('change', () => { customField.hidden = expiry.value !== 'custom'; });
  const signedOut = h('div', { 'aria-live': 'polite' });
  const signedForm = h('form', { class: 'card', 'aria-label': 'Signed URL' }, h('h2', {}, 'Signed URL'),
    bucket && !bucket.presignedUrlsEnabled ? h('p', { class: 'hint' }, 'This bucket disables signed URLs.') : null,
    h('div', { class: 'inline' }, field('Expires in', expiry, Number.isFinite(cap) ? `At most ${formatDuration(cap)} in this bucket` : undefined), customField,
      h('button', { type: 'submit' }, 'Create signed URL')),
    signedOut);
  signedForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const expiresIn = expiry.value === 'custom' ? Number(custom.value) : Number(expiry.value);
    try {
      const s = await api.post(`/v1/files/${enc(id)}/signed-url`, { expiresIn });
      signedOut.replaceChildren(h('p', {}, h('a', { href: s.url, id: 'signed-url', target: '_blank', rel: 'noopener' }, s.url)),
        h('p', {}, `Expires ${formatDate(s.expiresAt)}. `, h('button', { type: 'button', onclick: () => copy(s.url, 'Signed URL') }, 'Copy signed URL')));
    } catch (err) {
      signedOut.replaceChildren(errorBox(err));
    }
  });
  const download = h('button', { type: 'button' }, 'Download');
  download.addEventListener('click', async () => {
    try {
      const s = await api.post(`/v1/files/${enc(id)}/signed-url`, { expiresIn: Math.min(60, cap), download: true });
      const a = h('a', { href: s.url, download: file.name });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (err) {
      area.replaceChildren(errorBox(err));
    }
  });

  // Replace and delete.
  const replaceInput = h('input', { type: 'file', name: 'replacement' });
  const replaceForm = h('form', { class: 'card', 'aria-label': 'Replace the content' }, h('h2', {}, 'Replace the content'),
    field('New content', replaceInput), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Replace')));
  replaceForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const chosen = replaceInput.files?.[0];
    if (!chosen) return;
    void act(() => api.request('PUT', `/v1/files/${enc(id)}/content`, {
      body: chosen, headers: { 'Content-Type': chosen.type || 'application/octet-stream', 'If-Match': file.etag },
    }), 'Content replaced');
  });
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete file');
  remove.addEventListener('click', async () => {
    if (!(await confirmDialog(`Delete ${file.name}? This cannot be undone.`))) return;
    try {
      await api.del(`/v1/files/${enc(id)}`);
      notice(`${file.name} deleted`);
      ctx.navigate(`/console/files?bucketId=${enc(file.bucketId)}`, true);
    } catch (err) {
      area.replaceChildren(errorBox(err));
    }
  });

  const previewBox = h('section', { class: 'card', 'aria-label': 'Preview' }, h('h2', {}, 'Preview'), h('p', { class: 'hint' }, 'Loading…'));
  main.replaceChildren(
    h('p', {}, h('a', { href: `/console/files?bucketId=${enc(file.bucketId)}` }, `← Files of ${file.bucketId}`)),
    h('h1', {}, file.name), area,
    h('div', { class: 'toolbar' }, download, remove),
    h('div', { class: 'panel' }, h('section', { class: 'card', 'aria-label': 'Fields' }, h('h2', {}, 'Fields'), facts), previewBox,
      visibility, settings, metaForm, assocForm, signedForm, replaceForm));
  try {
    previewBox.replaceChildren(h('h2', {}, 'Preview'), await preview(ctx, file, bucket));
  } catch (e) {
    previewBox.replaceChildren(h('h2', {}, 'Preview'), errorBox(e));
  }
}
