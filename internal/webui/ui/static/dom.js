// DOM building without innerHTML: every string from the cluster is set as
// text, never parsed as markup.

// h creates an element. attrs: plain attributes, plus "class", "text",
// "on<event>" handlers and "dataset" objects. children: nodes, strings or
// nested arrays (null and false are skipped).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    setAttr(el, k, v);
  }
  append(el, children);
  return el;
}

function setAttr(el, k, v) {
  if (v === null || v === undefined || v === false) return;
  if (k === 'class') el.className = v;
  else if (k === 'text') el.textContent = v;
  else if (k === 'dataset') Object.assign(el.dataset, v);
  else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
  else if (k === 'value') el.value = v;
  else el.setAttribute(k, v === true ? '' : String(v));
}

// append adds children (nodes, strings, arrays) to el.
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replace empties el and appends children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// setText updates text only when it changed (no layout work otherwise).
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

// bar is a used/total gauge; a gauge (not a progress bar) turns red past 90%.
export function bar(used, total, label, { progress = false } = {}) {
  const pct = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  const fill = h('div', { class: 'bar-fill' + (!progress && pct > 90 ? ' hot' : '') });
  fill.style.width = pct.toFixed(1) + '%';
  return h('div', { class: 'bar', title: label || `${pct.toFixed(1)}%` }, fill);
}

// card is a titled box.
export function card(title, ...body) {
  return h('section', { class: 'card' }, h('h3', { text: title }), ...body);
}

// wideCard is a card two grid columns wide.
export function wideCard(title, ...body) {
  const c = card(title, ...body);
  c.classList.add('span2');
  return c;
}

// kv is a two-column definition list from [label, value] pairs.
export function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(h('dt', { text: k }), h('dd', {}, v instanceof Node ? v : String(v)));
  }
  return dl;
}

// link is an in-app (hash) link.
export function link(href, text, cls) {
  return h('a', { href, text, class: cls });
}

// debounce delays fn until calls stop for ms.
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// throttle runs fn at most once per ms; a call during the pause runs once
// when it ends, so the last state is always drawn.
// The returned function has cancel() for views being unmounted.
export function throttle(fn, ms) {
  let last = 0;
  let timer = 0;
  const call = () => {
    const wait = last + ms - performance.now();
    if (wait <= 0) {
      last = performance.now();
      fn();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = 0;
        last = performance.now();
        fn();
      }, wait);
    }
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

// every runs fn now and then every ms until the returned stop is called.
export function every(ms, fn) {
  let timer = 0;
  let stopped = false;
  const run = async () => {
    try {
      await fn();
    } catch {
      // fn shows its own errors; the next round retries
    } finally {
      if (!stopped) timer = setTimeout(run, ms);
    }
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
