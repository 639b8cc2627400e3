// Formatting of the numbers, sizes, times and states the pages show.

// mb formats a size in megabytes (Mesos' unit for mem and disk).
export function mb(v) {
  return bytes((Number(v) || 0) * 1024 * 1024);
}

// bytes formats a byte count with a binary unit.
export function bytes(v) {
  let n = Number(v) || 0;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

// num formats a scalar with at most 3 decimals (Mesos' fixed point).
export function num(v) {
  const n = Number(v) || 0;
  return String(Math.round(n * 1000) / 1000);
}

// pct formats a fraction as a percentage.
export function pct(used, total) {
  return total > 0 ? ((100 * used) / total).toFixed(1) + '%' : '–';
}

// resource formats one resource value by name.
export function resource(name, v) {
  if (typeof v === 'string') return v;
  return name === 'mem' || name === 'disk' ? mb(v) : num(v);
}

// date formats seconds since the epoch as local time.
export function date(secs) {
  if (!secs) return '';
  return new Date(secs * 1000).toLocaleString();
}

// ago formats seconds since the epoch as a short relative time.
export function ago(secs, now = Date.now() / 1000) {
  if (!secs) return '';
  return duration(now - secs) + ' ago';
}

// duration formats seconds as "3s", "4m", "2h 5m", "3d 4h".
export function duration(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

// stateClass is the CSS class of a task state.
export function stateClass(state) {
  switch (state) {
    case 'TASK_RUNNING':
      return 'state-running';
    case 'TASK_STAGING':
    case 'TASK_STARTING':
    case 'TASK_KILLING':
      return 'state-pending';
    case 'TASK_FINISHED':
      return 'state-finished';
    case 'TASK_KILLED':
      return 'state-killed';
    default:
      return 'state-failed';
  }
}

// shortState drops the TASK_ prefix.
export function shortState(state) {
  return String(state || '').replace(/^TASK_/, '');
}

// health formats a task's health flag.
export function health(healthy) {
  if (healthy === true) return 'healthy';
  if (healthy === false) return 'unhealthy';
  return '–';
}
