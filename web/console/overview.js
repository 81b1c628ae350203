// Overview: the server's version and readiness, its backends (for the admin key), and what each
// bucket holds.

import { enc } from './api.js';
import { h, errorBox } from './dom.js';

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
  const counts = await Promise.all(ids.map((id) => api.get(`/v1/files?bucketId=${enc(id)}&limit=1&count=true`)
    .then((p) => /** @type {number} */ (p.totalCount ?? 0), (e) => /** @type {unknown} */ (e))));
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Server'), h('dd', {}, `${version.name} ${version.version}`),
    h('dt', {}, 'Ready'), h('dd', { id: 'readiness' }, ready.ok ? 'ready' : `not ready (${JSON.stringify(ready.body)})`),
    h('dt', {}, 'Signed in as'), h('dd', {}, me?.kind === 'admin' ? 'the admin key' : `${me?.userId}${me?.tenantId ? ` in tenant ${me.tenantId}` : ''}${me?.roles.length ? ` (roles: ${me.roles.join(', ')})` : ''}`),
    me?.server ? [h('dt', {}, 'Database'), h('dd', {}, me.server.database), h('dt', {}, 'Storage'), h('dd', {}, me.server.storage)] : null);
  const table = h('table', { class: 'grid' },
    h('caption', {}, me?.kind === 'admin' ? 'Files per bucket' : 'Files you can read, per bucket'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Bucket'), h('th', { scope: 'col' }, 'Files'))),
    h('tbody', {}, ...ids.map((id, i) => {
      const n = counts[i];
      return h('tr', {}, h('th', { scope: 'row' }, h('a', { href: `/console/files?bucketId=${enc(id)}` }, id)),
        h('td', { class: 'num' }, typeof n === 'number' ? n.toLocaleString() : errorBox(n)));
    })));
  main.replaceChildren(h('h1', {}, 'Overview'), h('section', { class: 'card', 'aria-label': 'Server' }, facts), h('div', { class: 'scroll' }, table));
}
