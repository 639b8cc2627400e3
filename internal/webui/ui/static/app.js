// The entry point: one store, one live connection, and hash routes
// (#/tasks, #/agents/<id>, ...) that mount one view at a time.
//
// A view is mount(root, ctx, route) -> {update(store), unmount()}: update
// runs at most once per frame after the store changed, and a view redraws
// only what its revisions say changed.

import { Store } from './store.js';
import { Live } from './live.js';
import { h, replace, setText } from './dom.js';
import { mountOverview } from './views/overview.js';
import { mountAgents } from './views/agents.js';
import { mountFrameworks } from './views/frameworks.js';
import { mountTasks } from './views/tasks.js';
import { mountSandbox } from './views/sandbox.js';
import { mountApps } from './views/apps.js';
import { mountDeployments } from './views/deployments.js';
import { mountFeed } from './views/feed.js';

const views = {
  '': mountOverview,
  agents: mountAgents,
  frameworks: mountFrameworks,
  tasks: mountTasks,
  sandbox: mountSandbox,
  apps: mountApps,
  deployments: mountDeployments,
  feed: mountFeed,
};

// parseRoute splits "#/tasks/a%2Fb/x?file=stdout" into decoded parts and a
// query.
export function parseRoute(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

const CONNECTION_TEXT = {
  connecting: 'connecting…',
  stream: '● live: event stream',
  polling: '● live: polling master/state',
  error: '● disconnected',
};

class App {
  constructor() {
    this.store = new Store();
    this.live = new Live(this.store);
    this.root = document.getElementById('view');
    this.current = null;
    this.ctx = { store: this.store, live: this.live };
  }

  start() {
    window.addEventListener('hashchange', () => this.navigate());
    this.store.subscribe((s) => this.changed(s));
    this.live.start();
    this.navigate();
  }

  navigate() {
    const route = parseRoute(location.hash);
    if (this.current && this.current.unmount) this.current.unmount();
    replace(this.root);
    const mount = views[route.parts[0] || ''];
    this.current = mount ? mount(this.root, this.ctx, route) : notFound(this.root, route);
    if (this.current && this.current.update) this.current.update(this.store);
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.dataset.route === (route.parts[0] || 'overview'));
    }
  }

  changed(store) {
    const el = document.getElementById('connection');
    el.dataset.mode = store.connection.mode;
    setText(el, CONNECTION_TEXT[store.connection.mode] || store.connection.mode);
    el.title = store.connection.detail || 'Updates from the operator event stream';
    this.drawBanner(store.connection);
    if (this.current && this.current.update) this.current.update(store);
  }

  // drawBanner explains a lost connection. A master that does not lead
  // redirects API calls to the leader, which a page of another origin may
  // not follow; master/redirect takes the whole page there.
  drawBanner(conn) {
    const banner = document.getElementById('banner');
    const shown = conn.mode === 'error';
    if (banner.hidden === !shown && banner.dataset.detail === conn.detail) return;
    banner.hidden = !shown;
    banner.dataset.detail = conn.detail;
    replace(banner, ...(shown ? [conn.detail, ' ', h('a', { href: 'master/redirect', text: 'Open the leading master' })] : []));
  }
}

function notFound(root, route) {
  root.append(h('h2', { text: 'Not found' }), h('p', { text: `No page "${route.parts.join('/')}".` }));
  return null;
}

new App().start();
