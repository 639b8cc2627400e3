// The UI's model of the cluster, and the adapters that build it from the
// two shapes the master speaks: the legacy /master/state JSON (flat
// resources, slave_id, times in seconds) and the v1 operator API JSON
// (GET_STATE and the SUBSCRIBE events: Resource arrays, agent_id,
// {"value": ...} ids, TimeInfo in nanoseconds).
//
//   agent:     {id, hostname, port, address, active, deactivated, drain,
//               attributes {k: v}, total, used, offered, registered, version}
//   framework: {id, name, roles [], active, connected, user, hostname,
//               webuiUrl, registered, used, offered, completed}
//   task:      {key, id, name, frameworkId, agentId, executorId, state,
//               resources, role, healthy, statuses [], updated}
//   master:    {id, pid, hostname, version, startTime, electedTime,
//               leaderPid, cluster}
// Resources are flat {cpus, mem, disk, gpus, <other>: number|string}.

export const TERMINAL = new Set([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR',
  'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR',
]);

export const TASK_STATES = [
  'TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_FINISHED',
  'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR', 'TASK_DROPPED',
  'TASK_UNREACHABLE', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR', 'TASK_UNKNOWN',
];

// taskKey identifies a task: task IDs are unique per framework only.
export function taskKey(frameworkId, taskId) {
  return frameworkId + '\n' + taskId;
}

// emptyResources is the flat summary with the four standard names.
export function emptyResources() {
  return { cpus: 0, mem: 0, disk: 0, gpus: 0 };
}

// agentAddress is host:port of an agent's HTTP server, from its libprocess
// pid "slave(1)@ip:port" or else hostname and port.
export function agentAddress(pid, hostname, port) {
  const at = String(pid || '').lastIndexOf('@');
  if (at >= 0) return pid.slice(at + 1);
  return hostname && port ? `${hostname}:${port}` : '';
}

// ---- legacy /master/state -------------------------------------------------

// fromLegacyState converts /master/state into {master, agents, frameworks, tasks}.
export function fromLegacyState(s) {
  const frameworks = [];
  const tasks = [];
  const addFramework = (f, completed) => {
    frameworks.push(legacyFramework(f, completed));
    for (const list of [f.tasks, f.unreachable_tasks, f.completed_tasks]) {
      for (const t of list || []) tasks.push(legacyTask(t));
    }
  };
  for (const f of s.frameworks || []) addFramework(f, false);
  for (const f of s.completed_frameworks || []) addFramework(f, true);
  return {
    master: legacyMaster(s),
    agents: (s.slaves || []).map(legacyAgent),
    frameworks,
    tasks,
  };
}

function legacyMaster(s) {
  return {
    id: s.id,
    pid: s.pid,
    hostname: s.hostname,
    version: s.version,
    startTime: s.start_time,
    electedTime: s.elected_time,
    leaderPid: s.leader || (s.leader_info && s.leader_info.pid) || '',
    cluster: s.cluster || '',
  };
}

// legacyAgent converts a slave of /master/state or /master/state-summary.
export function legacyAgent(a) {
  return {
    id: a.id,
    hostname: a.hostname,
    port: a.port,
    address: agentAddress(a.pid, a.hostname, a.port),
    active: !!a.active,
    deactivated: !!a.deactivated,
    drain: (a.drain_info && a.drain_info.state) || '',
    attributes: a.attributes || {},
    total: flatResources(a.resources),
    used: flatResources(a.used_resources),
    offered: flatResources(a.offered_resources),
    registered: a.reregistered_time || a.registered_time || 0,
    version: a.version || '',
  };
}

// legacyFramework converts a framework of /master/state or -summary.
export function legacyFramework(f, completed) {
  return {
    id: f.id,
    name: f.name,
    roles: f.roles || [f.role || '*'],
    active: !!f.active,
    connected: !!f.connected,
    user: f.user || '',
    hostname: f.hostname || '',
    webuiUrl: f.webui_url || '',
    registered: f.registered_time || 0,
    used: flatResources(f.used_resources),
    offered: flatResources(f.offered_resources),
    completed: !!completed,
  };
}

function legacyTask(t) {
  const statuses = (t.statuses || []).map((s) => ({
    state: s.state, timestamp: s.timestamp, healthy: s.healthy, message: '', reason: '',
  }));
  return {
    key: taskKey(t.framework_id, t.id),
    id: t.id,
    name: t.name || '',
    frameworkId: t.framework_id,
    agentId: t.slave_id,
    executorId: t.executor_id || '',
    state: t.state,
    resources: flatResources(t.resources),
    role: t.role || '',
    healthy: lastHealth(statuses),
    statuses,
    updated: statuses.length ? statuses[statuses.length - 1].timestamp : 0,
  };
}

function flatResources(r) {
  const out = emptyResources();
  for (const [k, v] of Object.entries(r || {})) out[k] = v;
  return out;
}

// ---- v1 operator API -------------------------------------------------------

// fromV1State converts a GET_STATE payload into {agents, frameworks, tasks}.
export function fromV1State(gs) {
  const ga = gs.get_agents || {};
  const gf = gs.get_frameworks || {};
  const gt = gs.get_tasks || {};
  const frameworks = [
    ...(gf.frameworks || []).map((f) => v1Framework(f, false)),
    ...(gf.completed_frameworks || []).map((f) => v1Framework(f, true)),
  ];
  const tasks = [];
  for (const list of [gt.pending_tasks, gt.tasks, gt.unreachable_tasks, gt.completed_tasks, gt.orphan_tasks]) {
    for (const t of list || []) tasks.push(v1Task(t));
  }
  return { agents: (ga.agents || []).map(v1Agent), frameworks, tasks };
}

// v1Master converts a GET_MASTER payload.
export function v1Master(gm) {
  const mi = gm.master_info || {};
  return {
    id: mi.id,
    pid: mi.pid,
    hostname: mi.hostname,
    version: mi.version,
    startTime: gm.start_time,
    electedTime: gm.elected_time,
    leaderPid: mi.pid,
    cluster: '',
  };
}

// v1Agent converts an agent of GET_AGENTS or AGENT_ADDED.
export function v1Agent(a) {
  const info = a.agent_info || {};
  return {
    id: value(info.id),
    hostname: info.hostname,
    port: info.port,
    address: agentAddress(a.pid, info.hostname, info.port),
    active: !!a.active,
    deactivated: !!a.deactivated,
    drain: (a.drain_info && a.drain_info.state) || '',
    attributes: v1Attributes(info.attributes),
    total: v1Resources(a.total_resources),
    used: v1Resources(a.allocated_resources),
    offered: v1Resources(a.offered_resources),
    registered: seconds(a.reregistered_time || a.registered_time),
    version: a.version || '',
  };
}

// v1Framework converts a framework of GET_FRAMEWORKS or FRAMEWORK_ADDED.
export function v1Framework(f, completed) {
  const info = f.framework_info || {};
  return {
    id: value(info.id),
    name: info.name,
    roles: info.roles || [info.role || '*'],
    active: !!f.active,
    connected: !!f.connected,
    user: info.user || '',
    hostname: info.hostname || '',
    webuiUrl: info.webui_url || '',
    registered: seconds(f.registered_time),
    used: v1Resources(f.allocated_resources),
    offered: v1Resources(f.offered_resources),
    completed: !!completed,
  };
}

// v1Task converts a Task of GET_TASKS or TASK_ADDED.
export function v1Task(t) {
  const statuses = (t.statuses || []).map(v1Status);
  const fid = value(t.framework_id);
  const id = value(t.task_id);
  return {
    key: taskKey(fid, id),
    id,
    name: t.name || '',
    frameworkId: fid,
    agentId: value(t.agent_id),
    executorId: value(t.executor_id),
    state: t.state,
    resources: v1Resources(t.resources),
    role: t.role || '',
    healthy: lastHealth(statuses),
    statuses,
    updated: statuses.length ? statuses[statuses.length - 1].timestamp : 0,
  };
}

// v1Status converts a TaskStatus.
export function v1Status(s) {
  return {
    state: s.state,
    timestamp: s.timestamp || 0,
    healthy: s.healthy,
    message: s.message || '',
    reason: s.reason || '',
  };
}

// v1Resources flattens a Resource array: scalars summed by name, ranges as
// "[b-e, ...]", sets as "{a, b}".
export function v1Resources(list) {
  const out = emptyResources();
  for (const r of list || []) {
    if (r.scalar) out[r.name] = (Number(out[r.name]) || 0) + Number(r.scalar.value || 0);
    else if (r.ranges) out[r.name] = rangesString(r.ranges);
    else if (r.set) out[r.name] = '{' + (r.set.item || []).join(', ') + '}';
  }
  return out;
}

function rangesString(ranges) {
  return '[' + (ranges.range || []).map((x) => `${x.begin}-${x.end}`).join(', ') + ']';
}

function v1Attributes(list) {
  const out = {};
  for (const a of list || []) {
    if (a.text) out[a.name] = a.text.value;
    else if (a.scalar) out[a.name] = a.scalar.value;
    else if (a.ranges) out[a.name] = rangesString(a.ranges);
    else if (a.set) out[a.name] = '{' + (a.set.item || []).join(', ') + '}';
  }
  return out;
}

function value(id) {
  return (id && id.value) || '';
}

function seconds(timeInfo) {
  return timeInfo && timeInfo.nanoseconds ? Number(timeInfo.nanoseconds) / 1e9 : 0;
}

function lastHealth(statuses) {
  for (let i = statuses.length - 1; i >= 0; i--) {
    if (typeof statuses[i].healthy === 'boolean') return statuses[i].healthy;
  }
  return null;
}

// sandboxExecutor is the executor ID of a task's sandbox: command tasks
// have none in the state, and their executor is named after the task.
export function sandboxExecutor(task) {
  return task.executorId || task.id;
}
