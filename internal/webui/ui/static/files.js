// Sandbox files, read from the agents' /files/browse and /files/read.
//
// The agents listen on other ports than the master that served this page,
// so every call is cross-origin. An agent that answers with
// Access-Control-Allow-Origin is read with fetch(); one that does not (Mesos
// agents, and Agora agents without CORS) is read the way the Mesos UI did,
// through the endpoints' ?jsonp= callback. The first call to an agent finds
// out which works, and later calls use it.

import { request } from './api.js';

// READ_CHUNK is the most /files/read returns at once (16 pages).
export const READ_CHUNK = 65536;

const transports = new Map(); // agent address -> Promise of 'fetch' | 'jsonp'
const known = new Map(); // agent address -> 'fetch' | 'jsonp', once settled
let jsonpSeq = 0;

// agentURL is the URL of an agent endpoint with query parameters.
export function agentURL(address, endpoint, params) {
  const q = new URLSearchParams(params).toString();
  return `${location.protocol}//${address}/${endpoint}?${q}`;
}

// transportOf tells how an agent is being read ('' until the first call).
export function transportOf(address) {
  return known.get(address) || '';
}

// agentJSON GETs a JSON endpoint of an agent. The first call to an agent
// tries fetch(); calls made meanwhile wait for its outcome, so an agent
// without CORS is probed once per page.
export async function agentJSON(address, endpoint, params) {
  const url = agentURL(address, endpoint, params);
  const pending = transports.get(address);
  if (pending) return (await pending) === 'fetch' ? request(url) : jsonp(url);
  const attempt = probe(url);
  transports.set(address, attempt.then((r) => r.transport));
  const r = await attempt;
  known.set(address, r.transport);
  if (r.transport === 'jsonp') return jsonp(url);
  if (r.error) throw r.error;
  return r.body;
}

// probe reads url with fetch(). A TypeError is a network failure: here, a
// read the agent did not allow (no Access-Control-Allow-Origin).
async function probe(url) {
  try {
    return { transport: 'fetch', body: await request(url) };
  } catch (error) {
    return error instanceof TypeError ? { transport: 'jsonp' } : { transport: 'fetch', error };
  }
}

// jsonp loads url with a ?jsonp= callback through a script element.
function jsonp(url, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const name = `agoraJsonp${++jsonpSeq}`;
    const script = document.createElement('script');
    const finish = (settle, value) => {
      clearTimeout(timer);
      window[name] = () => {}; // a late answer must not throw
      script.remove();
      settle(value);
    };
    const timer = setTimeout(() => finish(reject, new Error(`no answer from ${url}`)), timeoutMs);
    window[name] = (data) => finish(resolve, data);
    script.onerror = () => finish(reject, new Error(`the agent refused ${url} (no such file, or unreachable)`));
    script.src = `${url}&jsonp=${name}`;
    document.head.append(script);
  });
}

// browse lists a sandbox directory: [{path, size, mode, mtime, uid, gid, nlink}].
export function browse(address, path) {
  return agentJSON(address, 'files/browse', { path });
}

// fileSize returns the size of a file in bytes.
export async function fileSize(address, path) {
  const r = await agentJSON(address, 'files/read', { path, offset: -1 });
  return Number(r.offset) || 0;
}

// readAt reads length bytes (at most READ_CHUNK) at offset.
export async function readAt(address, path, offset, length) {
  const r = await agentJSON(address, 'files/read', { path, offset, length });
  return r.data || '';
}

// Tail follows a file: it reads the last READ_CHUNK bytes, then every
// interval whatever was appended, by asking for the size first so the next
// offset is exact in bytes whatever the text decodes to.
export class Tail {
  constructor(address, path, { onData, onError, interval = 1000 }) {
    Object.assign(this, { address, path, onData, onError, interval });
    this.offset = -1;
    this.timer = 0;
    this.stopped = false;
  }

  start() {
    this.poll();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async poll() {
    try {
      await this.readNew();
    } catch (err) {
      if (!this.stopped) this.onError(err);
    }
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), this.interval);
  }

  async readNew() {
    const size = await fileSize(this.address, this.path);
    if (this.offset < 0 || size < this.offset) this.offset = Math.max(0, size - READ_CHUNK);
    if (size - this.offset > 4 * READ_CHUNK) {
      // Too far behind (a chatty task): show the latest output instead.
      this.onData(`\n… ${size - READ_CHUNK - this.offset} bytes skipped …\n`);
      this.offset = size - READ_CHUNK;
    }
    while (!this.stopped && size > this.offset) {
      const n = Math.min(size - this.offset, READ_CHUNK);
      const data = await readAt(this.address, this.path, this.offset, n);
      this.offset += n;
      if (data && !this.stopped) this.onData(data);
    }
  }
}
