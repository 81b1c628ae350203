// Overview: the server's version and readiness, its backends (for the admin key), and what each
// bucket holds (files and bytes).

import { enc } from './api.js';
import { h, errorBox, formatSize } from './dom.js';

/** @typedef {import('./app.js').PageContext} PageContext */

/** @param {PageContext} ctx */
export async function render(ctx) {
  const { api, main } = ctx;
  const me = api.identity;
  const [version, ready, { buckets }] = await Promise.all([
    api.get('/version'),
    fetch('/readyz').then(async (r) => ({ ok: r.ok, body: await r.json().catch(() => ({})) }), () => ({ ok: false, body: {} })),
    api.get('/v1/buckets'),
  ]);
  const ids = /** @type {Array<{id: string}>} */ (buckets).map((b) => b.id);
  // Those who manage buckets see every file and byte (GET /v1/usage); a user, the count of the
  // files the query API lets them read.
  /** @type {Map<string, {files: number, bytes: number} | unknown>} */
  const rows = new Map();
  if (me?.manageBuckets) {
    try {
      const usage = await api.get('/v1/usage');
      for (const u of /** @type {Array<{bucketId: string, files: number, bytes: number}>} */ (usage.buckets)) rows.set(u.bucketId, u);
    } catch (e) {
      for (const id of ids) rows.set(id, e);
    }
  } else {
    const counts = await Promise.all(ids.map((id) => api.get(`/v1/files?bucketId=${enc(id)}&limit=1&count=true`)
      .then((p) => ({ files: /** @type {number} */ (p.totalCount ?? 0), bytes: NaN }), (e) => /** @type {unknown} */ (e))));
    ids.forEach((id, i) => rows.set(id, counts[i]));
  }
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Server'), h('dd', {}, `${version.name} ${version.version}`),
    h('dt', {}, 'Ready'), h('dd', { id: 'readiness' }, ready.ok ? 'ready' : `not ready (${JSON.stringify(ready.body)})`),
    h('dt', {}, 'Signed in as'), h('dd', {}, me?.kind === 'admin' ? 'the admin key' : `${me?.userId}${me?.tenantId ? ` in tenant ${me.tenantId}` : ''}${me?.roles.length ? ` (roles: ${me.roles.join(', ')})` : ''}`),
    me?.server ? [h('dt', {}, 'Database'), h('dd', {}, me.server.database), h('dt', {}, 'Storage'), h('dd', {}, me.server.storage)] : null);
  const table = h('table', { class: 'grid usage' },
    h('caption', {}, me?.manageBuckets ? 'Files and bytes per bucket' : 'Files you can read, per bucket'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Bucket'), h('th', { scope: 'col' }, 'Files'),
      me?.manageBuckets ? h('th', { scope: 'col' }, 'Bytes') : null)),
    h('tbody', {}, ...ids.map((id) => {
      const row = rows.get(id);
      const known = /** @type {{files: number, bytes: number} | undefined} */ (row && typeof row === 'object' && 'files' in row ? row : undefined);
      if (!known && row !== undefined) {
        return h('tr', {}, h('th', { scope: 'row' }, id), h('td', { colspan: me?.manageBuckets ? 2 : 1 }, errorBox(row)));
      }
      return h('tr', {}, h('th', { scope: 'row' }, h('a', { href: `/console/files?bucketId=${enc(id)}` }, id)),
        h('td', { class: 'num' }, (known?.files ?? 0).toLocaleString()),
        me?.manageBuckets ? h('td', { class: 'num' }, formatSize(known?.bytes ?? 0)) : null);
    })));
  main.replaceChildren(h('h1', {}, 'Overview'), h('section', { class: 'card', 'aria-label': 'Server' }, facts), h('div', { class: 'scroll' }, table));
}
