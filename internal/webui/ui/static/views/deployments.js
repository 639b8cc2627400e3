// Deployments: the Marathon deployments in progress (GET v2/deployments,
// every 2 s), their steps and current actions, with rollback (DELETE) and
// force-cancel (DELETE ?force=true).

import { h, bar, every, replace, setText } from '../dom.js';
import { HTTPError, marathon } from '../api.js';
import { ago } from '../format.js';

export function mountDeployments(root) {
  const message = h('p', { id: 'deployments-message', class: 'message', 'aria-live': 'polite' });
  const body = h('div', { id: 'deployments' }, h('p', { class: 'muted', text: 'Loading…' }));
  root.append(h('h2', { text: 'Deployments' }), message, body);
  const say = (text, error) => { message.className = error ? 'message error' : 'message'; setText(message, text); };
  const refresh = async () => {
    let list;
    try {
      list = await marathon('GET', 'v2/deployments');
    } catch (err) {
      replace(body, h('p', { class: 'error', text: err instanceof HTTPError && err.status === 404
        ? 'The Marathon API (v2/deployments) is not served here: this master runs no apps framework.'
        : `Cannot read deployments: ${err.message}` }));
      return;
    }
    replace(body, list.length ? deploymentTable(list, { say, refresh })
      : h('p', { class: 'muted', id: 'no-deployments', text: 'No deployment in progress.' }));
  };
  const stop = every(2000, refresh);
  return { unmount: stop };
}

// deploymentTable lists deployments; compact leaves out the buttons.
export function deploymentTable(list, { compact = false, say, refresh } = {}) {
  const heads = ['ID', 'Apps', 'Progress', 'Current actions', 'Started'];
  if (!compact) heads.push('');
  return h('table', { class: 'plain-table deployments' },
    h('tr', {}, heads.map((c) => h('th', { text: c }))),
    list.map((d) => h('tr', { dataset: { deployment: d.id } },
      h('td', { class: 'mono', text: d.id }),
      h('td', {}, (d.affectedApps || []).map((id, i) => [i ? ', ' : '',
        h('a', { href: `#/apps/${encodeURIComponent(id)}`, text: id })])),
      h('td', {}, bar(d.currentStep || 0, d.totalSteps || 0, '', { progress: true }),
        h('span', { class: 'small', text: ` step ${d.currentStep || 0} of ${d.totalSteps || 0}` })),
      h('td', { text: (d.currentActions || []).map((a) => `${a.action} ${a.app || a.pod || ''}`).join(', ') }),
      h('td', { text: d.version ? ago(Date.parse(d.version) / 1000) : '' }),
      compact ? null : h('td', { class: 'actions' }, cancelButtons(d.id, say, refresh)))));
}

function cancelButtons(id, say, refresh) {
  const cancel = async (force) => {
    try {
      await marathon('DELETE', `v2/deployments/${encodeURIComponent(id)}${force ? '?force=true' : ''}`);
      say(force ? `Deployment ${id} stopped.` : `Deployment ${id} is being rolled back.`);
    } catch (err) {
      say(`Cancelling ${id} failed: ${err.message}`, true);
    }
    refresh();
  };
  return [
    h('button', { class: 'rollback', text: 'Roll back', onclick: () => cancel(false) }),
    h('button', { class: 'force danger', text: 'Stop', title: 'Cancel without rolling back', onclick: () => cancel(true) }),
  ];
}
