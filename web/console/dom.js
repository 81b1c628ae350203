// Small helpers the pages share: building elements, formatting sizes and dates, dialogs, and
// showing Trove's errors (their code and message, never a blank screen).

/**
 * @typedef {Record<string, string | number | boolean | null | undefined | EventListener>} Attrs
 * @typedef {Node | string | number | null | undefined | false} Child
 */

/**
 * An element with attributes (`on…` keys become listeners; false and null are left out) and children.
 * @template {string} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {K extends keyof HTMLElementTagNameMap ? HTMLElementTagNameMap[K] : HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
  return /** @type {any} */ (el);
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Decimal units, as the API's limits are usually written (50 MB = 50,000,000 bytes). @param {number} bytes */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1).replace(/\.?0+$/, '')} ${UNITS[i]}`;
}

const FACTORS = /** @type {Record<string, number>} */ ({
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4,
});

/**
 * "50 MB", "1.5GiB", "4096" → bytes; null when the text is not a size.
 * @param {string} text
 * @returns {number | null}
 */
export function parseSize(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = (m[2] || 'b').toLowerCase();
  const factor = FACTORS[unit];
  if (!factor) return null;
  return Math.round(Number(m[1]) * factor);
}

/** @param {string | null | undefined} iso */
export function formatDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Seconds as the largest whole unit ("1 day", "90 s"). @param {number} s */
export function formatDuration(s) {
  for (const [unit, n] of /** @type {const} */ ([['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]])) {
    if (s >= n && s % n === 0) return `${s / n} ${unit}${s / n === 1 ? '' : 's'}`;
  }
  return `${s} s`;
}

/**
 * A box saying what went wrong: Trove's message and stable code.
 * @param {unknown} error
 */
export function errorBox(error) {
  const e = /** @type {{code?: string, message?: string, status?: number}} */ (error);
  const code = e && e.code ? e.code : 'error';
  const message = e && e.message ? e.message : String(error);
  return h('div', { class: 'error', role: 'alert' }, h('strong', {}, message), ' ', h('code', {}, code));
}

/** @param {string} text */
export function notice(text) {
  const region = document.getElementById('notices');
  if (!region) return;
  const item = h('p', { class: 'notice' }, text);
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

/**
 * A modal dialog asking to confirm; with `typed`, the person must type that text first.
 * @param {string} message
 * @param {{typed?: string, action?: string}} [options]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(message, options = {}) {
  return new Promise((resolve) => {
    const input = options.typed
      ? h('input', { id: 'confirm-typed', autocomplete: 'off', 'aria-describedby': 'confirm-message' })
      : null;
    const ok = h('button', { type: 'submit', class: 'danger', disabled: Boolean(options.typed) }, options.action || 'Delete');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    const form = h('form', { method: 'dialog' },
      h('p', { id: 'confirm-message' }, message),
      input && h('label', { for: 'confirm-typed' }, `Type ${options.typed} to confirm`),
      input,
      h('div', { class: 'actions' }, cancel, ok));
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-message' }, form);
    if (input) input.addEventListener('input', () => { ok.disabled = input.value !== options.typed; });
    /** @param {boolean} answer */
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener('click', () => finish(false));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      finish(!ok.disabled);
    });
    dialog.addEventListener('cancel', () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}

/**
 * A labelled form control.
 * @param {string} label
 * @param {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} control
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  const hintEl = hint ? h('small', { id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/**
 * A <select> of `options` ([value, label]) with `value` chosen.
 * @param {string} name
 * @param {Array<[string, string]>} options
 * @param {string} [value]
 */
export function select(name, options, value = '') {
  const s = h('select', { name });
  for (const [v, label] of options) s.append(h('option', { value: v, selected: v === value }, label));
  return s;
}

/** Copies text, saying so. @param {string} text @param {string} what */
export async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    notice(`${what} copied`);
  } catch {
    notice(`${what}: ${text}`);
  }
}
