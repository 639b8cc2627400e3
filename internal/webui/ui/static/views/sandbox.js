// Sandbox: browse an executor's latest run directory on its agent and
// follow a file (stdout, stderr, ...) live through /files/read offsets.
//
// Route: #/sandbox/<agent id>/<framework id>/<executor id>?path=<dir>&file=<file>
// (dir and file relative to the run directory).

import { h, every, replace, setText } from '../dom.js';
import { browse, Tail, agentURL, transportOf } from '../files.js';
import { bytes, date } from '../format.js';
import { taskKey } from '../model.js';

// MAX_TEXT bounds the followed text kept on the page.
const MAX_TEXT = 1 << 20;

export function mountSandbox(root, { store }, route) {
  const [, agentId, frameworkId, executorId] = route.parts;
  const dir = route.query.get('path') || '';
  const file = route.query.get('file') || '';
  const base = `/frameworks/${frameworkId}/executors/${executorId}/runs/latest`;
  const href = (q) => `#/sandbox/${[agentId, frameworkId, executorId].map(encodeURIComponent).join('/')}${q}`;
  const listing = h('div', { id: 'sandbox-listing' }, h('p', { class: 'muted', text: 'Loading…' }));
  const viewer = h('div', { id: 'sandbox-viewer' });
  const task = store.tasks.get(taskKey(frameworkId, executorId));
  root.append(
    h('h2', {}, 'Sandbox of ', h('span', { class: 'mono', text: executorId })),
    h('div', { class: 'toolbar' },
      task ? h('a', { href: `#/tasks/${encodeURIComponent(frameworkId)}/${encodeURIComponent(executorId)}`, text: '← task' }) : null,
      breadcrumb(dir, href),
      h('a', { class: 'button', href: href('?file=stdout'), text: 'stdout' }),
      h('a', { class: 'button', href: href('?file=stderr'), text: 'stderr' })),
    listing, viewer);
  let stopListing = null;
  let tail = null;
  const start = (address) => {
    stopListing = every(5000, () => drawListing(listing, address, base, dir, href));
    if (file) tail = followFile(viewer, address, `${base}/${file}`, file);
  };
  return {
    update(s) {
      if (stopListing) return;
      const agent = s.agents.get(agentId);
      if (agent && agent.address) start(agent.address);
      else if (s.loaded) replace(listing, h('p', { class: 'error', text: `Agent ${agentId} is not known to the master.` }));
    },
    unmount() {
      if (stopListing) stopListing();
      if (tail) tail.stop();
    },
  };
}

function breadcrumb(dir, href) {
  const parts = dir.split('/').filter(Boolean);
  const crumbs = [h('a', { href: href(''), text: 'sandbox' })];
  parts.forEach((p, i) => {
    crumbs.push(' / ', h('a', { href: href(`?path=${encodeURIComponent(parts.slice(0, i + 1).join('/'))}`), text: p }));
  });
  return h('span', { class: 'crumbs' }, crumbs);
}

async function drawListing(el, address, base, dir, href) {
  const path = dir ? `${base}/${dir}` : base;
  let entries;
  try {
    entries = await browse(address, path);
  } catch (err) {
    replace(el, h('p', { class: 'error', text: `Cannot list ${path} on ${address}: ${err.message}` }));
    return;
  }
  entries.sort((a, b) => (isDir(b) - isDir(a)) || a.path.localeCompare(b.path));
  replace(el, h('table', { class: 'plain-table files' },
    h('tr', {}, ['Name', 'Size', 'Mode', 'Modified'].map((c) => h('th', { text: c }))),
    entries.map((e) => {
      const name = e.path.slice(e.path.lastIndexOf('/') + 1);
      const rel = dir ? `${dir}/${name}` : name;
      const target = isDir(e) ? `?path=${encodeURIComponent(rel)}` : `?${dir ? `path=${encodeURIComponent(dir)}&` : ''}file=${encodeURIComponent(rel)}`;
      return h('tr', { dataset: { name } },
        h('td', {}, h('a', { href: href(target), text: isDir(e) ? name + '/' : name })),
        h('td', { class: 'num', text: isDir(e) ? '' : bytes(e.size) }),
        h('td', { class: 'mono', text: e.mode }),
        h('td', { text: date(e.mtime) }));
    })), h('p', { class: 'muted small', text: `Read from agent ${address} via ${transportOf(address) || 'fetch'}.` }));
}

function isDir(e) {
  return String(e.mode || '').startsWith('d') ? 1 : 0;
}

// followFile shows a file and appends what the task writes to it.
function followFile(el, address, path, name) {
  const pre = h('pre', { id: 'file-content', class: 'file' });
  const status = h('span', { class: 'muted', text: 'following…' });
  replace(el, h('div', { class: 'toolbar' },
    h('strong', { class: 'mono', text: name }), status,
    h('a', { href: agentURL(address, 'files/download', { path }), text: 'download', rel: 'noreferrer' })), pre);
  const tail = new Tail(address, path, {
    onData(text) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(text);
      if (pre.textContent.length > MAX_TEXT) pre.textContent = pre.textContent.slice(-MAX_TEXT / 2);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      setText(status, 'following…');
    },
    onError(err) {
      setText(status, `cannot read: ${err.message}`);
    },
  });
  tail.start();
  return tail;
}
