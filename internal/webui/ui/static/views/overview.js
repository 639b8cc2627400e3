// Overview: the leader and masters, agents, frameworks, tasks by state,
// and the cluster's resources used/total (master/*_used and *_total of
// metrics/snapshot, or the agents' sums until the metrics arrive).

import { h, bar, card, kv, replace, every } from '../dom.js';
import { getJSON } from '../api.js';
import { date, ago, resource, pct, shortState, stateClass } from '../format.js';
import { TASK_STATES } from '../model.js';
import { watcher } from '../store.js';

const RESOURCES = ['cpus', 'mem', 'disk', 'gpus'];

export function mountOverview(root, { store }) {
  const parts = {
    cluster: h('div'), masters: h('div'), agents: h('div'), frameworks: h('div'),
    tasks: h('div'), resources: h('div'),
  };
  root.append(h('h2', { text: 'Cluster overview' }),
    h('div', { class: 'grid' },
      card('Cluster', parts.cluster), card('Masters', parts.masters),
      card('Agents', parts.agents), card('Frameworks', parts.frameworks)),
    h('div', { class: 'grid wide' }, card('Resources', parts.resources), card('Tasks', parts.tasks)));
  let metrics = null;
  const stopMetrics = every(5000, async () => {
    metrics = await getJSON('metrics/snapshot');
    drawResources(parts.resources, store, metrics);
  });
  const changed = watcher('master', 'agents', 'frameworks', 'tasks');
  return {
    update(s) {
      if (!changed(s)) return;
      drawCluster(parts.cluster, s);
      drawMasters(parts.masters, s);
      drawAgents(parts.agents, s);
      drawFrameworks(parts.frameworks, s);
      drawTasks(parts.tasks, s);
      drawResources(parts.resources, s, metrics);
    },
    unmount: stopMetrics,
  };
}

function drawCluster(el, s) {
  const m = s.master || {};
  replace(el, kv([
    ['Name', m.cluster],
    ['Leader', m.leaderPid ? h('span', { id: 'leader', text: m.leaderPid }) : 'unknown'],
    ['Hostname', m.hostname],
    ['Version', m.version],
    ['Started', date(m.startTime)],
    ['Elected', m.electedTime ? ago(m.electedTime) : ''],
  ]));
}

function drawMasters(el, s) {
  if (!s.masters.length) {
    replace(el, h('p', { class: 'muted', text: s.master ? `Leader: ${s.master.leaderPid}` : 'Loading…' }));
    return;
  }
  replace(el, h('p', { class: 'muted small', text: 'Raft members' }), h('ul', { class: 'plain', id: 'masters' }, s.masters.map((m) => h('li', {},
    h('span', { class: 'mono', text: m.address }), ' ',
    h('span', { class: m.leader ? 'pill ok' : 'pill', text: m.leader ? 'leader' : (m.voter ? 'follower' : 'non-voter') })))));
}

function drawAgents(el, s) {
  let active = 0, deactivated = 0, draining = 0;
  for (const a of s.agents.values()) {
    if (a.drain) draining++;
    else if (a.deactivated) deactivated++;
    else if (a.active) active++;
  }
  replace(el, h('div', { class: 'big', id: 'agent-count', text: String(s.agents.size) }),
    kv([['Active', active], ['Deactivated', deactivated], ['Draining', draining]]),
    h('a', { href: '#/agents', text: 'All agents →' }));
}

function drawFrameworks(el, s) {
  let active = 0, inactive = 0, completed = 0;
  for (const f of s.frameworks.values()) {
    if (f.completed) completed++;
    else if (f.active) active++;
    else inactive++;
  }
  replace(el, h('div', { class: 'big', id: 'framework-count', text: String(active) }),
    kv([['Active', active], ['Inactive', inactive], ['Completed', completed]]),
    h('a', { href: '#/frameworks', text: 'All frameworks →' }));
}

function drawTasks(el, s) {
  const rows = TASK_STATES.filter((st) => s.byState.get(st)).map((st) => h('li', {},
    h('a', { class: stateClass(st), href: `#/tasks?state=${st}`, text: shortState(st) }), ' ',
    h('span', { class: 'count', text: String(s.byState.get(st)) })));
  replace(el, h('div', { class: 'big', id: 'active-tasks', text: String(s.activeTasks()) }),
    h('p', { class: 'muted', text: 'active tasks' }),
    rows.length ? h('ul', { class: 'plain states' }, rows) : h('p', { class: 'muted', text: 'No tasks yet.' }));
}

// drawResources shows a bar per resource from the metrics, or sums of the
// agents' figures while no metrics were read.
function drawResources(el, s, metrics) {
  const rows = RESOURCES.map((r) => {
    const [used, total] = metrics
      ? [metrics[`master/${r}_used`] || 0, metrics[`master/${r}_total`] || 0]
      : sumAgents(s, r);
    return h('div', { class: 'resource-row', dataset: { resource: r } },
      h('span', { class: 'label', text: r }),
      bar(used, total),
      h('span', { class: 'figure', text: `${resource(r, used)} / ${resource(r, total)} (${pct(used, total)})` }));
  });
  replace(el, ...rows);
}

function sumAgents(s, r) {
  let used = 0, total = 0;
  for (const a of s.agents.values()) {
    used += Number(a.used[r]) || 0;
    total += Number(a.total[r]) || 0;
  }
  return [used, total];
}
