// Trove's upload components: <trove-upload>, <trove-dropzone>, <trove-active-uploads> and the
// TroveClient they share. One ES module, no dependencies, no build step: served by Trove at
// /ui/trove-components.js. Uploads speak tus 1.0 to /v1/tus with the client below (chunked,
// retried, paused while offline, resumed after a reload from the server's list of unfinished
// uploads, matched by a fingerprint of the file).
//
// Types are JSDoc, checked by `tsc --noEmit --checkJs` in CI.

/**
 * @typedef {Record<string, any>} TroveFile A file as Trove's API returns it.
 * @typedef {{code: string, message: string, status: number}} TroveErrorBody
 * @typedef {{
 *   bucket?: string, category?: string, visibility?: string, access?: string,
 *   metadata?: Record<string, unknown>, associations?: Array<{entityName: string, entityReference: string}>,
 *   onProgress?: (loaded: number, total: number) => void, onStart?: () => void,
 *   onRetry?: (attempt: number, error: Error) => void, onStalled?: (stalled: boolean) => void,
 *   onUrl?: (url: string) => void, signal?: AbortSignal, resumeUrl?: string, relativePath?: string,
 * }} UploadOptions
 * @typedef {{file: TroveFile, protocol: string, offset: number, length: number | null,
 *   url: string, expiresAt: string, fingerprint: string | null}} Unfinished
 */

const CHUNK_SIZE = 8 * 1024 * 1024;
/** Delays before the automatic retries, in milliseconds; the counter resets after progress. */
const RETRY_DELAYS = [0, 1000, 3000, 5000];
const RETRY_STATUSES = new Set([409, 423, 429]);

/** An error answered by Trove (or the network), with Trove's stable code. */
export class TroveError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} status 0 for network failures
   */
  constructor(code, message, status) {
    super(message);
    this.name = 'TroveError';
    this.code = code;
    this.status = status;
  }

  /** Whether trying again may help. */
  get retryable() {
    return this.status === 0 || this.status >= 500 || RETRY_STATUSES.has(this.status);
  }
}

/**
 * @param {Response | XMLHttpRequest} res
 * @param {string} text
 */
function errorFrom(res, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error) return new TroveError(body.error.code, body.error.message, res.status);
  } catch {
    // not JSON: fall through
  }
  return new TroveError('http_' + res.status, text || `HTTP ${res.status}`, res.status);
}

/** @param {string} s */
function base64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * What identifies a file across reloads and devices: name, size, type and last change.
 * @param {File} file
 */
export function fingerprint(file) {
  return ['trove-v1', file.name, file.size, file.type, file.lastModified].join(':');
}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Resolves when the browser is online. @param {AbortSignal} [signal] */
function online(signal) {
  if (typeof navigator === 'undefined' || navigator.onLine !== false) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => resolve(undefined);
    window.addEventListener('online', done, { once: true });
    signal?.addEventListener('abort', () => {
      window.removeEventListener('online', done);
      reject(signal.reason);
    }, { once: true });
  });
}

/** The client of Trove's API the elements use; usable on its own. */
export class TroveClient {
  /**
   * @param {{endpoint?: string, token?: string, adminKey?: string, getToken?: () => Promise<string | null | undefined>, chunkSize?: number}} [options]
   */
  constructor(options = {}) {
    /** The server's base URL. */
    this.endpoint = (options.endpoint || defaultEndpoint()).replace(/\/+$/, '');
    /** @type {string | undefined} */
    this.token = options.token;
    /** Called for a fresh token before the first request, after a 401 and before a retry. */
    this.getToken = options.getToken;
    /** @type {string | undefined} The admin key, for consoles and tools run by the operator; wins over a token. */
    this.adminKey = options.adminKey;
    this.chunkSize = options.chunkSize || CHUNK_SIZE;
  }

  /**
   * The Authorization header, asking `getToken` first when there is no token or `fresh` is set.
   * @param {boolean} [fresh]
   * @returns {Promise<Record<string, string>>}
   */
  async authorization(fresh = false) {
    /** @type {Record<string, string>} */
    const headers = {};
    if (this.adminKey) {
      headers['x-trove-admin-key'] = this.adminKey;
      return headers;
    }
    if (this.getToken && (fresh || !this.token)) this.token = (await this.getToken()) || undefined;
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    return headers;
  }

  /**
   * A JSON request; a 401 asks `getToken` once more and tries again.
   * @param {string} method
   * @param {string} path
   * @param {{body?: unknown, headers?: Record<string, string>, signal?: AbortSignal}} [init]
   * @returns {Promise<any>}
   */
  async request(method, path, init = {}) {
    for (let attempt = 0; ; attempt++) {
      /** @type {Record<string, string>} */
      const headers = { ...(await this.authorization(attempt > 0)), ...(init.headers || {}) };
      /** @type {BodyInit | undefined} */
      let body;
      if (init.body !== undefined) {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(init.body);
      }
      let res;
      try {
        res = await fetch(this.url(path), { method, headers, body, signal: init.signal });
      } catch (e) {
        if (init.signal?.aborted) throw e;
        throw new TroveError('network', String(e), 0);
      }
      if (res.status === 401 && this.getToken && attempt === 0) continue;
      const text = await res.text();
      if (!res.ok) throw errorFrom(res, text);
      return text ? JSON.parse(text) : null;
    }
  }

  /** @param {string} path */
  url(path) {
    return /^https?:/.test(path) ? path : this.endpoint + path;
  }

  /** The caller's unfinished resumable uploads. @returns {Promise<Unfinished[]>} */
  async uploads() {
    const page = await this.request('GET', '/v1/uploads?protocol=tus&limit=1000');
    return page.uploads;
  }

  /** @param {Record<string, string>} [filters] */
  list(filters = {}) {
    return this.request('GET', '/v1/files?' + new URLSearchParams(filters));
  }

  /**
   * @param {string} id
   * @param {{expiresIn?: number, download?: boolean}} [options]
   */
  signedUrl(id, options = {}) {
    return this.request('POST', `/v1/files/${encodeURIComponent(id)}/signed-url`, { body: options });
  }

  /** @param {string} bucket */
  bucket(bucket) {
    return this.request('GET', `/v1/buckets/${encodeURIComponent(bucket)}`);
  }

  /** @param {string} key */
  category(key) {
    return this.request('GET', `/v1/categories/${encodeURIComponent(key)}`);
  }

  /**
   * Uploads a file over tus, continuing an unfinished upload of the same file when the server
   * has one; resolves with the stored File.
   * @param {File} file
   * @param {UploadOptions} [options]
   * @returns {Promise<TroveFile>}
   */
  async upload(file, options = {}) {
    const signal = options.signal;
    const fp = fingerprint(file);
    let url = options.resumeUrl;
    if (!url) {
      const previous = (await this.uploads().catch(() => [])).find((u) => u.fingerprint === fp);
      url = previous?.url;
    }
    let offset = 0;
    if (url) {
      const at = await this.head(url, signal).catch(() => null);
      if (at === null) url = undefined;
      else offset = at;
    }
    if (!url) url = await this.create(file, fp, options);
    options.onUrl?.(url);
    options.onStart?.();
    options.onProgress?.(offset, file.size);
    let attempt = 0;
    /** @type {string | null} */
    let fileId = null;
    while (fileId === null) {
      if (offset === file.size && file.size > 0) {
        fileId = await this.finishedId(url, signal);
        if (fileId) break;
      }
      try {
        await online(signal);
        const end = Math.min(offset + this.chunkSize, file.size);
        const res = await this.patch(url, file.slice(offset, end), offset, signal, (sent) =>
          options.onProgress?.(offset + sent, file.size),
        );
        const next = Number(res.offset);
        if (next > offset) attempt = 0;
        offset = next;
        options.onStalled?.(false);
        if (res.fileId) fileId = res.fileId;
        else if (file.size === 0) fileId = await this.finishedId(url, signal);
      } catch (e) {
        if (signal?.aborted) throw e;
        const error = e instanceof TroveError ? e : new TroveError('network', String(e), 0);
        if (error.status === 401 && this.getToken) {
          await this.authorization(true);
          continue;
        }
        if (!error.retryable || attempt >= RETRY_DELAYS.length) throw error;
        options.onRetry?.(attempt + 1, error);
        options.onStalled?.(true);
        await sleep(RETRY_DELAYS[attempt++], signal);
        await this.authorization(true).catch(() => undefined);
        // The server's offset is the truth after any failure.
        const at = await this.head(url, signal).catch(() => null);
        if (at !== null) offset = at;
      }
    }
    options.onProgress?.(file.size, file.size);
    return this.request('GET', `/v1/files/${encodeURIComponent(fileId)}`, { signal });
  }

  /**
   * @param {File} file
   * @param {string} fp
   * @param {UploadOptions} options
   */
  async create(file, fp, options) {
    /** @type {Record<string, string>} */
    const meta = { filename: file.name, fingerprint: fp };
    if (file.type) meta.filetype = file.type;
    if (options.bucket) meta.bucketId = options.bucket;
    if (options.category) meta.category = options.category;
    if (options.visibility) meta.visibility = options.visibility;
    if (options.access) meta.access = options.access;
    const metadata = { ...(options.metadata || {}) };
    if (options.relativePath) metadata.relativePath = options.relativePath;
    if (Object.keys(metadata).length) meta.metadata = JSON.stringify(metadata);
    if (options.associations?.length) meta.associations = JSON.stringify(options.associations);
    const header = Object.entries(meta)
      .map(([k, v]) => `${k} ${base64(v)}`)
      .join(',');
    for (let attempt = 0; ; attempt++) {
      const res = await this.raw('POST', '/v1/tus', {
        'Upload-Length': String(file.size),
        'Upload-Metadata': header,
      }, undefined, options.signal, attempt > 0);
      if (res.status === 401 && this.getToken && attempt === 0) continue;
      if (res.status !== 201) throw errorFrom(res, await res.text());
      const location = res.headers.get('Location');
      if (!location) throw new TroveError('protocol', 'the server gave no upload URL', res.status);
      return new URL(location, this.endpoint + '/').href;
    }
  }

  /**
   * @param {string} method
   * @param {string} url
   * @param {Record<string, string>} headers
   * @param {BodyInit | undefined} body
   * @param {AbortSignal | undefined} signal
   * @param {boolean} [fresh]
   */
  async raw(method, url, headers, body, signal, fresh = false) {
    try {
      return await fetch(this.url(url), {
        method,
        body,
        signal,
        headers: { 'Tus-Resumable': '1.0.0', ...(await this.authorization(fresh)), ...headers },
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new TroveError('network', String(e), 0);
    }
  }

  /** The server's offset of an upload. @param {string} url @param {AbortSignal} [signal] */
  async head(url, signal) {
    const res = await this.raw('HEAD', url, {}, undefined, signal);
    if (!res.ok) throw errorFrom(res, '');
    return Number(res.headers.get('Upload-Offset') || 0);
  }

  /** The file id of a finished upload, or null. @param {string} url @param {AbortSignal} [signal] */
  async finishedId(url, signal) {
    const res = await this.raw('HEAD', url, {}, undefined, signal);
    return res.ok ? res.headers.get('Trove-File-Id') : null;
  }

  /** Ends an unfinished upload on the server. @param {string} url */
  async terminate(url) {
    const res = await this.raw('DELETE', url, {}, undefined, undefined);
    if (!res.ok && res.status !== 404) throw errorFrom(res, await res.text());
  }

  /**
   * One PATCH with upload progress (XMLHttpRequest: fetch reports none for request bodies).
   * @param {string} url
   * @param {Blob} chunk
   * @param {number} offset
   * @param {AbortSignal | undefined} signal
   * @param {(sent: number) => void} progress
   * @returns {Promise<{offset: string, fileId: string | null}>}
   */
  async patch(url, chunk, offset, signal, progress) {
    const auth = await this.authorization();
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PATCH', this.url(url));
      xhr.setRequestHeader('Tus-Resumable', '1.0.0');
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      xhr.setRequestHeader('Upload-Offset', String(offset));
      for (const [k, v] of Object.entries(auth)) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => progress(e.loaded);
      xhr.onload = () => {
        if (xhr.status === 204) {
          resolve({
            offset: xhr.getResponseHeader('Upload-Offset') || String(offset),
            fileId: xhr.getResponseHeader('Trove-File-Id'),
          });
        } else {
          reject(errorFrom(xhr, xhr.responseText));
        }
      };
      xhr.onerror = () => reject(new TroveError('network', 'the connection failed', 0));
      xhr.ontimeout = xhr.onerror;
      const abort = () => {
        xhr.abort();
        reject(signal?.reason ?? new DOMException('aborted', 'AbortError'));
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      xhr.send(chunk);
    });
  }
}

/** The origin this module was loaded from: Trove itself. */
function defaultEndpoint() {
  try {
    return new URL(import.meta.url).origin;
  } catch {
    return location.origin;
  }
}

// ---------------------------------------------------------------------------------------------
// The upload manager: one per group, shared by every element of the group.

/** @typedef {'queued'|'uploading'|'paused'|'stalled'|'retrying'|'done'|'failed'|'interrupted'} UploadState */

/** The texts of the elements; replace any of them through the `i18n` property. */
export const defaultI18n = {
  choose: 'Choose files',
  drop: 'Drop files here, or click to choose',
  uploads: 'Uploads',
  pause: 'Pause',
  resume: 'Resume',
  cancel: 'Cancel',
  retry: 'Retry',
  dismiss: 'Dismiss',
  open: 'Open',
  /** @type {Record<UploadState, string>} */
  states: {
    queued: 'Queued',
    uploading: 'Uploading',
    paused: 'Paused',
    stalled: 'Stalled',
    retrying: 'Retrying',
    done: 'Done',
    failed: 'Failed',
    interrupted: 'Interrupted — select the file again to continue',
  },
  /** @param {string} name */
  started: (name) => `Uploading ${name}`,
  /** @param {string} name @param {number} percent */
  progress: (name, percent) => `${name}: ${percent} %`,
  /** @param {string} name */
  succeeded: (name) => `${name} uploaded`,
  /** @param {string} name @param {string} message */
  failedTo: (name, message) => `${name} failed: ${message}`,
  tooLarge: (/** @type {string} */ max) => `larger than ${max}`,
  wrongType: 'a type this place does not accept',
  tooMany: (/** @type {number} */ max) => `more than ${max} files at once`,
  /** @param {number} bytes */
  formatSize(bytes) {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    let n = bytes;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
  },
  /** @param {number} seconds */
  formatTime(seconds) {
    if (!Number.isFinite(seconds)) return '';
    const s = Math.max(0, Math.round(seconds));
    return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
  },
};

/** @typedef {typeof defaultI18n} I18n */

let nextItemId = 1;

/** One upload as the elements show it. */
export class UploadItem {
  /**
   * @param {{name: string, size: number, fingerprint: string}} what
   */
  constructor(what) {
    this.id = nextItemId++;
    this.name = what.name;
    this.size = what.size;
    this.fingerprint = what.fingerprint;
    /** @type {UploadState} */
    this.state = 'queued';
    this.loaded = 0;
    /** Bytes per second, smoothed. */
    this.speed = 0;
    /** @type {File | null} */
    this.file = null;
    /** @type {UploadOptions} */
    this.options = {};
    /** @type {TroveFile | null} */
    this.result = null;
    /** @type {TroveError | null} */
    this.error = null;
    /** @type {string | undefined} */
    this.url = undefined;
    /** @type {AbortController | null} */
    this.controller = null;
    /** @type {EventTarget | null} */
    this.source = null;
    this.lastTick = 0;
    this.lastLoaded = 0;
    this.announced = 0;
  }

  get percent() {
    return this.size ? Math.floor((this.loaded / this.size) * 100) : this.state === 'done' ? 100 : 0;
  }

  /** Seconds left at the current speed. */
  get timeLeft() {
    return this.speed > 0 ? (this.size - this.loaded) / this.speed : Infinity;
  }
}

/** Uploads of one group: a queue with a concurrency limit, and the state every element shows. */
export class UploadManager extends EventTarget {
  constructor() {
    super();
    this.client = new TroveClient();
    /** @type {UploadItem[]} */
    this.items = [];
    this.maxConcurrent = 3;
    /** @type {((text: string) => void) | null} */
    this.announce = null;
    this.interruptedLoaded = false;
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }

  /**
   * Queues a file; an interrupted upload of the same file continues from the server's offset.
   * @param {File} file
   * @param {UploadOptions} options
   * @param {EventTarget} source the element whose events report this upload
   */
  add(file, options, source) {
    const fp = fingerprint(file);
    let item = this.items.find((i) => i.fingerprint === fp && ['interrupted', 'failed', 'paused'].includes(i.state));
    if (!item) {
      item = new UploadItem({ name: file.name, size: file.size, fingerprint: fp });
      this.items.push(item);
    }
    item.file = file;
    item.options = { ...options, resumeUrl: item.url };
    item.source = source;
    item.state = 'queued';
    item.error = null;
    this.changed();
    this.pump();
    return item;
  }

  pump() {
    const running = this.items.filter((i) => ['uploading', 'stalled', 'retrying'].includes(i.state)).length;
    const next = this.items.filter((i) => i.state === 'queued').slice(0, Math.max(0, this.maxConcurrent - running));
    for (const item of next) this.run(item);
  }

  /**
   * @param {UploadItem} item
   * @param {string} type
   * @param {Record<string, unknown>} detail
   */
  emit(item, type, detail) {
    const target = item.source instanceof Node && item.source.isConnected ? item.source : document;
    target.dispatchEvent(new CustomEvent(type, { bubbles: true, composed: true, detail: { ...detail, upload: item } }));
  }

  /** @param {UploadItem} item */
  async run(item) {
    const file = item.file;
    if (!file) return;
    const controller = new AbortController();
    item.controller = controller;
    item.state = 'uploading';
    item.lastTick = performance.now();
    item.lastLoaded = item.loaded;
    this.changed();
    try {
      const result = await this.client.upload(file, {
        ...item.options,
        signal: controller.signal,
        onStart: () => {
          this.emit(item, 'trove-upload-start', { file });
          this.announce?.(i18nOf(item.source).started(item.name));
        },
        onProgress: (loaded, total) => this.progress(item, loaded, total),
        onRetry: () => {
          item.state = 'retrying';
          this.changed();
        },
        onStalled: (stalled) => {
          item.state = stalled ? 'stalled' : 'uploading';
          this.changed();
        },
        onUrl: (/** @type {string} */ url) => {
          item.url = url;
        },
      });
      item.state = 'done';
      item.result = result;
      item.loaded = item.size;
      this.emit(item, 'trove-upload-success', { file: result });
      this.announce?.(i18nOf(item.source).succeeded(item.name));
    } catch (e) {
      if (controller.signal.aborted) return;
      item.state = 'failed';
      item.error = e instanceof TroveError ? e : new TroveError('error', String(e), 0);
      this.emit(item, 'trove-upload-error', { error: { code: item.error.code, message: item.error.message } });
      this.announce?.(i18nOf(item.source).failedTo(item.name, item.error.message));
    } finally {
      if (item.controller === controller) item.controller = null;
      this.changed();
      this.pump();
    }
  }

  /**
   * @param {UploadItem} item
   * @param {number} loaded
   * @param {number} total
   */
  progress(item, loaded, total) {
    const now = performance.now();
    const dt = (now - item.lastTick) / 1000;
    if (dt >= 0.5) {
      const rate = (loaded - item.lastLoaded) / dt;
      item.speed = item.speed ? item.speed * 0.7 + rate * 0.3 : rate;
      item.lastTick = now;
      item.lastLoaded = loaded;
    }
    item.loaded = loaded;
    item.size = total;
    this.emit(item, 'trove-upload-progress', { loaded, total });
    const quarter = Math.floor(item.percent / 25) * 25;
    if (quarter > item.announced && quarter < 100) {
      item.announced = quarter;
      this.announce?.(i18nOf(item.source).progress(item.name, quarter));
    }
    this.changed();
  }

  /** Stops sending; the server keeps what it has. @param {UploadItem} item */
  pause(item) {
    if (!item.controller) return;
    item.controller.abort();
    item.controller = null;
    item.state = 'paused';
    this.changed();
    this.pump();
  }

  /** @param {UploadItem} item */
  resume(item) {
    if (item.state !== 'paused' && item.state !== 'failed') return;
    item.options = { ...item.options, resumeUrl: item.url };
    item.state = 'queued';
    item.error = null;
    this.changed();
    this.pump();
  }

  /** Stops the upload and removes its bytes from the server. @param {UploadItem} item */
  async cancel(item) {
    item.controller?.abort();
    item.controller = null;
    this.items = this.items.filter((i) => i !== item);
    this.emit(item, 'trove-upload-cancel', { file: item.file });
    this.changed();
    this.pump();
    if (item.url) await this.client.terminate(item.url).catch(() => undefined);
  }

  /** @param {UploadItem} item */
  dismiss(item) {
    if (item.controller) return;
    this.items = this.items.filter((i) => i !== item);
    this.changed();
  }

  /** Lists the server's unfinished uploads of this user, once, as interrupted. */
  async loadInterrupted() {
    if (this.interruptedLoaded) return;
    this.interruptedLoaded = true;
    let unfinished;
    try {
      unfinished = await this.client.uploads();
    } catch {
      this.interruptedLoaded = false;
      return;
    }
    for (const u of unfinished) {
      if (!u.fingerprint || this.items.some((i) => i.fingerprint === u.fingerprint)) continue;
      const item = new UploadItem({ name: u.file.name, size: u.length ?? 0, fingerprint: u.fingerprint });
      item.state = 'interrupted';
      item.loaded = u.offset;
      item.url = u.url;
      this.items.push(item);
    }
    this.changed();
  }
}

/** @type {Map<string, UploadManager>} */
const managers = new Map();

/** The manager of a group of elements (the default group is ''). @param {string} group */
export function managerFor(group) {
  let m = managers.get(group);
  if (!m) {
    m = new UploadManager();
    managers.set(group, m);
  }
  return m;
}

/** @param {EventTarget | null} source @returns {I18n} */
function i18nOf(source) {
  return source instanceof TroveElement ? source.i18n : defaultI18n;
}

// ---------------------------------------------------------------------------------------------
// Elements.

const STYLE = `
:host {
  --trove-color: #1f2933; --trove-background: #ffffff; --trove-accent: #2563eb;
  --trove-accent-text: #ffffff; --trove-muted: #52606d; --trove-border: #cbd2d9;
  --trove-danger: #b91c1c; --trove-success: #047857; --trove-radius: 8px;
  --trove-spacing: 0.75rem; --trove-font: system-ui, sans-serif;
  font-family: var(--trove-font); color: var(--trove-color);
}
@media (prefers-color-scheme: dark) {
  :host {
    --trove-color: #e4e7eb; --trove-background: #1f2933; --trove-accent: #60a5fa;
    --trove-accent-text: #0b1726; --trove-muted: #9aa5b1; --trove-border: #52606d;
    --trove-danger: #f87171; --trove-success: #34d399;
  }
}
:host([hidden]) { display: none; }
button {
  font: inherit; border-radius: var(--trove-radius); padding: calc(var(--trove-spacing) / 2) var(--trove-spacing);
  border: 1px solid var(--trove-accent); background: var(--trove-accent); color: var(--trove-accent-text); cursor: pointer;
}
button.secondary { background: transparent; color: var(--trove-accent); }
button:disabled { opacity: 0.5; cursor: not-allowed; }
:focus-visible { outline: 3px solid var(--trove-accent); outline-offset: 2px; }
.area {
  display: block; border: 2px dashed var(--trove-border); border-radius: var(--trove-radius);
  padding: calc(var(--trove-spacing) * 2); text-align: center; background: var(--trove-background); cursor: pointer;
  transition: border-color 0.15s, background 0.15s;
}
:host([dragover]) .area { border-color: var(--trove-accent); background: color-mix(in srgb, var(--trove-accent) 10%, var(--trove-background)); }
:host([disabled]) .area { opacity: 0.5; cursor: not-allowed; }
ul { list-style: none; margin: 0; padding: 0; display: grid; gap: var(--trove-spacing); }
li { border: 1px solid var(--trove-border); border-radius: var(--trove-radius); padding: var(--trove-spacing); background: var(--trove-background); }
.line { display: flex; gap: var(--trove-spacing); align-items: baseline; flex-wrap: wrap; }
.name { font-weight: 600; overflow-wrap: anywhere; flex: 1; }
.meta, .status { color: var(--trove-muted); font-size: 0.9em; }
.status[data-state="failed"] { color: var(--trove-danger); }
.status[data-state="done"] { color: var(--trove-success); }
.track { height: 6px; border-radius: 3px; background: var(--trove-border); margin: calc(var(--trove-spacing) / 2) 0; overflow: hidden; }
.fill { height: 100%; background: var(--trove-accent); transition: width 0.2s; }
.actions { display: flex; gap: calc(var(--trove-spacing) / 2); }
.actions button { padding: 0.2rem 0.6rem; font-size: 0.9em; }
a { color: var(--trove-accent); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (prefers-reduced-motion: reduce) { .fill, .area { transition: none; } }
`;

/** @type {CSSStyleSheet | null} */
let sharedSheet = null;

/**
 * The components' style for a shadow root: one constructed sheet shared by every instance where
 * the browser has them, which also keeps the components working under a Content-Security-Policy
 * without `style-src 'unsafe-inline'`; a `<style>` element elsewhere.
 * @param {ShadowRoot} root
 * @returns {string} markup to put before the root's content
 */
function adoptStyle(root) {
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sharedSheet) {
      sharedSheet = new CSSStyleSheet();
      sharedSheet.replaceSync(STYLE);
    }
    root.adoptedStyleSheets = [sharedSheet];
    return '';
  }
  return `<style>${STYLE}</style>`;
}

/** @param {string} s */
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Whether a file's type or name matches one pattern of `accept` (`image/*`, `.pdf`, `text/plain`)
 * or of a bucket's `allowedMimeTypes`.
 * @param {File} file
 * @param {string} pattern
 */
function matches(file, pattern) {
  const p = pattern.trim().toLowerCase();
  if (!p || p === '*/*' || p === '*') return true;
  if (p.startsWith('.')) return file.name.toLowerCase().endsWith(p);
  const type = (file.type || 'application/octet-stream').toLowerCase();
  return p.endsWith('/*') ? type.startsWith(p.slice(0, -1)) : type === p;
}

/** Shared by every element: the group's manager, the token, texts and a live region. */
class TroveElement extends HTMLElement {
  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    /** @type {I18n} */
    this._i18n = defaultI18n;
    /** @type {string | undefined} */
    this._token = undefined;
    /** @type {(() => Promise<string | null | undefined>) | undefined} */
    this._getToken = undefined;
    /** @type {string | undefined} */
    this._adminKey = undefined;
    /** Called when the group's uploads change; only the list shows them. */
    this.onChange = () => {};
    /** @param {string} text */
    this.announcer = (text) => this.say(text);
  }

  /** @returns {I18n} */
  get i18n() {
    return this._i18n;
  }

  set i18n(value) {
    this._i18n = { ...defaultI18n, ...value };
    this.render();
  }

  get token() {
    return this._token ?? this.getAttribute('token') ?? undefined;
  }

  set token(value) {
    this._token = value;
    this.signedIn();
  }

  /** An async callback that returns a fresh token; called again on a 401 and before a retry. */
  get getToken() {
    return this._getToken;
  }

  set getToken(value) {
    this._getToken = value;
    this.signedIn();
  }

  /** The admin key instead of a token (an operator's console); never put it in a page for users. */
  get adminKey() {
    return this._adminKey;
  }

  set adminKey(value) {
    this._adminKey = value;
    this.signedIn();
  }

  signedIn() {
    this.configure();
    if (this.isConnected) this.manager.loadInterrupted();
  }

  get manager() {
    return managerFor(this.getAttribute('group') || '');
  }

  /** Points the group's client at this element's endpoint and credentials. */
  configure() {
    const client = this.manager.client;
    const endpoint = this.getAttribute('endpoint');
    if (endpoint) client.endpoint = endpoint.replace(/\/+$/, '');
    if (this.token) client.token = this.token;
    if (this.adminKey) client.adminKey = this.adminKey;
    if (this.getToken) client.getToken = this.getToken;
    const max = Number(this.getAttribute('max-concurrent'));
    if (max > 0) this.manager.maxConcurrent = max;
  }

  connectedCallback() {
    this.configure();
    this.manager.addEventListener('change', this.onChange);
    // One element of the group speaks for it, so that nothing is announced twice.
    if (!this.manager.announce) this.manager.announce = this.announcer;
    this.render();
    if (this.token || this.getToken || this.adminKey) this.manager.loadInterrupted();
  }

  disconnectedCallback() {
    this.manager.removeEventListener('change', this.onChange);
    if (this.manager.announce === this.announcer) this.manager.announce = null;
  }

  /** @param {string} text */
  say(text) {
    const live = this.root.querySelector('[aria-live]');
    if (live) live.textContent = text;
  }

  render() {}
}

/** Shared by the button and the drop zone: turning chosen files into uploads, within the rules. */
class TroveUploadSource extends TroveElement {
  static get observedAttributes() {
    return ['label', 'disabled', 'accept', 'multiple', 'directory'];
  }

  attributeChangedCallback() {
    if (this.isConnected) this.render();
  }

  get disabled() {
    return this.hasAttribute('disabled');
  }

  /** The options of uploads started here. @returns {UploadOptions} */
  uploadOptions() {
    /** @param {string} name */
    const json = (name) => {
      const v = this.getAttribute(name);
      return v ? JSON.parse(v) : undefined;
    };
    return {
      bucket: this.getAttribute('bucket') || undefined,
      category: this.getAttribute('category') || undefined,
      visibility: this.getAttribute('visibility') || undefined,
      access: this.getAttribute('access') || undefined,
      metadata: json('metadata'),
      associations: json('associations'),
    };
  }

  /** The strictest of the bucket's, the category's and this element's rules. */
  async rules() {
    const client = this.manager.client;
    const bucket = this.getAttribute('bucket');
    const category = this.getAttribute('category');
    /** @type {number[]} */
    const maxSizes = [];
    /** @type {string[][]} */
    const typeLists = [];
    const maxAttr = Number(this.getAttribute('max-size'));
    if (maxAttr > 0) maxSizes.push(maxAttr);
    const accept = this.getAttribute('accept');
    if (accept) typeLists.push(accept.split(','));
    const [b, c] = await Promise.all([
      client.bucket(bucket || 'default').catch(() => null),
      category ? client.category(category).catch(() => null) : null,
    ]);
    if (b) {
      maxSizes.push(b.maxUploadFileSize);
      if (b.allowedMimeTypes?.length) typeLists.push(b.allowedMimeTypes);
    }
    if (c) {
      if (c.maxSize) maxSizes.push(c.maxSize);
      if (c.allowedMimeTypes?.length) typeLists.push(c.allowedMimeTypes);
    }
    return {
      maxSize: maxSizes.length ? Math.min(...maxSizes) : Infinity,
      typeLists,
      maxFiles: Number(this.getAttribute('max-files')) || Infinity,
    };
  }

  /**
   * Checks each file against the rules and queues those that pass; the others are refused at
   * once (`trove-upload-reject`) and never sent.
   * @param {Array<{file: File, relativePath?: string}>} chosen
   */
  async take(chosen) {
    if (this.disabled || !chosen.length) return;
    this.configure();
    const rules = await this.rules();
    const t = this.i18n;
    chosen.forEach(({ file, relativePath }, index) => {
      let reason = null;
      if (index >= rules.maxFiles) reason = t.tooMany(rules.maxFiles);
      else if (file.size > rules.maxSize) reason = t.tooLarge(t.formatSize(rules.maxSize));
      else if (!rules.typeLists.every((list) => list.some((p) => matches(file, p)))) reason = t.wrongType;
      if (reason) {
        this.dispatchEvent(new CustomEvent('trove-upload-reject', { bubbles: true, composed: true, detail: { file, reason } }));
        this.say(`${file.name}: ${reason}`);
        return;
      }
      this.manager.add(file, { ...this.uploadOptions(), relativePath }, this);
    });
  }

  openPicker() {
    if (this.disabled) return;
    /** @type {HTMLInputElement | null} */
    const input = this.root.querySelector('input[type=file]');
    input?.click();
  }

  /** @param {Event} e */
  picked(e) {
    const input = /** @type {HTMLInputElement} */ (e.target);
    const files = Array.from(input.files || [])
      .map((file) => ({ file, relativePath: file.webkitRelativePath || undefined }))
      .sort((a, b) => (a.relativePath && b.relativePath ? a.relativePath.localeCompare(b.relativePath) : 0));
    input.value = '';
    this.take(files);
  }

  /** The hidden file input, made once and kept in step with the attributes. */
  syncInput() {
    let input = /** @type {HTMLInputElement | null} */ (this.root.querySelector('input[type=file]'));
    if (!input) {
      input = document.createElement('input');
      input.type = 'file';
      input.hidden = true;
      input.tabIndex = -1;
      input.addEventListener('change', (e) => this.picked(e));
      this.root.append(input);
    }
    input.multiple = this.hasAttribute('multiple') || this.localName === 'trove-dropzone';
    // `directory`: the selector picks a folder (every file inside, with its relative path).
    input.webkitdirectory = this.hasAttribute('directory');
    const accept = this.getAttribute('accept');
    if (accept) input.accept = accept;
    else input.removeAttribute('accept');
  }
}

/** `<trove-upload>`: a button that opens the file selector. */
export class TroveUpload extends TroveUploadSource {
  render() {
    if (!this.root.querySelector('button')) {
      this.root.innerHTML = `${adoptStyle(this.root)}<button part="button" type="button"></button>
        <div class="sr-only" aria-live="polite" part="announcer"></div>`;
      this.root.querySelector('button')?.addEventListener('click', () => this.openPicker());
    }
    const button = /** @type {HTMLButtonElement} */ (this.root.querySelector('button'));
    button.textContent = this.getAttribute('label') || this.i18n.choose;
    button.disabled = this.disabled;
    this.syncInput();
  }
}

/** `<trove-dropzone>`: a drop area that also opens the selector and takes pasted files and folders. */
export class TroveDropzone extends TroveUploadSource {
  connectedCallback() {
    super.connectedCallback();
    this.addEventListener('dragenter', this.onDrag);
    this.addEventListener('dragover', this.onDrag);
    this.addEventListener('dragleave', this.onLeave);
    this.addEventListener('drop', this.onDrop);
    this.addEventListener('paste', this.onPaste);
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    this.removeEventListener('dragenter', this.onDrag);
    this.removeEventListener('dragover', this.onDrag);
    this.removeEventListener('dragleave', this.onLeave);
    this.removeEventListener('drop', this.onDrop);
    this.removeEventListener('paste', this.onPaste);
  }

  /** @param {DragEvent} e */
  onDrag = (e) => {
    e.preventDefault();
    if (!this.disabled) this.setAttribute('dragover', '');
  };

  onLeave = () => this.removeAttribute('dragover');

  /** @param {DragEvent} e */
  onDrop = async (e) => {
    e.preventDefault();
    this.removeAttribute('dragover');
    if (this.disabled || !e.dataTransfer) return;
    const entries = Array.from(e.dataTransfer.items || [])
      .map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null));
    if (entries.length && entries.every(Boolean)) {
      /** @type {Array<{file: File, relativePath?: string}>} */
      const files = [];
      for (const entry of entries) if (entry) await collect(entry, files);
      this.take(files);
    } else {
      this.take(Array.from(e.dataTransfer.files).map((file) => ({ file })));
    }
  };

  /** @param {ClipboardEvent} e */
  onPaste = (e) => {
    const files = Array.from(e.clipboardData?.files || []);
    if (!files.length) return;
    e.preventDefault();
    this.take(files.map((file) => ({ file })));
  };

  render() {
    if (!this.root.querySelector('.area')) {
      this.root.innerHTML = `${adoptStyle(this.root)}
        <div class="area" part="drop-area" role="button"><slot></slot></div>
        <div class="sr-only" aria-live="polite" part="announcer"></div>`;
      const area = /** @type {HTMLElement} */ (this.root.querySelector('.area'));
      area.addEventListener('click', () => this.openPicker());
      area.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          this.openPicker();
        }
      });
    }
    const area = /** @type {HTMLElement} */ (this.root.querySelector('.area'));
    area.tabIndex = this.disabled ? -1 : 0;
    area.setAttribute('aria-disabled', String(this.disabled));
    const slot = /** @type {HTMLSlotElement} */ (this.root.querySelector('slot'));
    slot.textContent = this.getAttribute('label') || this.i18n.drop;
    this.syncInput();
  }
}

/**
 * Every file under a dropped entry, in name order, with its path relative to what was dropped.
 * @param {FileSystemEntry} entry
 * @param {Array<{file: File, relativePath?: string}>} out
 */
async function collect(entry, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) =>
      /** @type {FileSystemFileEntry} */ (entry).file(resolve, reject),
    );
    const path = entry.fullPath.replace(/^\//, '');
    out.push({ file: /** @type {File} */ (file), relativePath: path.includes('/') ? path : undefined });
    return;
  }
  const reader = /** @type {FileSystemDirectoryEntry} */ (entry).createReader();
  /** @type {FileSystemEntry[]} */
  const children = [];
  for (;;) {
    /** @type {FileSystemEntry[]} */
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    children.push(...batch);
  }
  children.sort((a, b) => a.name.localeCompare(b.name));
  for (const child of children) await collect(child, out);
}

/**
 * @typedef {{li: HTMLLIElement, name: HTMLElement, size: HTMLElement, bar: HTMLElement,
 *   fill: HTMLElement, status: HTMLElement, actions: HTMLElement, actionsKey: string}} Row
 */

/**
 * `<trove-active-uploads>`: every upload of the group, with progress and actions. Rows are kept
 * and updated in place, so a button under the pointer stays the same element while bytes move.
 */
export class TroveActiveUploads extends TroveElement {
  constructor() {
    super();
    this.frame = 0;
    /** @type {Map<number, Row>} */
    this.rows = new Map();
    /** @type {HTMLUListElement | null} */
    this.list = null;
    this.onChange = () => {
      if (!this.frame) this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    };
  }

  /** The list and the live region, made once. */
  frameOnce() {
    if (this.list) return this.list;
    this.root.innerHTML = `${adoptStyle(this.root)}<ul part="list"></ul>
      <div class="sr-only" aria-live="polite" part="announcer"></div>`;
    const list = /** @type {HTMLUListElement} */ (this.root.querySelector('ul'));
    list.addEventListener('click', (e) => {
      const link = /** @type {HTMLAnchorElement | null} */ (/** @type {HTMLElement} */ (e.target).closest('a[data-file]'));
      if (link) {
        // The content needs credentials: open it through a signed URL (or its public URL).
        e.preventDefault();
        const id = link.dataset.file || '';
        const item = this.manager.items.find((i) => i.result?.id === id);
        const opened = window.open('', '_blank');
        this.manager.client
          .signedUrl(id)
          .then((signed) => signed.url)
          .catch(() => item?.result?.url)
          .then((url) => {
            if (url && opened) opened.location.href = url;
            else opened?.close();
          });
        return;
      }
      const button = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest('button[data-act]'));
      const item = button && this.manager.items.find((i) => String(i.id) === button.dataset.id);
      if (!button || !item) return;
      const m = this.manager;
      const act = /** @type {'pause'|'resume'|'retry'|'cancel'|'dismiss'} */ (button.dataset.act);
      ({ pause: () => m.pause(item), resume: () => m.resume(item), retry: () => m.resume(item), cancel: () => m.cancel(item), dismiss: () => m.dismiss(item) })[act]();
    });
    this.list = list;
    return list;
  }

  /** @param {UploadItem} item @returns {Row} */
  row(item) {
    const existing = this.rows.get(item.id);
    if (existing) return existing;
    const li = document.createElement('li');
    li.setAttribute('part', 'row');
    li.innerHTML = `<div class="line"><span class="name" part="name"></span><span class="meta" part="size"></span></div>
      <div class="track" part="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100"><div class="fill"></div></div>
      <div class="line"><span class="status" part="status"></span><span class="actions"></span></div>`;
    /** @param {string} sel */
    const q = (sel) => /** @type {HTMLElement} */ (li.querySelector(sel));
    const row = { li, name: q('.name'), size: q('.meta'), bar: q('.track'), fill: q('.fill'), status: q('.status'), actions: q('.actions'), actionsKey: '' };
    this.rows.set(item.id, row);
    return row;
  }

  render() {
    const t = this.i18n;
    const list = this.frameOnce();
    list.setAttribute('aria-label', t.uploads);
    const items = this.manager.items;
    for (const [id, row] of this.rows) {
      if (!items.some((i) => i.id === id)) {
        row.li.remove();
        this.rows.delete(id);
      }
    }
    items.forEach((item, index) => {
      const row = this.row(item);
      if (list.children[index] !== row.li) list.insertBefore(row.li, list.children[index] ?? null);
      const busy = ['uploading', 'stalled', 'retrying'].includes(item.state);
      row.li.dataset.state = item.state;
      row.name.textContent = item.name;
      row.size.textContent = t.formatSize(item.size);
      row.bar.setAttribute('aria-label', item.name);
      row.bar.setAttribute('aria-valuenow', String(item.percent));
      row.fill.style.width = `${item.percent}%`;
      row.status.dataset.state = item.state;
      const detail = busy && item.speed > 0 ? ` · ${t.formatSize(item.speed)}/s · ${t.formatTime(item.timeLeft)}` : '';
      row.status.textContent = `${t.states[item.state]}${item.state === 'uploading' ? ` ${item.percent} %` : ''}${detail}${item.error ? ` — ${item.error.message}` : ''}`;
      /** @type {Array<[string, string]>} */
      const acts = [];
      if (busy || item.state === 'queued') acts.push(['pause', t.pause]);
      if (item.state === 'paused') acts.push(['resume', t.resume]);
      if (item.state === 'failed') acts.push(['retry', t.retry]);
      acts.push(item.state === 'done' ? ['dismiss', t.dismiss] : ['cancel', t.cancel]);
      const fileId = item.state === 'done' && item.result ? String(item.result.id) : '';
      const key = JSON.stringify([acts, fileId]);
      if (key !== row.actionsKey) {
        row.actionsKey = key;
        const name = escapeHtml(item.name);
        const href = `${this.manager.client.endpoint}/v1/files/${encodeURIComponent(fileId)}`;
        row.actions.innerHTML = (fileId ? `<a part="link" data-file="${escapeHtml(fileId)}" href="${escapeHtml(href)}">${escapeHtml(t.open)}</a>` : '') +
          acts.map(([act, label]) =>
            `<button class="secondary" part="action ${act}" data-act="${act}" data-id="${item.id}" aria-label="${escapeHtml(label)} ${name}">${escapeHtml(label)}</button>`).join('');
      }
    });
  }
}

if (typeof customElements !== 'undefined') {
  if (!customElements.get('trove-upload')) customElements.define('trove-upload', TroveUpload);
  if (!customElements.get('trove-dropzone')) customElements.define('trove-dropzone', TroveDropzone);
  if (!customElements.get('trove-active-uploads')) customElements.define('trove-active-uploads', TroveActiveUploads);
}
