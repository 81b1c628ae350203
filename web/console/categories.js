// Categories: every field listed; create, edit and delete them (a category still used by files
// is deleted only with force, behind a typed confirmation).

import { enc } from './api.js';
import { h, errorBox, formatSize, parseSize, field, select, notice } from './dom.js';
import { removeWithForce } from './buckets.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/**
 * @param {Record<string, any> | null} category
 * @param {string[]} bucketIds
 * @param {(body: Record<string, unknown>) => Promise<void>} save
 */
function categoryForm(category, bucketIds, save) {
  const key = h('input', { name: 'key', required: true, value: category?.key ?? '', readonly: Boolean(category) });
  const name = h('input', { name: 'name', value: category?.name ?? '' });
  const bucket = select('bucketId', [['', 'any bucket'], ...bucketIds.map((b) => /** @type {[string, string]} */ ([b, b]))], category?.bucketId ?? '');
  const maxSize = h('input', { name: 'maxSize', value: category?.maxSize ? formatSize(category.maxSize) : '', placeholder: 'no limit of its own' });
  const types = h('input', { name: 'allowedMimeTypes', value: (category?.allowedMimeTypes ?? []).join(', '), placeholder: 'image/*' });
  const visibility = select('defaultVisibility', [['', 'the bucket\'s'], ['private', 'private'], ['public', 'public']], category?.defaultVisibility ?? '');
  const access = select('defaultAccess', [['', 'owner (default)'], ['owner', 'owner'], ['tenant', 'tenant']], category?.defaultAccess ?? '');
  const problems = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card editor', 'aria-label': category ? `Edit category ${category.key}` : 'New category' },
    h('h2', {}, category ? `Category ${category.key}` : 'New category'),
    field('Key', key), field('Name', name), field('Bucket', bucket),
    field('Maximum size', maxSize, 'With units (10 MB); empty for the bucket\'s limit'),
    field('Allowed MIME types', types, 'Comma-separated; empty allows what the bucket allows'),
    field('Default visibility', visibility), field('Default access', access),
    problems,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, category ? 'Save' : 'Create category')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const size = maxSize.value.trim() ? parseSize(maxSize.value) : null;
    if (maxSize.value.trim() && size === null) {
      problems.replaceChildren(errorBox({ code: 'invalid_request', message: 'The maximum size is not a number of bytes with an optional unit.' }));
      return;
    }
    /** @type {Record<string, unknown>} */
    const body = {
      name: name.value.trim() || key.value.trim(),
      bucketId: bucket.value || null,
      maxSize: size,
      allowedMimeTypes: types.value.split(',').map((t) => t.trim()).filter(Boolean),
      defaultVisibility: visibility.value || null,
      defaultAccess: access.value || null,
    };
    if (category) {
      for (const [k, v] of Object.entries(body)) {
        if (JSON.stringify(category[k] ?? null) === JSON.stringify(v)) delete body[k];
      }
    } else {
      body.key = key.value.trim();
      for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
    }
    try {
      await save(body);
    } catch (err) {
      problems.replaceChildren(errorBox(err));
    }
  });
  return form;
}

/** @param {PageContext} ctx */
export async function render(ctx) {
  const { api, main } = ctx;
  const [{ categories }, { buckets }] = await Promise.all([api.get('/v1/categories'), api.get('/v1/buckets')]);
  const list = /** @type {Array<Record<string, any>>} */ (categories ?? []);
  const bucketIds = /** @type {Array<{id: string}>} */ (buckets ?? []).map((b) => b.id);
  const admin = api.identity?.kind === 'admin';
  const editing = ctx.params.get('edit');
  const area = h('div', {});
  const table = h('table', { class: 'grid' },
    h('caption', {}, `${list.length} categor${list.length === 1 ? 'y' : 'ies'}`),
    h('thead', {}, h('tr', {}, ...['Key', 'Name', 'Bucket', 'Max size', 'Allowed types', 'Default visibility', 'Default access', 'Updated'].map((t) => h('th', { scope: 'col' }, t)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    h('tbody', {}, ...list.map((c) => h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `/console/files?category=${enc(c.key)}` }, c.key)),
      h('td', {}, c.name),
      h('td', {}, c.bucketId ?? 'any'),
      h('td', {}, c.maxSize ? formatSize(c.maxSize) : '—'),
      h('td', {}, c.allowedMimeTypes?.length ? c.allowedMimeTypes.join(', ') : 'any'),
      h('td', {}, c.defaultVisibility ?? '—'),
      h('td', {}, c.defaultAccess ?? '—'),
      h('td', {}, new Date(c.updatedAt).toLocaleDateString()),
      h('td', { class: 'row-actions' }, admin && h('a', { href: `/console/categories?edit=${enc(c.key)}`, 'aria-label': `Edit ${c.key}` }, 'Edit'),
        admin && h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${c.key}`, onclick: () => removeWithForce(ctx, area, { path: `/v1/categories/${enc(c.key)}`, label: `category ${c.key}`, typed: c.key, busyCode: 'category_in_use', busyText: 'is used by files. Delete it and take it off them?', back: '/console/categories' }) }, 'Delete'))))));
  const editor = !admin
    ? null
    : editing
      ? categoryForm(list.find((c) => c.key === editing) ?? null, bucketIds, async (body) => {
        await api.patch(`/v1/categories/${enc(editing)}`, body);
        notice(`Category ${editing} saved`);
        ctx.navigate('/console/categories');
      })
      : categoryForm(null, bucketIds, async (body) => {
        await api.post('/v1/categories', body);
        notice(`Category ${body.key} created`);
        ctx.navigate('/console/categories', true);
      });
  main.replaceChildren(h('h1', {}, 'Categories'), area, h('div', { class: 'scroll' }, table),
    editor ?? h('p', { class: 'hint' }, 'Creating and changing categories needs the admin key.'));
}
