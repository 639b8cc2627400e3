// The store: the one copy of the cluster the pages read. Connections write
// it (a whole snapshot, or one event at a time); pages subscribe and are
// told once per animation frame, however many changes came in between.
// Each collection has a revision so a page recomputes only what changed,
// and task counts (per state, agent and framework) are kept incrementally:
// an update costs O(1), never a pass over every task.

import { TERMINAL, taskKey } from './model.js';

// MAX_COMPLETED bounds the terminal tasks kept from the event stream (the
// master's own bound applies to snapshots).
export const MAX_COMPLETED = 10000;
// FEED_SIZE is how many live feed entries are kept.
export const FEED_SIZE = 500;

export class Store {
  constructor() {
    this.master = null;
    this.masters = [];
    this.agents = new Map();
    this.frameworks = new Map();
    this.tasks = new Map();
    this.connection = { mode: 'connecting', detail: '' };
    this.rev = { master: 0, agents: 0, frameworks: 0, tasks: 0, feed: 0, connection: 0 };
    this.feed = [];
    this.feedSeq = 0;
    this.loaded = false;
    this.resetCounts();
    this.completedOrder = [];
    this.listeners = new Set();
    this.scheduled = false;
  }

  resetCounts() {
    this.byState = new Map();
    this.activeByAgent = new Map();
    this.activeByFramework = new Map();
    this.terminalByFramework = new Map();
  }

  // subscribe calls fn after changes, at most once per frame.
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(kind) {
    this.rev[kind]++;
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      for (const fn of [...this.listeners]) fn(this);
    };
    if (document.hidden) setTimeout(run, 250);
    else requestAnimationFrame(run);
  }

  setConnection(mode, detail = '') {
    if (this.connection.mode === mode && this.connection.detail === detail) return;
    this.connection = { mode, detail };
    this.changed('connection');
  }

  setMaster(master) {
    this.master = { ...(this.master || {}), ...master };
    this.changed('master');
  }

  setMasters(list) {
    this.masters = list;
    this.changed('master');
  }

  // ---- snapshots ----------------------------------------------------------

  // replace swaps in a whole snapshot {agents, frameworks, tasks}. With
  // diff, the differences from the previous snapshot become feed entries
  // (the polling path's stand-in for the event stream).
  replace(snap, { diff = false } = {}) {
    if (diff && this.loaded) this.diffSnapshot(snap);
    this.agents = new Map(snap.agents.map((a) => [a.id, a]));
    this.frameworks = new Map(snap.frameworks.map((f) => [f.id, f]));
    this.tasks = new Map();
    this.resetCounts();
    for (const t of snap.tasks) {
      this.tasks.set(t.key, t);
      this.account(t, 1);
    }
    this.completedOrder = [...this.tasks.values()]
      .filter((t) => TERMINAL.has(t.state))
      .sort((a, b) => a.updated - b.updated)
      .map((t) => t.key);
    this.trimCompleted();
    this.loaded = true;
    if (snap.master) this.setMaster(snap.master);
    this.changed('agents');
    this.changed('frameworks');
    this.changed('tasks');
  }

  // mergeResources refreshes agents' and frameworks' resource figures from
  // a summary (the event stream carries no allocation changes).
  mergeResources(agents, frameworks) {
    for (const a of agents) {
      const cur = this.agents.get(a.id);
      if (cur) Object.assign(cur, { used: a.used, offered: a.offered, total: a.total, active: a.active });
    }
    for (const f of frameworks) {
      const cur = this.frameworks.get(f.id);
      if (cur) Object.assign(cur, { used: f.used, offered: f.offered });
    }
    this.changed('agents');
    this.changed('frameworks');
  }

  diffSnapshot(snap) {
    const entries = [];
    const seen = new Set();
    for (const t of snap.tasks) {
      seen.add(t.key);
      const old = this.tasks.get(t.key);
      if (!old) entries.push(taskEntry('TASK_ADDED', t));
      else if (old.state !== t.state) entries.push(taskEntry('TASK_UPDATED', t));
    }
    const agentIds = new Set(snap.agents.map((a) => a.id));
    for (const a of snap.agents) if (!this.agents.has(a.id)) entries.push(agentEntry('AGENT_ADDED', a));
    for (const a of this.agents.values()) if (!agentIds.has(a.id)) entries.push(agentEntry('AGENT_REMOVED', a));
    for (const f of snap.frameworks) {
      const old = this.frameworks.get(f.id);
      if (!old) entries.push(frameworkEntry('FRAMEWORK_ADDED', f));
      else if (old.completed !== f.completed || old.active !== f.active) {
        entries.push(frameworkEntry(f.completed ? 'FRAMEWORK_REMOVED' : 'FRAMEWORK_UPDATED', f));
      }
    }
    this.addFeed(entries);
  }

  // ---- events -------------------------------------------------------------

  upsertTask(task) {
    const old = this.tasks.get(task.key);
    if (old) this.account(old, -1);
    this.tasks.set(task.key, task);
    this.account(task, 1);
    if (TERMINAL.has(task.state) && !(old && TERMINAL.has(old.state))) this.completed(task.key);
    this.changed('tasks');
    this.addFeed([taskEntry(old ? 'TASK_UPDATED' : 'TASK_ADDED', task)]);
  }

  // updateTask applies a TASK_UPDATED: the new state and latest status.
  updateTask(frameworkId, taskId, status, state) {
    const old = this.tasks.get(taskKey(frameworkId, taskId));
    if (!old) return;
    const healthy = typeof status.healthy === 'boolean' ? status.healthy : old.healthy;
    this.upsertTask({ ...old, state: state || status.state, statuses: [...old.statuses, status],
      healthy, updated: status.timestamp || old.updated });
  }

  upsertAgent(agent) {
    const added = !this.agents.has(agent.id);
    this.agents.set(agent.id, agent);
    this.changed('agents');
    this.addFeed([agentEntry(added ? 'AGENT_ADDED' : 'AGENT_UPDATED', agent)]);
  }

  removeAgent(id) {
    const agent = this.agents.get(id);
    if (!agent) return;
    this.agents.delete(id);
    this.changed('agents');
    this.addFeed([agentEntry('AGENT_REMOVED', agent)]);
  }

  upsertFramework(fw, type) {
    this.frameworks.set(fw.id, fw);
    this.changed('frameworks');
    this.addFeed([frameworkEntry(type, fw)]);
  }

  removeFramework(id, name) {
    const fw = this.frameworks.get(id) || { id, name };
    this.frameworks.set(id, { ...fw, active: false, connected: false, completed: true });
    this.changed('frameworks');
    this.addFeed([frameworkEntry('FRAMEWORK_REMOVED', fw)]);
  }

  // ---- counts ---------------------------------------------------------------

  account(t, sign) {
    bump(this.byState, t.state, sign);
    if (TERMINAL.has(t.state)) {
      bump(this.terminalByFramework, t.frameworkId, sign);
    } else {
      bump(this.activeByAgent, t.agentId, sign);
      bump(this.activeByFramework, t.frameworkId, sign);
    }
  }

  completed(key) {
    this.completedOrder.push(key);
    this.trimCompleted();
  }

  trimCompleted() {
    let drop = this.completedOrder.length - MAX_COMPLETED;
    if (drop <= 0) return;
    for (const key of this.completedOrder.splice(0, drop)) {
      const t = this.tasks.get(key);
      if (t && TERMINAL.has(t.state)) {
        this.account(t, -1);
        this.tasks.delete(key);
      }
    }
  }

  activeTasks() {
    let n = 0;
    for (const [state, c] of this.byState) if (!TERMINAL.has(state)) n += c;
    return n;
  }

  // ---- live feed ------------------------------------------------------------

  addFeed(entries) {
    if (!entries.length) return;
    const now = Date.now() / 1000;
    const limit = 200;
    const kept = entries.length > limit ? entries.slice(0, limit) : entries;
    if (entries.length > limit) {
      kept.push({ type: 'SUMMARY', text: `…and ${entries.length - limit} more changes`, href: '' });
    }
    for (const e of kept) this.feed.push({ ...e, time: now, seq: ++this.feedSeq });
    if (this.feed.length > FEED_SIZE) this.feed.splice(0, this.feed.length - FEED_SIZE);
    this.changed('feed');
  }
}

function bump(map, key, sign) {
  const n = (map.get(key) || 0) + sign;
  if (n) map.set(key, n);
  else map.delete(key);
}

function taskEntry(type, t) {
  return {
    type,
    text: `${t.id} ${t.state}`,
    href: `#/tasks/${encodeURIComponent(t.frameworkId)}/${encodeURIComponent(t.id)}`,
  };
}

function agentEntry(type, a) {
  return { type, text: `${a.hostname} (${a.id})`, href: `#/agents/${encodeURIComponent(a.id)}` };
}

function frameworkEntry(type, f) {
  return { type, text: `${f.name || ''} (${f.id})`, href: `#/frameworks/${encodeURIComponent(f.id)}` };
}

// watcher returns a function that reports whether any of the store's
// revisions of kinds moved since its previous call.
export function watcher(...kinds) {
  let last = '';
  return (store) => {
    const cur = kinds.map((k) => store.rev[k]).join(',');
    if (cur === last) return false;
    last = cur;
    return true;
  };
}
