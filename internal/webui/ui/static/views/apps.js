// Apps: the Marathon v2 apps (instances, health, deployments in progress)
// with scale, restart and delete, and one app's page with its tasks. Both
// poll the v2 API every 2 s while shown. Rows are keyed by app id and
// updated in place, so a scale field being edited keeps its focus and text.

import { h, card, kv, every, replace, setText } from '../dom.js';
import { HTTPError, marathon, marathonPath } from '../api.js';
import { ago, health, mb, num, shortState, stateClass } from '../format.js';
import { deploymentTable } from './deployments.js';

const APPS = 'v2/apps?embed=apps.tasks&embed=apps.counts&embed=apps.deployments&embed=apps.lastTaskFailure';

export function mountApps(root, ctx, route) {
  if (route.parts.length >= 2) return mountApp(root, ctx, route.parts.slice(1).join('/'));
  return mountAppList(root);
}

// appStatus is Marathon's one-word status of an app.
export function appStatus(app) {
  if ((app.deployments || []).length) return 'Deploying';
  if (app.instances === 0) return 'Suspended';
  if ((app.tasksRunning || 0) < app.instances) return 'Waiting';
  return 'Running';
}

function appHealth(app) {
  if (!(app.healthChecks || []).length) return '–';
  return `${app.tasksHealthy || 0} healthy, ${app.tasksUnhealthy || 0} unhealthy`;
}

function appHref(id) {
  return `#/apps/${encodeURIComponent(id)}`;
}

// unavailable tells the user the master serves no Marathon API.
function unavailable(err) {
  const text = err instanceof HTTPError && err.status === 404
    ? 'The Marathon API (v2/apps) is not served here: this master runs no apps framework.'
    : `Cannot read apps: ${err.message}`;
  return h('p', { class: 'error', id: 'apps-unavailable', text });
}

function mountAppList(root) {
  const message = h('p', { id: 'apps-message', class: 'message', 'aria-live': 'polite' });
  const rows = new Map();
  const tbody = h('tbody');
  const table = h('table', { class: 'plain-table', id: 'apps' },
    h('thead', {}, h('tr', {}, ['ID', 'Status', 'Instances', 'Health', 'CPUs', 'Mem', 'Version', 'Actions']
      .map((c) => h('th', { text: c })))), tbody);
  const status = h('div');
  const deployments = h('div', { id: 'apps-deployments' });
  root.append(h('h2', { text: 'Apps' }), message, status, table,
    h('h3', { text: 'Deployments in progress' }), deployments);
  const say = (text, error) => { message.className = error ? 'message error' : 'message'; setText(message, text); };
  const refresh = async () => {
    let apps;
    try {
      apps = (await marathon('GET', APPS)).apps || [];
    } catch (err) {
      replace(status, unavailable(err));
      table.hidden = true;
      return;
    }
    replace(status);
    table.hidden = false;
    drawRows(tbody, rows, apps, say, refresh);
    drawDeploymentsSummary(deployments);
  };
  const stop = every(2000, refresh);
  return { unmount: stop };
}

function drawRows(tbody, rows, apps, say, refresh) {
  apps.sort((a, b) => a.id.localeCompare(b.id));
  const seen = new Set(apps.map((a) => a.id));
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  if (!apps.length) replace(tbody, h('tr', {}, h('td', { colspan: 8, class: 'muted', text: 'No apps. Deploy one with `agora app deploy` or the v2 API.' })));
  else if (!rows.size) replace(tbody);
  apps.forEach((app, i) => {
    let row = rows.get(app.id);
    if (!row) {
      row = appRow(app, say, refresh);
      rows.set(app.id, row);
    }
    if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
    row.update(app);
  });
}

// appRow builds one app's row; update() rewrites its figures in place.
function appRow(app, say, refresh) {
  const cells = {
    status: h('td'), instances: h('td', { class: 'num' }), health: h('td'),
    cpus: h('td', { class: 'num' }), mem: h('td', { class: 'num' }), version: h('td'),
  };
  const actions = appActions(app.id, say, refresh);
  const tr = h('tr', { dataset: { app: app.id } },
    h('td', {}, h('a', { href: appHref(app.id), text: app.id, class: 'mono' })),
    cells.status, cells.instances, cells.health, cells.cpus, cells.mem, cells.version,
    h('td', { class: 'actions' }, actions.el));
  return {
    tr,
    update(a) {
      setText(cells.status, appStatus(a));
      cells.status.className = appStatus(a) === 'Running' ? 'state-running' : 'state-pending';
      setText(cells.instances, `${a.tasksRunning || 0} / ${a.instances}`);
      setText(cells.health, appHealth(a));
      setText(cells.cpus, num(a.cpus));
      setText(cells.mem, mb(a.mem));
      setText(cells.version, a.version ? ago(Date.parse(a.version) / 1000) : '');
      actions.setInstances(a.instances);
    },
  };
}

// appActions are the scale, restart and delete controls of one app.
export function appActions(id, say, refresh) {
  const input = h('input', { type: 'number', min: 0, class: 'scale-input', 'aria-label': `Instances of ${id}` });
  let dirty = false;
  input.addEventListener('input', () => { dirty = true; });
  const run = async (what, call) => {
    try {
      const res = await call();
      say(`${what} ${id}: deployment ${(res && res.deploymentId) || 'started'}`);
      dirty = false;
    } catch (err) {
      say(`${what} ${id} failed: ${err.message}`, true);
    }
    refresh();
  };
  const scale = h('button', { class: 'scale', text: 'Scale', onclick: () => {
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 0) { say(`Instances must be a whole number ≥ 0, not "${input.value}"`, true); return; }
    run(`Scaling to ${n}`, () => marathon('PUT', marathonPath('apps', id), { instances: n }));
  } });
  const restart = h('button', { class: 'restart', text: 'Restart',
    onclick: () => run('Restarting', () => marathon('POST', marathonPath('apps', id, '/restart'))) });
  const del = h('button', { class: 'delete danger', text: 'Delete' });
  let armed = 0;
  del.addEventListener('click', () => {
    if (!armed) {
      setText(del, 'Confirm delete');
      armed = setTimeout(() => { armed = 0; setText(del, 'Delete'); }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = 0;
    setText(del, 'Delete');
    run('Deleting', () => marathon('DELETE', marathonPath('apps', id)));
  });
  return {
    el: h('span', { class: 'app-actions' }, input, scale, restart, del),
    setInstances(n) {
      if (!dirty && document.activeElement !== input) input.value = String(n);
    },
  };
}

async function drawDeploymentsSummary(el) {
  try {
    const list = await marathon('GET', 'v2/deployments');
    replace(el, list.length ? deploymentTable(list, { compact: true })
      : h('p', { class: 'muted', id: 'no-deployments', text: 'None.' }));
  } catch (err) {
    replace(el, h('p', { class: 'error', text: `Cannot read deployments: ${err.message}` }));
  }
}

function mountApp(root, { store }, id) {
  const message = h('p', { id: 'apps-message', class: 'message', 'aria-live': 'polite' });
  const info = h('div');
  const say = (text, error) => { message.className = error ? 'message error' : 'message'; setText(message, text); };
  let actions = null;
  const refresh = async () => {
    let app;
    try {
      app = (await marathon('GET', marathonPath('apps', id) + '?embed=app.taskStats')).app;
    } catch (err) {
      replace(info, err instanceof HTTPError && err.status === 404 && err.message.includes('does not exist')
        ? h('p', { class: 'muted', text: `App ${id} does not exist.` }) : unavailable(err));
      return;
    }
    if (!actions) {
      actions = appActions(app.id, say, refresh);
      message.after(h('div', { class: 'toolbar' }, actions.el));
    }
    actions.setInstances(app.instances);
    drawApp(info, store, app);
  };
  root.append(h('h2', {}, 'App ', h('span', { class: 'mono', text: id })), message, info);
  const stop = every(2000, refresh);
  return { unmount: stop };
}

function drawApp(el, store, app) {
  const byId = new Map();
  for (const t of store.tasks.values()) byId.set(t.id, t);
  replace(el, h('div', { class: 'grid' },
    card('App', kv([
      ['Status', appStatus(app)], ['Instances', `${app.tasksRunning || 0} running of ${app.instances}`],
      ['Health', appHealth(app)], ['Command', app.cmd], ['CPUs', num(app.cpus)], ['Mem', mb(app.mem)],
      ['Version', app.version], ['Deployments', (app.deployments || []).map((d) => d.id).join(', ')],
    ])),
    app.lastTaskFailure ? card('Last task failure', kv([
      ['Task', app.lastTaskFailure.taskId], ['State', app.lastTaskFailure.state],
      ['Message', app.lastTaskFailure.message], ['When', app.lastTaskFailure.timestamp],
    ])) : null),
  h('h3', { text: 'Tasks' }),
  h('table', { class: 'plain-table', id: 'app-tasks' },
    h('tr', {}, ['ID', 'State', 'Health', 'Host', 'Ports', 'Started'].map((c) => h('th', { text: c }))),
    (app.tasks || []).map((t) => taskRow(t, byId.get(t.id)))));
}

function taskRow(t, mesosTask) {
  const results = t.healthCheckResults || [];
  const healthy = results.length ? results.every((r) => r.alive) : null;
  const idCell = mesosTask
    ? h('a', { href: `#/tasks/${encodeURIComponent(mesosTask.frameworkId)}/${encodeURIComponent(t.id)}`, text: t.id })
    : t.id;
  return h('tr', { dataset: { task: t.id } },
    h('td', { class: 'mono' }, idCell),
    h('td', { class: stateClass(t.state), text: shortState(t.state) }),
    h('td', { text: health(healthy) }),
    h('td', { text: t.host || '' }),
    h('td', { text: (t.ports || []).join(', ') }),
    h('td', { text: t.startedAt ? ago(Date.parse(t.startedAt) / 1000) : '' }));
}
