// Live: keeps the store current. It subscribes to the master's operator
// event stream (POST api/v1 {"type":"SUBSCRIBE"}, RecordIO of JSON events)
// and, whenever the stream is unavailable (a master without SUBSCRIBE, a
// broken connection), polls master/state instead and retries the stream
// with backoff. Both paths write the same store.
//
//   connecting ──SUBSCRIBE 200──▶ stream ──ends/stalls──▶ polling ─┐
//        │                          ▲                              │
//        └──error/4xx/5xx──▶ polling └──────── retry (backoff) ────┘

import { HTTPError, getJSON, operator, parseJSON } from './api.js';
import { readRecords } from './recordio.js';
import {
  fromLegacyState, fromV1State, legacyAgent, legacyFramework, v1Agent, v1Framework, v1Master,
  v1Status, v1Task,
} from './model.js';

export class Live {
  constructor(store, opts = {}) {
    this.store = store;
    this.pollInterval = opts.pollInterval || 2000;
    this.refreshInterval = opts.refreshInterval || 5000;
    this.retry = 1000;
    this.polling = false;
    this.pollTimer = 0;
    this.watchdog = 0;
    this.heartbeat = 15;
    this.resourcesTimer = 0;
    this.noMembership = false;
  }

  start() {
    this.subscribe();
    this.refresh();
  }

  // ---- the event stream ------------------------------------------------------

  async subscribe() {
    const abort = new AbortController();
    let resp;
    try {
      resp = await fetch('api/v1', {
        method: 'POST',
        signal: abort.signal,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: '{"type":"SUBSCRIBE"}',
      });
    } catch (err) {
      this.fallBack(`event stream unreachable (${err.message})`);
      return;
    }
    if (!resp.ok || !resp.body) {
      await resp.text().catch(() => '');
      this.fallBack(`event stream unavailable (HTTP ${resp.status})`, resp.status === 501 ? 30000 : 0);
      return;
    }
    await this.consume(resp.body, abort);
  }

  async consume(body, abort) {
    this.kick(abort);
    try {
      for await (const record of readRecords(body)) {
        this.kick(abort);
        this.onEvent(parseJSON(record));
      }
      this.fallBack('event stream ended');
    } catch (err) {
      this.fallBack(abort.signal.aborted ? 'event stream stalled' : `event stream broke (${err.message})`);
    } finally {
      clearTimeout(this.watchdog);
    }
  }

  // kick restarts the watchdog: no record (not even a HEARTBEAT) within two
  // heartbeat intervals means the stream is dead.
  kick(abort) {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => abort.abort(), (2 * this.heartbeat + 5) * 1000);
  }

  fallBack(reason, delay = 0) {
    this.store.setConnection('polling', reason);
    this.startPolling();
    const wait = delay || this.retry;
    this.retry = Math.min(this.retry * 2, 30000);
    setTimeout(() => this.subscribe(), wait);
  }

  onEvent(ev) {
    const s = this.store;
    if (ev.type !== 'HEARTBEAT') this.resourcesSoon();
    switch (ev.type) {
      case 'SUBSCRIBED':
        this.onSubscribed(ev.subscribed || {});
        break;
      case 'TASK_ADDED':
        s.upsertTask(v1Task(ev.task_added.task));
        break;
      case 'TASK_UPDATED': {
        const u = ev.task_updated;
        s.updateTask(u.framework_id.value, u.status.task_id.value, v1Status(u.status), u.state);
        break;
      }
      case 'FRAMEWORK_ADDED':
        s.upsertFramework(v1Framework(ev.framework_added.framework, false), 'FRAMEWORK_ADDED');
        break;
      case 'FRAMEWORK_UPDATED':
        s.upsertFramework(v1Framework(ev.framework_updated.framework, false), 'FRAMEWORK_UPDATED');
        break;
      case 'FRAMEWORK_REMOVED': {
        const info = ev.framework_removed.framework_info || {};
        s.removeFramework((info.id || {}).value, info.name);
        break;
      }
      case 'AGENT_ADDED':
        s.upsertAgent(v1Agent(ev.agent_added.agent));
        break;
      case 'AGENT_REMOVED':
        s.removeAgent(ev.agent_removed.agent_id.value);
        break;
      default: // HEARTBEAT and event types this UI does not show
    }
  }

  onSubscribed(sub) {
    this.heartbeat = Number(sub.heartbeat_interval_seconds) || 15;
    this.retry = 1000;
    this.stopPolling();
    this.store.replace(fromV1State(sub.get_state || {}), { diff: this.store.loaded });
    this.store.setConnection('stream');
    this.refreshMaster();
  }

  // ---- polling ---------------------------------------------------------------

  startPolling() {
    if (this.polling) return;
    this.polling = true;
    this.pollOnce();
  }

  stopPolling() {
    this.polling = false;
    clearTimeout(this.pollTimer);
  }

  // pollOnce reads master/state; the next poll waits at least three times
  // as long as this one took, so a huge cluster is not polled back to back.
  async pollOnce() {
    const started = performance.now();
    try {
      const state = await getJSON('master/state');
      if (!this.polling) return;
      this.store.replace(fromLegacyState(state), { diff: true });
      this.store.setConnection('polling', this.store.connection.detail);
    } catch (err) {
      if (this.polling) this.store.setConnection('error', `cannot read master/state: ${err.message}`);
    }
    if (!this.polling) return;
    const took = performance.now() - started;
    this.pollTimer = setTimeout(() => this.pollOnce(), Math.max(this.pollInterval, 3 * took));
  }

  // ---- what the stream does not carry ------------------------------------------

  // refresh runs forever: resource figures (the stream carries no
  // allocation changes) and the masters' membership.
  async refresh() {
    try {
      if (this.store.connection.mode === 'stream') await this.refreshResources();
      await this.refreshMasters();
    } catch {
      // shown by the connection state; the next round retries
    }
    setTimeout(() => this.refresh(), this.refreshInterval);
  }

  // resourcesSoon refreshes the resource figures a second after a change
  // (once for a burst of events).
  resourcesSoon() {
    if (this.resourcesTimer) return;
    this.resourcesTimer = setTimeout(() => {
      this.resourcesTimer = 0;
      this.refreshResources().catch(() => {});
    }, 1000);
  }

  async refreshResources() {
    const summary = await getJSON('master/state-summary');
    this.store.mergeResources((summary.slaves || []).map(legacyAgent),
      (summary.frameworks || []).map((f) => legacyFramework(f, false)));
    if (summary.cluster) this.store.setMaster({ cluster: summary.cluster });
  }

  async refreshMaster() {
    try {
      this.store.setMaster(v1Master(await operator('GET_MASTER')));
    } catch {
      // an older master: the overview shows what it has
    }
  }

  async refreshMasters() {
    if (this.noMembership) return;
    try {
      const body = await getJSON('agora/v1/masters');
      this.store.setMasters(body.masters || []);
    } catch (err) {
      this.noMembership = err instanceof HTTPError && err.status === 404; // a Mesos master
      this.store.setMasters([]);
    }
  }
}
