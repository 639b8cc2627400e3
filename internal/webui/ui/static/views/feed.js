// Live feed: the cluster's events as they arrive, newest first (from the
// operator event stream, or changes seen between polls when the stream is
// unavailable). Only entries newer than the last drawn are added.

import { h, setText } from '../dom.js';
import { FEED_SIZE, watcher } from '../store.js';

export function mountFeed(root, { store }) {
  const list = h('ol', { id: 'feed', class: 'feed', reversed: true });
  const source = h('p', { class: 'muted', id: 'feed-source' });
  const empty = h('p', { class: 'muted', text: 'No events yet: launch a task or add an agent.' });
  root.append(h('h2', { text: 'Live feed' }), source, empty, list);
  let lastSeq = 0;
  const changed = watcher('feed', 'connection');
  return {
    update(s) {
      if (!changed(s)) return;
      setText(source, s.connection.mode === 'stream'
        ? 'Events from the master\'s operator event stream (SUBSCRIBE).'
        : `Changes seen by polling master/state (${s.connection.detail || 'event stream unavailable'}).`);
      const fresh = s.feed.filter((e) => e.seq > lastSeq);
      if (!fresh.length) return;
      lastSeq = fresh[fresh.length - 1].seq;
      const frag = document.createDocumentFragment();
      for (let i = fresh.length - 1; i >= 0; i--) frag.append(entry(fresh[i]));
      list.prepend(frag);
      while (list.children.length > FEED_SIZE) list.lastChild.remove();
      empty.hidden = true;
    },
  };
}

function entry(e) {
  return h('li', { dataset: { type: e.type } },
    h('time', { text: new Date(e.time * 1000).toLocaleTimeString() }),
    h('span', { class: 'event-type', text: e.type }),
    e.href ? h('a', { href: e.href, text: e.text }) : h('span', { text: e.text }));
}
