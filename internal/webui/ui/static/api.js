// Calls to the public APIs of the master this page came from: legacy JSON
// endpoints, the v1 operator API (JSON) and the Marathon v2 API. URLs are
// relative, so the UI also works behind a path prefix.

// HTTPError is a non-2xx answer.
export class HTTPError extends Error {
  constructor(status, message, url) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.url = url;
  }
}

// parseJSON parses a body, tolerating the bare Infinity/NaN numbers Mesos'
// JSON writer emits (task limits) by reading them as null.
export function parseJSON(text) {
  try {
    return JSON.parse(text);
  } catch (err) {
    const fixed = text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1null');
    if (fixed === text) throw err;
    return JSON.parse(fixed);
  }
}

// request fetches url and returns the parsed JSON body ('' bodies: null).
export async function request(url, init = {}) {
  const resp = await fetch(url, init);
  const text = await resp.text();
  if (!resp.ok) throw new HTTPError(resp.status, errorMessage(resp.status, text), url);
  return text.trim() === '' ? null : parseJSON(text);
}

function errorMessage(status, text) {
  let msg = text.trim();
  try {
    const body = JSON.parse(text);
    if (body && body.message) msg = body.message;
  } catch {
    // a plain-text error body
  }
  return `${status}: ${msg.slice(0, 300) || 'request failed'}`;
}

// getJSON GETs a same-origin path ("master/state").
export function getJSON(path, signal) {
  return request(path, { signal, headers: { Accept: 'application/json' } });
}

// operator makes a v1 operator call and returns its payload, the field
// named after the type ("get_master" of GET_MASTER), or null.
export async function operator(type, fields = {}, signal) {
  const body = await request('api/v1', {
    method: 'POST',
    signal,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ type, ...fields }),
  });
  return body ? body[type.toLowerCase()] || {} : null;
}

// marathonPath is the /v2 path of an app: its id's segments escaped.
export function marathonPath(prefix, id, suffix = '') {
  const segs = String(id).split('/').filter(Boolean).map(encodeURIComponent);
  return `v2/${prefix}/${segs.join('/')}${suffix}`;
}

// marathon calls the Marathon v2 API (method, path under v2/, JSON body).
export function marathon(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return request(path, init);
}
