// Tasks: every task the master knows, filtered by state and searched by
// id, name, framework or agent, in a virtual table (10,000 rows cost what
// 30 do); and one task's page with its statuses and sandbox links.

import { h, kv, card, link, debounce, throttle } from '../dom.js';
import { VirtualTable } from '../table.js';
import { ago, date, health, resource, shortState, stateClass } from '../format.js';
import { TASK_STATES, TERMINAL, sandboxExecutor, taskKey } from '../model.js';
import { watcher } from '../store.js';

// FILTERS are the state filter's choices.
const FILTERS = [
  ['active', 'Active'], ['all', 'All'], ['terminal', 'Completed'],
  ...TASK_STATES.map((s) => [s, shortState(s)]),
];

export function mountTasks(root, ctx, route) {
  if (route.parts.length >= 3) return mountTask(root, ctx, route.parts[1], route.parts[2]);
  return mountTaskList(root, ctx, route);
}

// taskHref is the page of a task.
export function taskHref(t) {
  return `#/tasks/${encodeURIComponent(t.frameworkId)}/${encodeURIComponent(t.id)}`;
}

// sandboxHref is a task's sandbox page, optionally opening a file.
export function sandboxHref(t, file) {
  const base = `#/sandbox/${[t.agentId, t.frameworkId, sandboxExecutor(t)].map(encodeURIComponent).join('/')}`;
  return file ? `${base}?file=${encodeURIComponent(file)}` : base;
}

// taskColumns are the task table's columns; names come from the store at
// draw time, for the visible rows only.
export function taskColumns(store) {
  const fwName = (t) => (store.frameworks.get(t.frameworkId) || {}).name || t.frameworkId;
  const agentName = (t) => (store.agents.get(t.agentId) || {}).hostname || t.agentId;
  return [
    { title: 'ID', width: 'minmax(12em, 2fr)', text: (t) => t.id, href: taskHref },
    { title: 'Name', width: 'minmax(8em, 1.5fr)', text: (t) => t.name },
    { title: 'State', width: '8em', text: (t) => shortState(t.state), cls: (t) => stateClass(t.state) },
    { title: 'Health', width: '7.5em', text: (t) => health(t.healthy),
      cls: (t) => (t.healthy === false ? 'unhealthy' : t.healthy ? 'healthy' : '') },
    { title: 'Framework', width: 'minmax(8em, 1fr)', text: fwName },
    { title: 'Agent', width: 'minmax(8em, 1fr)', text: agentName },
    { title: 'CPUs', width: '5em', align: 'right', text: (t) => resource('cpus', t.resources.cpus), sort: (t) => Number(t.resources.cpus) || 0 },
    { title: 'Mem', width: '6.5em', align: 'right', text: (t) => resource('mem', t.resources.mem), sort: (t) => Number(t.resources.mem) || 0 },
    { title: 'Updated', width: '7em', text: (t) => ago(t.updated), sort: (t) => t.updated },
  ];
}

// matcher builds the row predicate of a state filter and a search text.
export function matcher(store, state, search) {
  const q = search.trim().toLowerCase();
  const byState = state === 'all' ? () => true
    : state === 'active' ? (t) => !TERMINAL.has(t.state)
      : state === 'terminal' ? (t) => TERMINAL.has(t.state)
        : (t) => t.state === state;
  if (!q) return byState;
  return (t) => byState(t) && (t.id.toLowerCase().includes(q) || t.name.toLowerCase().includes(q) ||
    ((store.frameworks.get(t.frameworkId) || {}).name || '').toLowerCase().includes(q) ||
    ((store.agents.get(t.agentId) || {}).hostname || '').toLowerCase().includes(q));
}

// taskTable is a task table over the tasks that pass scope (a predicate)
// and the filter; refresh() recomputes the rows (throttled: one pass over
// the tasks at most every 300 ms, however fast updates come).
export function taskTable(store, { scope = () => true, height, state = 'active', search = '' } = {}) {
  const table = new VirtualTable({
    columns: taskColumns(store), key: (t) => t.key, height,
    sort: { col: 8, desc: true }, empty: 'No tasks match.',
    onRowClick: (t) => { location.hash = taskHref(t); },
  });
  const filter = { state, search };
  const recompute = () => {
    const pass = matcher(store, filter.state, filter.search);
    const rows = [];
    for (const t of store.tasks.values()) if (scope(t) && pass(t)) rows.push(t);
    table.setRows(rows);
  };
  const refresh = throttle(recompute, 300);
  return {
    el: table.el, table, filter, refresh,
    destroy() { refresh.cancel(); table.destroy(); },
  };
}

function mountTaskList(root, { store }, route) {
  const state = route.query.get('state') || 'active';
  const tt = taskTable(store, { state, search: route.query.get('q') || '' });
  const select = h('select', { id: 'task-state', 'aria-label': 'State',
    onchange: () => { tt.filter.state = select.value; tt.refresh(); } },
  FILTERS.map(([v, label]) => h('option', { value: v, text: label, selected: v === state })));
  const search = h('input', { id: 'task-search', type: 'search', placeholder: 'Search id, name, framework, agent',
    value: tt.filter.search, oninput: debounce(() => { tt.filter.search = search.value; tt.refresh(); }, 150) });
  root.append(h('h2', { text: 'Tasks' }), h('div', { class: 'toolbar' }, select, search), tt.el);
  const changed = watcher('tasks', 'frameworks', 'agents');
  return {
    update(s) { if (changed(s)) tt.refresh(); },
    unmount() { tt.destroy(); },
  };
}

function mountTask(root, { store }, frameworkId, taskId) {
  const body = h('div');
  root.append(h('h2', {}, 'Task ', h('span', { class: 'mono', text: taskId })), body);
  const changed = watcher('tasks', 'agents', 'frameworks');
  return {
    update(s) {
      if (!changed(s)) return;
      const t = s.tasks.get(taskKey(frameworkId, taskId));
      body.replaceChildren(t ? taskDetail(s, t) : h('p', { class: 'muted', text: s.loaded ? 'No such task (it may have been forgotten).' : 'Loading…' }));
    },
  };
}

function taskDetail(s, t) {
  const fw = s.frameworks.get(t.frameworkId);
  const agent = s.agents.get(t.agentId);
  const res = Object.entries(t.resources).filter(([, v]) => v).map(([k, v]) => `${k}: ${resource(k, v)}`).join(', ');
  return h('div', {},
    h('div', { class: 'toolbar' },
      link(sandboxHref(t), 'Sandbox', 'button'),
      link(sandboxHref(t, 'stdout'), 'stdout', 'button'),
      link(sandboxHref(t, 'stderr'), 'stderr', 'button')),
    h('div', { class: 'grid' },
      card('Task', kv([
        ['ID', t.id], ['Name', t.name],
        ['State', h('span', { id: 'task-state-value', class: stateClass(t.state), text: shortState(t.state) })],
        ['Health', health(t.healthy)], ['Role', t.role], ['Resources', res],
        ['Framework', link(`#/frameworks/${encodeURIComponent(t.frameworkId)}`, fw ? fw.name : t.frameworkId)],
        ['Agent', link(`#/agents/${encodeURIComponent(t.agentId)}`, agent ? agent.hostname : t.agentId)],
        ['Executor', sandboxExecutor(t)],
      ])),
      card('Statuses', statusList(t))));
}

function statusList(t) {
  if (!t.statuses.length) return h('p', { class: 'muted', text: 'No status yet.' });
  return h('table', { class: 'plain-table' },
    h('tr', {}, ['State', 'Time', 'Health', 'Message'].map((c) => h('th', { text: c }))),
    [...t.statuses].reverse().map((st) => h('tr', {},
      h('td', { class: stateClass(st.state), text: shortState(st.state) }),
      h('td', { text: date(st.timestamp) }),
      h('td', { text: health(st.healthy) }),
      h('td', { text: [st.reason, st.message].filter(Boolean).join(': ') }))));
}
