// The console's shell: sign-in, navigation, the theme, and a router over the History API, so the
// address names the page and its filters (bookmarkable; back and forward work).

import { Api, loadCredentials, saveCredentials } from './api.js';
import { h, errorBox } from './dom.js';

/**
 * @typedef {import('./api.js').Credentials} Credentials
 * @typedef {{api: Api, main: HTMLElement, path: string[], params: URLSearchParams,
 *   navigate: (url: string, replace?: boolean) => void, signal: AbortSignal}} PageContext
 * @typedef {{render: (ctx: PageContext) => Promise<void>}} Page
 */

const BASE = '/console';

/** @type {Record<string, {title: string, load: () => Promise<Page>, admin?: boolean}>} */
const PAGES = {
  '': { title: 'Overview', load: () => import('./overview.js') },
  files: { title: 'Files', load: () => import('./files.js') },
  buckets: { title: 'Buckets', load: () => import('./buckets.js') },
  categories: { title: 'Categories', load: () => import('./categories.js') },
};

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const account = /** @type {HTMLElement} */ (document.getElementById('account'));

/** @type {Api | null} */
let api = null;
/** Aborted when the page is left, so that a page's listeners outside `main` go with it. */
let pageLife = new AbortController();

/** A token handed over in the address (`#token=…`) signs in, and leaves the address at once. */
function takeHandover() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get('token');
  if (!token) return;
  saveCredentials({ kind: 'token', secret: token });
  history.replaceState(null, '', location.pathname + location.search);
}

/** @param {string} url @param {boolean} [replace] */
function navigate(url, replace = false) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  void route();
}

function renderNav() {
  nav.replaceChildren();
  if (!api) return;
  const here = location.pathname.slice(BASE.length).split('/').filter(Boolean)[0] || '';
  for (const [key, page] of Object.entries(PAGES)) {
    const href = key ? `${BASE}/${key}` : BASE;
    nav.append(h('a', { href, 'aria-current': key === here ? 'page' : false }, page.title));
  }
  const who = api.identity;
  account.replaceChildren(
    h('span', { class: 'who' }, who?.kind === 'admin' ? 'Admin key' : `${who?.userId ?? ''}${who?.tenantId ? ` (${who.tenantId})` : ''}`),
    h('button', { type: 'button', onclick: signOut }, 'Sign out'),
  );
}

function signOut() {
  saveCredentials(null);
  api = null;
  account.replaceChildren();
  navigate(BASE);
}

/** @param {unknown} [error] */
function renderSignIn(error) {
  document.title = 'Sign in · Trove console';
  main.removeAttribute('aria-busy');
  nav.replaceChildren();
  const kind = h('select', { id: 'signin-kind', name: 'kind' },
    h('option', { value: 'admin' }, 'Admin key'),
    h('option', { value: 'token' }, 'User token (JWT)'));
  const secret = h('input', { id: 'signin-secret', name: 'secret', type: 'password', autocomplete: 'off', required: true });
  const form = h('form', { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to the Trove console'),
    error ? errorBox(error) : null,
    h('div', { class: 'field' }, h('label', { for: 'signin-kind' }, 'With'), kind),
    h('div', { class: 'field' }, h('label', { for: 'signin-secret' }, 'Key or token'), secret),
    h('p', { class: 'hint' }, 'Kept in this tab only (sessionStorage) until you sign out.'),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const credentials = /** @type {Credentials} */ ({ kind: kind.value, secret: secret.value.trim() });
    const candidate = new Api(credentials);
    try {
      await candidate.whoami();
    } catch (err) {
      renderSignIn(err);
      return;
    }
    saveCredentials(credentials);
    api = candidate;
    void route();
  });
  main.replaceChildren(form);
  secret.focus();
}

async function route() {
  if (!api) {
    const saved = loadCredentials();
    if (saved) {
      const candidate = new Api(saved);
      try {
        await candidate.whoami();
        api = candidate;
      } catch (e) {
        saveCredentials(null);
        renderSignIn(e);
        return;
      }
    } else {
      renderSignIn();
      return;
    }
  }
  const path = location.pathname.slice(BASE.length).split('/').filter(Boolean).map(decodeURIComponent);
  const page = PAGES[path[0] || ''];
  renderNav();
  if (!page) {
    main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: BASE }, 'Back to the overview')));
    main.removeAttribute('aria-busy');
    return;
  }
  document.title = `${page.title} · Trove console`;
  main.setAttribute('aria-busy', 'true');
  pageLife.abort();
  pageLife = new AbortController();
  try {
    const module = await page.load();
    await module.render({ api, main, path, params: new URLSearchParams(location.search), navigate, signal: pageLife.signal });
  } catch (e) {
    main.replaceChildren(h('h1', {}, page.title), errorBox(e));
  } finally {
    main.removeAttribute('aria-busy');
  }
}

// Links inside the console change the page without reloading it.
document.addEventListener('click', (e) => {
  const a = /** @type {Element} */ (e.target).closest?.('a');
  if (!a || !(a instanceof HTMLAnchorElement) || a.target || a.hasAttribute('download')) return;
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || !(url.pathname === BASE || url.pathname.startsWith(`${BASE}/`))) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => void route());

const THEME_KEY = 'trove-console-theme';
const themeButton = /** @type {HTMLButtonElement} */ (document.getElementById('theme'));
/** @param {string} theme */
function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  themeButton.textContent = `Theme: ${theme === 'light' || theme === 'dark' ? theme : 'system'}`;
}
themeButton.addEventListener('click', () => {
  const order = ['system', 'light', 'dark'];
  const current = localStorage.getItem(THEME_KEY) || 'system';
  const next = order[(order.indexOf(current) + 1) % order.length];
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
});
applyTheme(localStorage.getItem(THEME_KEY) || 'system');

takeHandover();
void route();
