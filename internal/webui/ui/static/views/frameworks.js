// Frameworks: the list (roles, dominant share of the cluster, tasks), the
// roles with their weights (GET_ROLES), and one framework's page.

import { h, card, kv, every, replace, throttle } from '../dom.js';
import { VirtualTable } from '../table.js';
import { operator } from '../api.js';
import { ago, date, resource } from '../format.js';
import { v1Resources } from '../model.js';
import { taskTable } from './tasks.js';
import { watcher } from '../store.js';

const SHARED = ['cpus', 'mem', 'disk', 'gpus'];

export function mountFrameworks(root, ctx, route) {
  if (route.parts.length >= 2) return mountFramework(root, ctx, route.parts[1]);
  return mountFrameworkList(root, ctx);
}

// clusterTotals sums the agents' resources.
export function clusterTotals(store) {
  const total = {};
  for (const a of store.agents.values()) {
    for (const r of SHARED) total[r] = (total[r] || 0) + (Number(a.total[r]) || 0);
  }
  return total;
}

// dominantShare is DRF's share: the largest fraction of any resource.
export function dominantShare(used, total) {
  let share = 0;
  for (const r of SHARED) {
    if (total[r] > 0) share = Math.max(share, (Number(used[r]) || 0) / total[r]);
  }
  return share;
}

function frameworkState(f) {
  if (f.completed) return 'completed';
  if (!f.active) return 'inactive';
  return f.connected ? 'active' : 'disconnected';
}

function mountFrameworkList(root, { store }) {
  let totals = {};
  const share = (f) => dominantShare(f.used, totals);
  const table = new VirtualTable({
    key: (f) => f.id,
    sort: { col: 0, desc: false },
    empty: 'No frameworks.',
    height: '45vh',
    onRowClick: (f) => { location.hash = `#/frameworks/${encodeURIComponent(f.id)}`; },
    columns: [
      { title: 'Name', width: 'minmax(8em, 1.2fr)', text: (f) => f.name || '(unnamed)', href: (f) => `#/frameworks/${encodeURIComponent(f.id)}` },
      { title: 'ID', width: 'minmax(10em, 1.5fr)', text: (f) => f.id, cls: () => 'mono' },
      { title: 'State', width: '7.5em', text: frameworkState, cls: (f) => (frameworkState(f) === 'active' ? 'state-running' : 'state-pending') },
      { title: 'Roles', width: 'minmax(6em, 1fr)', text: (f) => f.roles.join(', ') },
      { title: 'Active tasks', width: '7em', align: 'right', text: (f) => String(store.activeByFramework.get(f.id) || 0), sort: (f) => store.activeByFramework.get(f.id) || 0 },
      { title: 'CPUs', width: '5em', align: 'right', text: (f) => resource('cpus', f.used.cpus), sort: (f) => Number(f.used.cpus) || 0 },
      { title: 'Mem', width: '7em', align: 'right', text: (f) => resource('mem', f.used.mem), sort: (f) => Number(f.used.mem) || 0 },
      { title: 'Share', width: '6em', align: 'right', text: (f) => (100 * share(f)).toFixed(1) + '%', sort: share },
      { title: 'Registered', width: '7em', text: (f) => ago(f.registered), sort: (f) => f.registered },
    ],
  });
  const roles = h('div');
  root.append(h('h2', { text: 'Frameworks' }), table.el, h('h3', { text: 'Roles' }), roles);
  const recompute = throttle(() => {
    totals = clusterTotals(store);
    table.setRows([...store.frameworks.values()]);
  }, 300);
  const stopRoles = every(5000, () => drawRoles(roles));
  const changed = watcher('frameworks', 'agents', 'tasks');
  return {
    update(s) { if (changed(s)) recompute(); },
    unmount() { recompute.cancel(); stopRoles(); table.destroy(); },
  };
}

// drawRoles lists GET_ROLES (name, weight, frameworks, allocation) with
// each role's quota from GET_QUOTA.
async function drawRoles(el) {
  let roles, quotas;
  try {
    [roles, quotas] = await Promise.all([
      operator('GET_ROLES').then((r) => r.roles || []),
      operator('GET_QUOTA').then(quotaByRole).catch(() => new Map()),
    ]);
  } catch (err) {
    replace(el, h('p', { class: 'muted', text: `Roles unavailable: ${err.message}` }));
    return;
  }
  if (!roles.length) {
    replace(el, h('p', { class: 'muted', id: 'roles-empty', text: 'No role has frameworks or a weight yet.' }));
    return;
  }
  replace(el, h('table', { class: 'plain-table', id: 'roles' },
    h('tr', {}, ['Role', 'Weight', 'Frameworks', 'CPUs', 'Mem', 'Quota (guarantee / limit)'].map((c) => h('th', { text: c }))),
    roles.map((r) => {
      const res = v1Resources(r.resources);
      return h('tr', { dataset: { role: r.name } },
        h('td', { text: r.name }), h('td', { class: 'num', text: String(r.weight ?? 1) }),
        h('td', { class: 'num', text: String((r.frameworks || []).length) }),
        h('td', { class: 'num', text: resource('cpus', res.cpus) }),
        h('td', { class: 'num', text: resource('mem', res.mem) }),
        h('td', { text: quotas.get(r.name) || '' }));
    })));
}

// quotaByRole renders GET_QUOTA's configs: role -> "cpus 1 / 2, mem …".
function quotaByRole(q) {
  const out = new Map();
  for (const c of ((q || {}).status || {}).configs || []) {
    const names = [...new Set([...Object.keys(c.guarantees || {}), ...Object.keys(c.limits || {})])].sort();
    const side = (m, n) => (m && m[n] ? resource(n, m[n].value) : '–');
    out.set(c.role, names.map((n) => `${n} ${side(c.guarantees, n)} / ${side(c.limits, n)}`).join(', '));
  }
  return out;
}

function mountFramework(root, { store }, id) {
  const info = h('div');
  const tasks = taskTable(store, { scope: (t) => t.frameworkId === id, height: '45vh', state: 'all' });
  root.append(h('h2', {}, 'Framework ', h('span', { class: 'mono', text: id })), info,
    h('h3', { text: 'Tasks' }), tasks.el);
  const fwChanged = watcher('frameworks', 'agents', 'tasks');
  const tasksChanged = watcher('tasks', 'agents');
  return {
    update(s) {
      if (fwChanged(s)) drawFramework(info, s, s.frameworks.get(id));
      if (tasksChanged(s)) tasks.refresh();
    },
    unmount() { tasks.destroy(); },
  };
}

function drawFramework(el, s, f) {
  if (!f) {
    el.replaceChildren(h('p', { class: 'muted', text: s.loaded ? 'No such framework.' : 'Loading…' }));
    return;
  }
  const share = dominantShare(f.used, clusterTotals(s));
  el.replaceChildren(h('div', { class: 'grid' },
    card('Framework', kv([
      ['Name', f.name], ['State', frameworkState(f)], ['Roles', f.roles.join(', ')], ['User', f.user],
      ['Hostname', f.hostname],
      ['Web UI', safeURL(f.webuiUrl) ? h('a', { href: f.webuiUrl, text: f.webuiUrl, rel: 'noreferrer' }) : f.webuiUrl],
      ['Registered', date(f.registered)],
    ])),
    card('Allocation', kv([
      ...SHARED.map((r) => [r, resource(r, f.used[r] || 0)]),
      ['Dominant share', (100 * share).toFixed(1) + '%'],
      ['Active tasks', s.activeByFramework.get(f.id) || 0],
      ['Completed tasks', s.terminalByFramework.get(f.id) || 0],
    ]))));
}

// safeURL admits only http(s) links (a framework sets webui_url).
function safeURL(u) {
  return /^https?:\/\//i.test(u || '');
}
