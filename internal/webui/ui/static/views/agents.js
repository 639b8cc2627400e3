// Agents: the list (resources used/total, attributes, active tasks) and
// one agent's page (resources by name, attributes, its tasks).

import { h, bar, card, kv, wideCard, debounce, throttle } from '../dom.js';
import { VirtualTable } from '../table.js';
import { ago, date, num, pct, resource } from '../format.js';
import { taskTable } from './tasks.js';
import { watcher } from '../store.js';

export function mountAgents(root, ctx, route) {
  if (route.parts.length >= 2) return mountAgent(root, ctx, route.parts[1]);
  return mountAgentList(root, ctx);
}

// agentState is how an agent is doing, in one word.
export function agentState(a) {
  if (a.drain) return a.drain.toLowerCase();
  if (a.deactivated) return 'deactivated';
  return a.active ? 'active' : 'inactive';
}

function usage(a, r) {
  return `${resource(r, a.used[r] || 0)} / ${resource(r, a.total[r] || 0)}`;
}

function attributes(a) {
  return Object.entries(a.attributes).map(([k, v]) => `${k}=${v}`).join(', ');
}

function mountAgentList(root, { store }) {
  const table = new VirtualTable({
    key: (a) => a.id,
    sort: { col: 0, desc: false },
    empty: 'No agents.',
    onRowClick: (a) => { location.hash = `#/agents/${encodeURIComponent(a.id)}`; },
    columns: [
      { title: 'Hostname', width: 'minmax(8em, 1.2fr)', text: (a) => a.hostname, href: (a) => `#/agents/${encodeURIComponent(a.id)}` },
      { title: 'ID', width: 'minmax(10em, 1.5fr)', text: (a) => a.id, cls: () => 'mono' },
      { title: 'State', width: '7em', text: agentState, cls: (a) => (agentState(a) === 'active' ? 'state-running' : 'state-pending') },
      { title: 'CPUs', width: '8em', align: 'right', text: (a) => usage(a, 'cpus'), sort: (a) => Number(a.used.cpus) || 0 },
      { title: 'Mem', width: '12em', align: 'right', text: (a) => usage(a, 'mem'), sort: (a) => Number(a.used.mem) || 0 },
      { title: 'Disk', width: '12em', align: 'right', text: (a) => usage(a, 'disk'), sort: (a) => Number(a.used.disk) || 0 },
      { title: 'Tasks', width: '5em', align: 'right', text: (a) => String(store.activeByAgent.get(a.id) || 0), sort: (a) => store.activeByAgent.get(a.id) || 0 },
      { title: 'Attributes', width: 'minmax(8em, 1.5fr)', text: attributes },
      { title: 'Registered', width: '7em', text: (a) => ago(a.registered), sort: (a) => a.registered },
    ],
  });
  let search = '';
  const recompute = throttle(() => {
    const q = search.toLowerCase();
    table.setRows([...store.agents.values()].filter((a) => !q ||
      a.hostname.toLowerCase().includes(q) || a.id.toLowerCase().includes(q) || attributes(a).toLowerCase().includes(q)));
  }, 300);
  const input = h('input', { type: 'search', id: 'agent-search', placeholder: 'Search hostname, id, attributes',
    oninput: debounce(() => { search = input.value; recompute(); }, 150) });
  root.append(h('h2', { text: 'Agents' }), h('div', { class: 'toolbar' }, input), table.el);
  const changed = watcher('agents', 'tasks');
  return {
    update(s) { if (changed(s)) recompute(); },
    unmount() { recompute.cancel(); table.destroy(); },
  };
}

function mountAgent(root, { store }, id) {
  const info = h('div');
  const tasks = taskTable(store, { scope: (t) => t.agentId === id, height: '45vh' });
  root.append(h('h2', {}, 'Agent ', h('span', { class: 'mono', text: id })), info,
    h('h3', { text: 'Tasks on this agent' }), tasks.el);
  const agentChanged = watcher('agents');
  const tasksChanged = watcher('tasks', 'frameworks');
  return {
    update(s) {
      if (agentChanged(s)) drawAgent(info, s, s.agents.get(id));
      if (tasksChanged(s)) tasks.refresh();
    },
    unmount() { tasks.destroy(); },
  };
}

function drawAgent(el, s, a) {
  if (!a) {
    el.replaceChildren(h('p', { class: 'muted', text: s.loaded ? 'No such agent (it may have been removed).' : 'Loading…' }));
    return;
  }
  el.replaceChildren(h('div', { class: 'grid' },
    card('Agent', kv([
      ['Hostname', a.hostname], ['Address', a.address], ['State', agentState(a)], ['Version', a.version],
      ['Registered', date(a.registered)], ['Active tasks', s.activeByAgent.get(a.id) || 0],
    ])),
    wideCard('Resources', resourceTable(a)),
    card('Attributes', Object.keys(a.attributes).length
      ? kv(Object.entries(a.attributes)) : h('p', { class: 'muted', text: 'None.' }))));
}

// resourceTable lists every resource of an agent: total, used, offered,
// with a bar for scalars.
export function resourceTable(a) {
  const names = [...new Set([...Object.keys(a.total), ...Object.keys(a.used)])];
  return h('table', { class: 'plain-table resources' },
    h('tr', {}, ['Resource', 'Used', 'Offered', 'Total', ''].map((c) => h('th', { text: c }))),
    names.map((r) => {
      const scalar = typeof a.total[r] !== 'string';
      return h('tr', { dataset: { resource: r } },
        h('td', { text: r }),
        h('td', { class: 'num', text: scalar ? resource(r, a.used[r] || 0) : a.used[r] || '' }),
        h('td', { class: 'num', text: scalar ? resource(r, a.offered[r] || 0) : a.offered[r] || '' }),
        h('td', { class: 'num', text: scalar ? resource(r, a.total[r] || 0) : a.total[r] }),
        h('td', {}, scalar ? bar(Number(a.used[r]) || 0, Number(a.total[r]) || 0,
          `${num(a.used[r] || 0)} of ${num(a.total[r] || 0)} (${pct(a.used[r] || 0, a.total[r] || 0)})`) : ''));
    }));
}
