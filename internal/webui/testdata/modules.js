// Unit checks of the UI's modules, run in the page by TestBrowserModules.
// The expression evaluates to a promise of the list of failures.
(async () => {
  const { readRecords } = await import('./static/recordio.js');
  const model = await import('./static/model.js');
  const { parseJSON, marathonPath } = await import('./static/api.js');
  const { Store } = await import('./static/store.js');
  const fmt = await import('./static/format.js');
  const failures = [];
  const eq = (what, got, want) => {
    const g = JSON.stringify(got);
    const w = JSON.stringify(want);
    if (g !== w) failures.push(`${what}: got ${g}, want ${w}`);
  };

  // RecordIO: records split anywhere across chunks, several in a chunk,
  // empty and multi-byte records.
  const enc = new TextEncoder();
  const frame = (s) => { const b = enc.encode(s); return `${b.length}\n${s}`; };
  const records = ['{"type":"HEARTBEAT"}', '', '{"héllo":"wörld ✓"}', 'x'.repeat(70000)];
  const wire = enc.encode(records.map(frame).join(''));
  for (const size of [1, 2, 3, 7, 64, 4096, wire.length]) {
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < wire.length; i += size) c.enqueue(wire.slice(i, i + size));
        c.close();
      },
    });
    const got = [];
    for await (const r of readRecords(stream)) got.push(r);
    eq(`records in chunks of ${size}`, got, records);
  }
  const broken = async (bytes) => {
    const stream = new ReadableStream({ start(c) { c.enqueue(enc.encode(bytes)); c.close(); } });
    try {
      for await (const r of readRecords(stream)) void r;
      return 'no error';
    } catch (e) {
      return 'error';
    }
  };
  eq('truncated record', await broken('10\nabc'), 'error');
  eq('bad header', await broken('abc\n{}'), 'error');
  eq('huge header', await broken('99999999999999\n'), 'error');

  // Mesos JSON quirks and resources.
  eq('bare Infinity', parseJSON('{"limits":{"cpus":Infinity,"mem":-Infinity},"x":NaN}'), { limits: { cpus: null, mem: null }, x: null });
  eq('plain JSON', parseJSON('{"a":"Infinity"}'), { a: 'Infinity' });
  eq('v1 resources', model.v1Resources([
    { name: 'cpus', type: 'SCALAR', scalar: { value: 1.5 } },
    { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 }, role: 'web' },
    { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31005 }, { begin: 32000, end: 32000 }] } },
    { name: 'zones', type: 'SET', set: { item: ['a', 'b'] } },
  ]), { cpus: 2, mem: 0, disk: 0, gpus: 0, ports: '[31000-31005, 32000-32000]', zones: '{a, b}' });
  eq('agent address from pid', model.agentAddress('slave(1)@10.0.0.7:5051', 'h', 1), '10.0.0.7:5051');
  eq('agent address from hostname', model.agentAddress('', 'agent7', 5051), 'agent7:5051');
  eq('sandbox of a command task', model.sandboxExecutor({ id: 't1', executorId: '' }), 't1');
  eq('app path', marathonPath('apps', '/prod/web app', '/restart'), 'v2/apps/prod/web%20app/restart');

  const v1 = model.v1Task({
    name: 'n', task_id: { value: 't' }, framework_id: { value: 'f' }, agent_id: { value: 'a' }, state: 'TASK_RUNNING',
    resources: [{ name: 'mem', type: 'SCALAR', scalar: { value: 64 } }],
    statuses: [{ state: 'TASK_RUNNING', timestamp: 5, healthy: true }, { state: 'TASK_RUNNING', timestamp: 6 }],
  });
  eq('v1 task', [v1.key, v1.agentId, v1.resources.mem, v1.healthy, v1.updated], ['f\nt', 'a', 64, true, 6]);
  const legacy = model.fromLegacyState({
    leader: 'master@1.2.3.4:5050', slaves: [{ id: 'a', hostname: 'h', pid: 'slave(1)@1.2.3.4:5051', resources: { cpus: 4 } }],
    frameworks: [{ id: 'f', name: 'fw', tasks: [{ id: 't', framework_id: 'f', slave_id: 'a', state: 'TASK_RUNNING', resources: { cpus: 1 }, statuses: [] }],
      completed_tasks: [{ id: 'u', framework_id: 'f', slave_id: 'a', state: 'TASK_FAILED', resources: {}, statuses: [] }] }],
  });
  eq('legacy state', [legacy.master.leaderPid, legacy.agents[0].address, legacy.frameworks[0].roles, legacy.tasks.map((t) => t.state)],
    ['master@1.2.3.4:5050', '1.2.3.4:5051', ['*'], ['TASK_RUNNING', 'TASK_FAILED']]);

  // Store: counts follow updates without a recount.
  const store = new Store();
  store.replace({ agents: legacy.agents, frameworks: legacy.frameworks, tasks: legacy.tasks });
  eq('counts after a snapshot', [store.activeTasks(), store.activeByAgent.get('a'), store.terminalByFramework.get('f')], [1, 1, 1]);
  store.updateTask('f', 't', { state: 'TASK_FINISHED', timestamp: 9, healthy: false }, 'TASK_FINISHED');
  eq('counts after an update', [store.activeTasks(), store.activeByAgent.get('a') || 0, store.terminalByFramework.get('f')], [0, 0, 2]);
  eq('status appended', store.tasks.get('f\nt').statuses.length, 1);
  eq('feed entry', store.feed.at(-1).type, 'TASK_UPDATED');
  store.upsertTask(model.v1Task({ name: 'x', task_id: { value: 'x' }, framework_id: { value: 'f' }, agent_id: { value: 'a' }, state: 'TASK_STAGING' }));
  eq('counts after an add', [store.activeTasks(), store.byState.get('TASK_STAGING')], [1, 1]);

  // Formatting.
  eq('sizes', [fmt.mb(1024), fmt.mb(0.5), fmt.bytes(1536)], ['1.0 GiB', '512 KiB', '1.5 KiB']);
  eq('durations', [fmt.duration(59), fmt.duration(3600 + 120), fmt.duration(90000)], ['59s', '1h 2m', '1d 1h']);
  eq('scalars', [fmt.num(0.1 + 0.2), fmt.resource('ports', '[1-2]')], ['0.3', '[1-2]']);
  return failures;
})()
