// The console's only way to the server: Trove's public REST API, with the credentials of the
// signed-in person (the admin key or a user's token), kept in sessionStorage only.

import { TroveError } from '/ui/trove-components.js';

export { TroveError };

const STORAGE_KEY = 'trove-console-credentials';

/**
 * @typedef {{kind: 'admin' | 'token', secret: string}} Credentials
 * @typedef {{kind: 'admin' | 'user', userId: string | null, tenantId: string | null, roles: string[],
 *   manageBuckets: boolean, manageCategories: boolean,
 *   server?: {version: string, database: string, storage: string}}} Identity What `GET /v1/me` answers.
 */

/** @returns {Credentials | null} */
export function loadCredentials() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null');
    if (saved && (saved.kind === 'admin' || saved.kind === 'token') && typeof saved.secret === 'string') {
      return saved;
    }
  } catch {
    // unreadable: signed out
  }
  return null;
}

/** @param {Credentials | null} c */
export function saveCredentials(c) {
  if (c) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(c));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** Delays before retrying a read that failed on the network, in milliseconds. */
const RETRIES = [300, 1000, 3000];

/** @param {number} ms */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Api {
  /** @param {Credentials} credentials */
  constructor(credentials) {
    this.credentials = credentials;
    /** @type {Identity | null} Set once the server has said who this is. */
    this.identity = null;
  }

  /** Asks the server who the credentials belong to (and so checks them). */
  async whoami() {
    this.identity = await this.get('/v1/me');
    return /** @type {Identity} */ (this.identity);
  }

  /** @returns {Record<string, string>} */
  headers() {
    const c = this.credentials;
    return c.kind === 'admin' ? { 'x-trove-admin-key': c.secret } : { Authorization: `Bearer ${c.secret}` };
  }

  /**
   * A request; the parsed JSON body (or null), or a TroveError with the server's code and message.
   * Reads (GET) that fail on the network are tried again a few times.
   * @param {string} method
   * @param {string} path
   * @param {{json?: unknown, body?: BodyInit, headers?: Record<string, string>, raw?: boolean, signal?: AbortSignal}} [init]
   * @returns {Promise<any>}
   */
  async request(method, path, init = {}) {
    /** @type {Record<string, string>} */
    const headers = { ...this.headers(), ...(init.headers || {}) };
    let body = init.body;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        // Revalidated every time: a file's content can change under the same address, and the
        // console must show what the server holds now (a 304 still saves the transfer).
        res = await fetch(path, { method, headers, body, signal: init.signal, cache: 'no-cache' });
      } catch (e) {
        if (init.signal?.aborted) throw e;
        if (method === 'GET' && attempt < RETRIES.length) {
          await pause(RETRIES[attempt]);
          continue;
        }
        throw new TroveError('network', `The server could not be reached (${String(e)}).`, 0);
      }
      if (init.raw && res.ok) return res;
      const text = await res.text();
      if (!res.ok) {
        let parsed = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        if (parsed && parsed.error) throw new TroveError(parsed.error.code, parsed.error.message, res.status);
        throw new TroveError(`http_${res.status}`, text || `HTTP ${res.status}`, res.status);
      }
      return text ? JSON.parse(text) : null;
    }
  }

  /** @param {string} path */
  get(path) {
    return this.request('GET', path);
  }

  /** @param {string} path @param {unknown} json */
  post(path, json) {
    return this.request('POST', path, { json });
  }

  /** @param {string} path @param {unknown} json */
  patch(path, json) {
    return this.request('PATCH', path, { json });
  }

  /** @param {string} path */
  del(path) {
    return this.request('DELETE', path);
  }

  /**
   * A content URL fetched with the credentials, as an object URL for an <img> (which cannot send
   * them itself); the caller revokes it.
   * @param {string} path
   * @param {AbortSignal} [signal]
   */
  async objectUrl(path, signal) {
    const res = await this.request('GET', path, { raw: true, signal });
    return URL.createObjectURL(await res.blob());
  }
}

/** @param {string} s */
export const enc = (s) => encodeURIComponent(s);
