// Files: a table over the query API (every filter, sortable columns, keyset paging, a count),
// thumbnails through the image previews, bulk delete, and the upload components (drop anywhere on
// the table). The address holds the filters, the order and the cursor.

import { enc } from './api.js';
import { h, errorBox, formatSize, formatDate, confirmDialog, notice, select } from './dom.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** The filters of `GET /v1/files`, with their labels and controls. */
const FILTERS = /** @type {const} */ ([
  ['q', 'Name contains', 'search'],
  ['bucketId', 'Bucket', 'bucket'],
  ['category', 'Category', 'category'],
  ['entityName', 'Associated entity', 'text'],
  ['entityReference', 'Entity reference', 'text'],
  ['uploadedByUserId', 'Owner', 'text'],
  ['visibility', 'Visibility', ['public', 'private']],
  ['access', 'Access', ['owner', 'tenant']],
  ['status', 'Status', ['ready', 'error', 'upload_pending']],
  ['mimeType', 'MIME type', 'text'],
  ['createdAfter', 'Created after', 'date'],
  ['createdBefore', 'Created before', 'date'],
  ['minSize', 'Min size (bytes)', 'number'],
  ['maxSize', 'Max size (bytes)', 'number'],
]);

const SORTABLE = /** @type {const} */ ([['name', 'Name'], ['size', 'Size'], ['createdAt', 'Created'], ['updatedAt', 'Updated']]);
const PAGE_SIZES = ['25', '50', '100', '200'];

/** Cursors seen before each cursor, so that "Previous" goes back a page (per tab). */
const PREVIOUS_KEY = 'trove-console-previous-cursors';
/** @returns {Record<string, string>} */
function previousCursors() {
  try {
    return JSON.parse(sessionStorage.getItem(PREVIOUS_KEY) || '{}');
  } catch {
    return {};
  }
}

/** @param {string} mime */
function iconText(mime) {
  if (mime === 'application/pdf') return 'PDF';
  const [type, sub = ''] = mime.split('/');
  if (['video', 'audio', 'text', 'image', 'font'].includes(type)) return type.slice(0, 3).toUpperCase();
  if (/zip|tar|compress|gzip/.test(sub)) return 'ZIP';
  if (sub.includes('json')) return 'JSON';
  return 'FILE';
}

/** @param {PageContext} ctx */
export async function render(ctx) {
  const { api, main, params } = ctx;
  if (ctx.path[1]) {
    const panel = await import('./file-panel.js');
    await panel.render(ctx, ctx.path[1]);
    return;
  }
  const query = new URLSearchParams();
  for (const [k] of FILTERS) {
    const v = params.get(k);
    if (!v) continue;
    query.set(k, k === 'createdAfter' || k === 'createdBefore' ? new Date(v).toISOString() : v);
  }
  const orderBy = params.get('orderBy') || 'createdAt';
  const order = params.get('order') || 'desc';
  const limit = PAGE_SIZES.includes(params.get('limit') || '') ? /** @type {string} */ (params.get('limit')) : '50';
  query.set('orderBy', orderBy);
  query.set('order', order);
  query.set('limit', limit);
  query.set('count', 'true');
  const cursor = params.get('cursor');
  if (cursor) query.set('cursor', cursor);

  const [{ buckets }, { categories }] = await Promise.all([api.get('/v1/buckets'), api.get('/v1/categories')]);
  /** @type {{files: Array<Record<string, any>>, nextCursor: string | null, totalCount?: number} | null} */
  let page = null;
  /** @type {unknown} */
  let failure = null;
  try {
    page = await api.get(`/v1/files?${query}`);
  } catch (e) {
    failure = e;
  }

  /** The address with `changes` applied; a change of filters starts at the first page. @param {Record<string, string | null>} changes */
  const urlWith = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!('cursor' in changes)) next.delete('cursor');
    const text = next.toString();
    return `/console/files${text ? `?${text}` : ''}`;
  };

  // Filters.
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter files' });
  for (const [key, label, kind] of FILTERS) {
    const id = `filter-${key}`;
    /** @type {HTMLInputElement | HTMLSelectElement} */
    let control;
    const value = params.get(key) || '';
    if (Array.isArray(kind)) control = select(key, [['', 'any'], ...kind.map((v) => /** @type {[string, string]} */ ([v, v]))], value);
    else if (kind === 'bucket') control = select(key, [['', 'any'], .../** @type {Array<{id: string}>} */ (buckets).map((b) => /** @type {[string, string]} */ ([b.id, b.id]))], value);
    else if (kind === 'category') control = select(key, [['', 'any'], .../** @type {Array<{key: string, name: string}>} */ (categories).map((c) => /** @type {[string, string]} */ ([c.key, c.name]))], value);
    else control = h('input', { name: key, type: kind === 'date' ? 'datetime-local' : String(kind), value, min: kind === 'number' ? 0 : null });
    control.id = id;
    form.append(h('div', { class: 'field' }, h('label', { for: id }, label), control));
  }
  form.append(h('div', { class: 'actions' },
    h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
    h('a', { href: '/console/files', class: 'button' }, 'Clear')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    /** @type {Record<string, string | null>} */
    const changes = {};
    for (const [key] of FILTERS) changes[key] = /** @type {HTMLInputElement} */ (form.elements.namedItem(key)).value || null;
    ctx.navigate(urlWith(changes));
  });

  // Uploads into the filtered bucket and category.
  const bucket = params.get('bucketId') || '';
  const category = params.get('category') || '';
  const uploadAttrs = { bucket: bucket || null, category: category || null, multiple: true, group: 'console' };
  const button = h('trove-upload', { ...uploadAttrs, label: 'Upload files' });
  const dropzone = h('trove-dropzone', { ...uploadAttrs, label: 'Drop files here or anywhere on the table' });
  const active = h('trove-active-uploads', { group: 'console' });
  for (const el of [button, dropzone, active]) {
    const anyEl = /** @type {any} */ (el);
    if (api.credentials.kind === 'admin') anyEl.adminKey = api.credentials.secret;
    else anyEl.token = api.credentials.secret;
  }
  const uploads = h('section', { class: 'uploads', 'aria-label': 'Uploads' },
    h('p', { class: 'hint' }, `Uploads go to bucket ${bucket || 'default'}${category ? `, category ${category}` : ''}.`),
    button, dropzone, active);

  // The table.
  const area = h('div', { 'aria-live': 'polite' });
  const files = page?.files ?? [];
  /** @type {Set<string>} */
  const chosen = new Set();
  const bulk = h('button', { type: 'button', class: 'danger', disabled: true }, 'Delete selected');
  const syncBulk = () => {
    bulk.disabled = chosen.size === 0;
    bulk.textContent = chosen.size ? `Delete ${chosen.size} selected` : 'Delete selected';
  };
  bulk.addEventListener('click', async () => {
    const ids = [...chosen];
    if (!(await confirmDialog(`Delete ${ids.length} file${ids.length === 1 ? '' : 's'}? This cannot be undone.`))) return;
    try {
      const result = await api.request('DELETE', '/v1/files', { json: { ids } });
      const refused = (result.forbidden?.length ?? 0) + (result.notFound?.length ?? 0);
      notice(`Deleted ${result.deleted?.length ?? 0} file(s)${refused ? `; ${refused} could not be deleted` : ''}`);
      ctx.navigate(location.pathname + location.search, true);
    } catch (e) {
      area.replaceChildren(errorBox(e));
    }
  });
  const all = h('input', { type: 'checkbox', 'aria-label': 'Select every file on this page' });
  all.addEventListener('change', () => {
    for (const box of table.querySelectorAll('tbody input[type=checkbox]')) {
      const b = /** @type {HTMLInputElement} */ (box);
      b.checked = all.checked;
      if (all.checked) chosen.add(b.value);
      else chosen.delete(b.value);
    }
    syncBulk();
  });
  const sortHeader = (/** @type {string} */ key, /** @type {string} */ label) => {
    const current = orderBy === key;
    const nextOrder = current && order === 'desc' ? 'asc' : 'desc';
    return h('th', { scope: 'col', 'aria-sort': current ? (order === 'asc' ? 'ascending' : 'descending') : false },
      h('a', { href: urlWith({ orderBy: key, order: nextOrder }), 'aria-label': `Sort by ${label}, ${nextOrder === 'asc' ? 'ascending' : 'descending'}` },
        label, current ? (order === 'asc' ? ' ▲' : ' ▼') : ''));
  };
  const sortable = Object.fromEntries(SORTABLE);
  const table = h('table', { class: 'grid files' },
    h('caption', {}, page ? `${page.totalCount ?? files.length} file${page.totalCount === 1 ? '' : 's'} match` : 'Files'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, all), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Preview')),
      sortHeader('name', sortable.name), h('th', { scope: 'col' }, 'Type'), sortHeader('size', sortable.size),
      h('th', { scope: 'col' }, 'Bucket'), h('th', { scope: 'col' }, 'Category'), h('th', { scope: 'col' }, 'Visibility'),
      h('th', { scope: 'col' }, 'Access'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Owner'),
      sortHeader('createdAt', sortable.createdAt), sortHeader('updatedAt', sortable.updatedAt))),
    h('tbody', {}, ...files.map((f) => {
      const box = h('input', { type: 'checkbox', value: f.id, 'aria-label': `Select ${f.name}` });
      box.addEventListener('change', () => {
        if (box.checked) chosen.add(f.id);
        else chosen.delete(f.id);
        syncBulk();
      });
      const preview = h('span', { class: 'icon', 'aria-hidden': 'true' }, iconText(f.mimeType));
      if (f.mimeType.startsWith('image/') && f.status === 'ready') {
        api.objectUrl(`/v1/files/${enc(f.id)}/content?w=96&h=96&fit=cover&format=auto`).then((url) => {
          preview.replaceWith(h('img', { class: 'thumb', src: url, alt: '', width: 48, height: 48, onload: () => URL.revokeObjectURL(url) }));
        }, () => {});
      }
      return h('tr', {},
        h('td', {}, box), h('td', {}, preview),
        h('th', { scope: 'row' }, h('a', { href: `/console/files/${enc(f.id)}` }, f.name)),
        h('td', {}, f.mimeType), h('td', { class: 'num' }, formatSize(f.size)),
        h('td', {}, f.bucketId), h('td', {}, f.category ?? '—'), h('td', {}, f.visibility), h('td', {}, f.access),
        h('td', {}, f.status), h('td', {}, f.uploadedByUserId ?? '—'),
        h('td', {}, formatDate(f.createdAt)), h('td', {}, formatDate(f.updatedAt)));
    })));
  const scroller = h('div', { class: 'scroll drop-target' }, table);
  // Files dropped anywhere on the table go to the drop zone's uploads, under its rules.
  scroller.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) {
      e.preventDefault();
      scroller.classList.add('dragging');
    }
  });
  scroller.addEventListener('dragleave', () => scroller.classList.remove('dragging'));
  scroller.addEventListener('drop', (e) => {
    e.preventDefault();
    scroller.classList.remove('dragging');
    const dropped = [...(e.dataTransfer?.files ?? [])].map((file) => ({ file }));
    void (/** @type {any} */ (dropzone)).take(dropped);
  });
  // Finished uploads appear in the table. The event bubbles from the component that took the file,
  // or comes to the document when that component has been replaced by a refresh.
  document.addEventListener('trove-upload-success', () => ctx.navigate(location.pathname + location.search, true), { signal: ctx.signal });

  // Paging.
  const previous = cursor ? previousCursors()[cursor] : undefined;
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    cursor ? h('a', { href: urlWith({ cursor: previous && previous !== '-' ? previous : null }), class: 'button' }, previous ? 'Previous page' : 'First page') : null,
    page?.nextCursor ? h('a', {
      href: urlWith({ cursor: page.nextCursor }), class: 'button', onclick: () => {
        const map = previousCursors();
        map[/** @type {string} */ (page?.nextCursor)] = cursor || '-';
        sessionStorage.setItem(PREVIOUS_KEY, JSON.stringify(map));
      },
    }, 'Next page') : null,
    h('label', { for: 'page-size' }, 'Page size'),
    (() => {
      const s = select('limit', PAGE_SIZES.map((n) => /** @type {[string, string]} */ ([n, n])), limit);
      s.id = 'page-size';
      s.addEventListener('change', () => ctx.navigate(urlWith({ limit: s.value })));
      return s;
    })());

  main.replaceChildren(
    h('h1', {}, 'Files'),
    h('details', { class: 'card', open: [...params.keys()].some((k) => FILTERS.some(([f]) => f === k)) }, h('summary', {}, 'Filters'), form),
    uploads,
    area,
    failure ? errorBox(failure) : '',
    h('div', { class: 'toolbar' }, bulk),
    scroller,
    pager,
  );
}
