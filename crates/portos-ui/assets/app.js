// PortOS web UI: the live parts of the server-rendered pages. Data comes from
// the api server through this server's /api and /ws; nothing from the network
// is ever inserted as HTML (every node is built with textContent).
'use strict';
// A link from stored data is followed only when it is http(s): never javascript:, data: or file:.
const httpUrl = (u) => (typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null);


// ---------- small helpers ----------

const $ = (sel, root = document) => root.querySelector(sel);

const SVG_TAGS = new Set(['svg', 'polyline', 'rect', 'g', 'line', 'text', 'title']);

/** An element: h('button', { class: 'x', onclick: f, 'aria-label': 'y' }, 'text', child). */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(
    SVG_TAGS.has(tag) ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml',
    tag,
  );
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    // Styles through the CSSOM: the page's CSP allows no inline style attribute.
    else if (k === 'css') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** A call to the api server; JSON in and out; throws ApiError with the server's message. */
async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: {} };
  if (opts.json !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    init.body = opts.body;
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError('The UI server is not answering', 0, null);
  }
  const type = r.headers.get('content-type') || '';
  const body = r.status === 204 ? null : type.includes('json') ? await r.json().catch(() => null) : await r.text();
  if (!r.ok) {
    let msg = (body && (body.error || body.message)) || `${r.status} ${r.statusText}`;
    // A validation error says which fields, not just that something failed.
    const details = body && body.context && Array.isArray(body.context.details) ? body.context.details : [];
    if (details.length) msg = `${msg}: ${details.map((d) => `${d.path || d.field || ''} ${d.message || ''}`.trim()).join('; ')}`;
    throw new ApiError(typeof msg === 'string' ? msg : JSON.stringify(msg), r.status, body);
  }
  return body;
}

/** A short message in the corner; errors stay until dismissed or 10 s pass. */
function toast(message, kind = 'bad') {
  const box = $('#toasts');
  if (!box) return;
  const t = h('div', { class: `toast ${kind}` },
    h('p', { text: message }),
    h('button', { type: 'button', 'aria-label': 'Dismiss message', onclick: () => t.remove() }, '×'));
  box.append(t);
  setTimeout(() => t.remove(), kind === 'ok' ? 4000 : 10000);
  while (box.children.length > 5) box.firstChild.remove();
}

/**
 * For loaders that can overlap (a page's first load and the one after a save):
 * each call of the returned function starts a load and gives a check that stays
 * true only while that load is the newest, so a slow older answer never
 * overwrites a newer one.
 */
function newest() {
  let n = 0;
  return () => { const mine = ++n; return () => mine === n; };
}

/** Runs an action; its error becomes a toast (unless the api server is simply down). */
async function attempt(fn, okMessage) {
  try {
    const r = await fn();
    if (okMessage) toast(typeof okMessage === 'function' ? okMessage(r) : okMessage, 'ok');
    return r;
  } catch (e) {
    if (!(e instanceof ApiError && (e.status === 0 || e.status === 502) && !live.online)) toast(e.message);
    return undefined;
  }
}

const fmt = {
  bytes(n) {
    if (n === null || n === undefined) return '–';
    const u = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i += 1; }
    return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
  },
  duration(ms) {
    if (!ms && ms !== 0) return '–';
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  },
  /** A time in UTC, as schedules are written: `2026-11-26 09:00 UTC`. */
  utc(t) {
    if (!t) return '–';
    const d = new Date(String(t));
    return Number.isNaN(d.getTime()) ? String(t) : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  },
  time(t) {
    if (!t) return '–';
    const d = new Date(typeof t === 'number' ? t : String(t));
    return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
  },
};

function listOf(v, key) {
  if (Array.isArray(v)) return v;
  if (v && Array.isArray(v[key])) return v[key];
  if (v && v[key] && typeof v[key] === 'object') return Object.entries(v[key]).map(([id, x]) => ({ id, ...x }));
  return [];
}

// ---------- the live socket: errors as toasts, the offline banner ----------

const live = {
  ws: null,
  online: false,
  channels: new Set(['errors']),
  handlers: [],
  reconnectHooks: [],
  /** Calls fn(event, data) for each event whose name starts with prefix. */
  on(prefix, fn) { this.handlers.push([prefix, fn]); },
  onReconnect(fn) { this.reconnectHooks.push(fn); },
  send(event, data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event, data }));
  },
};

function setOnline(on) {
  if (live.online === on) return;
  live.online = on;
  const banner = $('#offline');
  if (banner) banner.hidden = on;
  if (on) live.reconnectHooks.forEach((f) => f());
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  live.ws = ws;
  ws.addEventListener('open', () => {
    for (const c of live.channels) ws.send(JSON.stringify({ event: `${c}:subscribe` }));
  });
  ws.addEventListener('message', (e) => {
    // Any message proves the api server is there (the UI server alone sends none).
    setOnline(true);
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    if (m.event === 'error:notified' && m.data) toast(m.data.message || m.data.error || 'An error happened on the server');
    for (const [prefix, fn] of live.handlers) if (m.event && m.event.startsWith(prefix)) fn(m.event, m.data);
  });
  ws.addEventListener('close', () => {
    setOnline(false);
    setTimeout(connect, 1000);
  });
}

// ---------- pages ----------

const pages = {};

pages.dashboard = () => {
  const tiles = $('#tiles');
  const history = new Map();
  const KEEP = 60;
  // Apps' processes sit beside ours, each tile naming its app.
  const appNames = new Map();
  const loadApps = () => api('/api/apps').then((list) => {
    appNames.clear();
    for (const a of list) appNames.set(a.id, a.name);
  }).catch(() => {});
  live.on('apps:changed', () => loadApps().then(refresh));

  function sparkline(name, samples) {
    const w = 120;
    const pts = (vals, max) => vals.map((v, i) => `${((i / (KEEP - 1)) * w).toFixed(1)},${(34 - (max ? (v / max) * 32 : 0)).toFixed(1)}`).join(' ');
    const mem = samples.map((s) => s.mem);
    const cpu = samples.map((s) => s.cpu);
    const last = samples[samples.length - 1] || { mem: 0, cpu: 0 };
    return h('svg', { class: 'spark', viewBox: `0 0 ${w} 36`, preserveAspectRatio: 'none', role: 'img',
      'aria-label': `${name}: memory ${fmt.bytes(last.mem)}, CPU ${last.cpu.toFixed(1)}% over the last ${samples.length} samples` },
    h('polyline', { class: 'mem', points: pts(mem, Math.max(...mem, 1)) }),
    h('polyline', { class: 'cpu', points: pts(cpu, Math.max(...cpu, 100)) }));
  }

  function badge(p) {
    const s = p.state || p.status;
    const kind = { healthy: 'ok', online: 'ok', unhealthy: 'warn', starting: 'warn', backoff: 'warn', stopping: 'warn', errored: 'bad', stopped: 'bad' }[s] || '';
    return h('span', { class: `badge ${kind}`, 'data-role': 'state', text: s });
  }

  function tile(p) {
    const id = `tile-${p.name}`;
    let t = document.getElementById(id);
    const control = (action) => h('button', { type: 'button', 'data-action': action, 'aria-label': `${action[0].toUpperCase()}${action.slice(1)} ${p.name}`,
      onclick: () => attempt(() => api(`/api/processes/${encodeURIComponent(p.name)}/${action}`, { method: 'POST' }), `${p.name}: ${action} done`).then(refresh) },
    action[0].toUpperCase() + action.slice(1));
    if (!t) {
      t = h('article', { class: 'tile', id, 'aria-labelledby': `${id}-h` },
        h('header', {}, h('h2', { id: `${id}-h`, text: p.name }), h('span', { 'data-slot': 'badge' })),
        h('p', { class: 'path', 'data-slot': 'group' }),
        h('dl', { class: 'facts', 'data-slot': 'facts' }),
        h('div', { 'data-slot': 'spark' }),
        h('div', { class: 'legend', 'aria-hidden': 'true' }, h('span', { class: 'mem', text: 'memory' }), h('span', { class: 'cpu', text: 'CPU' })),
        h('div', { class: 'row' }, control('start'), control('stop'), control('restart')));
      tiles.append(t);
    }
    const ports = Object.entries(p.ports || {});
    const facts = [
      ['PID', p.pid || '–'],
      ['CPU', `${(p.cpu || 0).toFixed(1)}%`],
      ['Memory', fmt.bytes(p.memory)],
      ['Uptime', p.uptime ? fmt.duration(p.uptime) : '–'],
      ['Restarts', p.restarts ?? 0],
      ['Why', p.reason || ''],
    ];
    const dl = $('[data-slot=facts]', t);
    if (!dl.childElementCount) {
      dl.append(...facts.flatMap(([k]) => [h('dt', { text: k, 'data-term': k.toLowerCase() }), h('dd', { 'data-fact': k.toLowerCase() })]),
        h('dt', { text: 'Ports' }), h('dd', { 'data-fact': 'ports' }));
    }
    // Text changes in place, so keyboard focus inside the tile survives a refresh.
    for (const [k, v] of facts) {
      const dd = $(`[data-fact=${k.toLowerCase()}]`, dl);
      dd.textContent = String(v);
      dd.hidden = v === '';
      $(`[data-term=${k.toLowerCase()}]`, dl).hidden = v === '';
    }
    const portsDd = $('[data-fact=ports]', dl);
    const sig = JSON.stringify(ports);
    if (portsDd.dataset.sig !== sig) {
      portsDd.dataset.sig = sig;
      portsDd.replaceChildren(...(ports.length ? ports.flatMap(([label, port], i) => [i ? ' ' : '', h('a', { href: `${location.protocol}//${location.hostname}:${port}/`, 'aria-label': `${p.name} ${label} port ${port}` }, `${label} ${port}`)]) : ['–']));
    }
    $('[data-slot=badge]', t).replaceChildren(badge(p));
    const group = $('[data-slot=group]', t);
    group.textContent = !p.group || p.group === 'portos' ? 'PortOS' : `app: ${appNames.get(p.group) || p.group}`;
    const samples = history.get(p.name) || [];
    samples.push({ mem: p.memory || 0, cpu: p.cpu || 0 });
    while (samples.length > KEEP) samples.shift();
    history.set(p.name, samples);
    $('[data-slot=spark]', t).replaceChildren(sparkline(p.name, samples));
  }

  async function refresh() {
    let ps;
    try { ps = await api('/api/logs/processes'); } catch (e) {
      $('#dash-summary').textContent = `Processes unavailable: ${e.message}`;
      return;
    }
    ps.forEach(tile);
    const seen = new Set(ps.map((p) => `tile-${p.name}`));
    for (const t of [...tiles.children]) if (!seen.has(t.id)) t.remove();
    const healthy = ps.filter((p) => p.state === 'healthy').length;
    $('#dash-summary').textContent = `${ps.length} processes, ${healthy} healthy.`;
  }
  loadApps().then(refresh);
  setInterval(refresh, 2000);
  live.onReconnect(refresh);
  health();
  setInterval(health, 10000);
};

/** The dashboard's health strip: the verdict, memory, load, processes, warnings. */
async function health() {
  const strip = $('#health');
  let d;
  try { d = await api('/api/system/health/details'); } catch { strip.hidden = true; return; }
  strip.hidden = false;
  const kind = { healthy: 'ok', warning: 'warn', critical: 'bad' }[d.overallHealth] || '';
  const m = d.system.memory;
  strip.dataset.health = d.overallHealth;
  strip.replaceChildren(
    h('span', { class: `badge ${kind}`, text: d.overallHealth }),
    h('span', { text: `memory ${m.usagePercent}% (${m.usedFormatted} of ${m.totalFormatted})` }),
    h('span', { text: `load ${d.system.cpu.usagePercent}% of ${d.system.cpu.cores} cores` }),
    h('span', { text: `${d.processes.online}/${d.processes.total} processes online${d.processes.errored ? `, ${d.processes.errored} errored` : ''}` }),
    h('span', { text: `up ${d.system.uptimeFormatted}` }),
    ...d.warnings.map((w) => h('span', { class: 'badge warn', text: w.message })));
}

pages.logs = () => {
  const out = $('#logs-out');
  const sel = $('#logs-process');
  const linesIn = $('#logs-lines');
  const filter = $('#logs-filter');
  const pause = $('#logs-pause');
  let paused = false;
  let held = [];

  const matches = (el) => !filter.value || el.textContent.toLowerCase().includes(filter.value.toLowerCase());
  function show(d) {
    const el = h('div', { class: d.type === 'stderr' ? 'err' : '' },
      h('span', { class: 'proc', text: `${d.processName} ` }), `${d.timestamp || ''} ${d.line}`);
    if (!matches(el)) el.hidden = true;
    const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 20;
    out.append(el);
    const max = Math.max(Number(linesIn.value) || 200, 200) * 2;
    while (out.childElementCount > max) out.firstChild.remove();
    if (atEnd) out.scrollTop = out.scrollHeight;
  }
  live.on('logs:line', (_, d) => { if (paused) held.push(d); else show(d); });
  live.on('logs:error', (_, d) => toast(`Logs: ${d.error}`));
  function subscribe() {
    const lines = Math.min(Math.max(Number(linesIn.value) || 200, 1), 10000);
    out.replaceChildren();
    live.send('logs:subscribe', { processName: sel.value, lines });
  }
  live.onReconnect(subscribe);
  sel.addEventListener('change', subscribe);
  linesIn.addEventListener('change', subscribe);
  filter.addEventListener('input', () => { for (const el of out.children) el.hidden = !matches(el); });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) { held.forEach(show); held = []; }
  });
  $('#logs-clear').addEventListener('click', () => out.replaceChildren());
  $('#logs-form').addEventListener('submit', (e) => { e.preventDefault(); subscribe(); });
  attempt(async () => {
    const ps = await api('/api/logs/processes');
    for (const p of ps) sel.append(h('option', { value: p.name, text: p.name }));
    const wanted = new URLSearchParams(location.search).get('process');
    if (wanted) { sel.value = wanted; subscribe(); }
  });
};

pages.providers = () => {
  const list = $('#prov-list');
  const form = $('#prov-form');
  const fields = { name: '#p-name', type: '#p-type', endpoint: '#p-endpoint', command: '#p-command', defaultModel: '#p-model', fallbackProvider: '#p-fallback' };
  let editing = null;

  function fill(p) {
    editing = p ? p.id : null;
    for (const [k, sel] of Object.entries(fields)) $(sel).value = p ? (p[k] ?? '') : (k === 'type' ? 'api' : '');
    $('#p-apikey').value = '';
    $('#p-enabled').checked = p ? p.enabled !== false : true;
    $('#prov-form-h').textContent = p ? `Edit ${p.name}` : 'Add a provider';
    $('#p-cancel').hidden = !p;
    if (p) $('#p-name').focus();
  }

  const loads = newest();
  async function load() {
    const current = loads();
    list.setAttribute('aria-busy', 'true');
    try {
      await show(current);
    } finally {
      if (current()) list.removeAttribute('aria-busy');
    }
  }

  async function show(current) {
    const [data, status] = await Promise.all([api('/api/providers'), api('/api/providers/status').catch(() => null)]);
    if (!current()) return;
    const active = data.activeProvider;
    const statuses = (status && (status.providers || status)) || {};
    list.replaceChildren(...listOf(data, 'providers').map((p) => {
      const st = statuses[p.id];
      const available = !st || st.available !== false;
      let armed = false;
      const del = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${p.name}`, onclick: () => {
        if (!armed) { armed = true; del.textContent = 'Really delete?'; setTimeout(() => { armed = false; del.textContent = 'Delete'; }, 4000); return; }
        attempt(() => api(`/api/providers/${encodeURIComponent(p.id)}`, { method: 'DELETE' }), `${p.name} deleted`).then(load);
      } }, 'Delete');
      return h('article', { class: 'card', 'data-provider': p.id },
        h('header', {}, h('h3', { text: p.name }),
          h('span', {}, p.id === active ? h('span', { class: 'badge ok', text: 'active' }) : null, ' ',
            h('span', { class: `badge ${p.enabled === false ? 'bad' : available ? 'ok' : 'warn'}`, text: p.enabled === false ? 'disabled' : available ? 'available' : (st.reason || 'unavailable') }))),
        h('dl', { class: 'facts' },
          h('dt', { text: 'Type' }), h('dd', { text: p.type }),
          h('dt', { text: p.type === 'cli' ? 'Command' : 'Endpoint' }), h('dd', { text: (p.type === 'cli' ? p.command : p.endpoint) || '–' }),
          h('dt', { text: 'Model' }), h('dd', { text: p.defaultModel || '–' }),
          h('dt', { text: 'API key' }), h('dd', { text: p.hasApiKey ? 'set (hidden)' : 'none' })),
        h('div', { class: 'row' },
          h('button', { type: 'button', 'aria-label': `Test ${p.name}`, onclick: () => attempt(() => api(`/api/providers/${encodeURIComponent(p.id)}/test`, { method: 'POST' }), (r) => `${p.name}: ${r && r.success === false ? `failed: ${r.error || ''}` : 'works'}`).then(load) }, 'Test'),
          p.id === active ? null : h('button', { type: 'button', 'aria-label': `Make ${p.name} the active provider`, onclick: () => attempt(() => api('/api/providers/active', { method: 'PUT', json: { id: p.id } }), `${p.name} is now active`).then(load) }, 'Set active'),
          h('button', { type: 'button', 'aria-label': `Edit ${p.name}`, onclick: () => fill(p) }, 'Edit'),
          del));
    }));
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const [k, sel] of Object.entries(fields)) { const v = $(sel).value.trim(); if (v || editing) body[k] = v; }
    body.enabled = $('#p-enabled').checked;
    const key = $('#p-apikey').value;
    if (key) body.apiKey = key;
    const saved = await attempt(() => (editing
      ? api(`/api/providers/${encodeURIComponent(editing)}`, { method: 'PUT', json: body })
      : api('/api/providers', { method: 'POST', json: body })), (r) => `${(r && r.name) || body.name} saved`);
    if (saved) { fill(null); load(); }
  });
  $('#p-cancel').addEventListener('click', () => fill(null));
  attempt(load);
  live.onReconnect(() => attempt(load));
};

pages.runs = () => {
  const out = $('#run-output');
  const state = $('#run-state');
  const stop = $('#run-stop');
  let current = null;
  const early = new Map();

  function setState(text, kind) { state.textContent = text; state.className = `badge ${kind || ''}`; }

  function onEvent(event, data) {
    const [, id, kind] = event.split(':');
    if (id !== current) {
      if (!current) { const q = early.get(id) || []; q.push([event, data]); early.set(id, q); }
      return;
    }
    if (kind === 'data') {
      out.append(document.createTextNode(typeof data === 'string' ? data : JSON.stringify(data)));
      out.scrollTop = out.scrollHeight;
    } else if (kind === 'complete') {
      const ok = data && data.success;
      setState(ok ? 'succeeded' : `failed${data && data.error ? `: ${data.error}` : ''}`, ok ? 'ok' : 'bad');
      stop.disabled = true;
      loadHistory();
    }
  }
  live.on('run:', onEvent);

  async function start(e) {
    e.preventDefault();
    const body = { providerId: $('#run-provider').value };
    const stage = $('#run-stage').value;
    if (stage) {
      body.stage = stage;
      const raw = $('#run-vars').value.trim();
      try { body.variables = raw ? JSON.parse(raw) : {}; } catch { toast('Variables must be JSON, e.g. {"name": "value"}'); return; }
    } else {
      body.prompt = $('#run-prompt').value;
    }
    current = null;
    early.clear();
    out.replaceChildren();
    setState('starting', 'warn');
    const r = await attempt(() => api('/api/runs', { method: 'POST', json: body }));
    if (!r) { setState('', ''); return; }
    current = r.runId;
    setState('running', 'warn');
    stop.disabled = false;
    for (const [ev, d] of early.get(current) || []) onEvent(ev, d);
    early.clear();
    loadHistory();
  }

  const historyLoads = newest();
  async function loadHistory() {
    const current = historyLoads();
    const data = await api('/api/runs?limit=50').catch(() => null);
    if (!data || !current()) return;
    const who = $('#run-filter').value.toLowerCase();
    const outcome = $('#run-outcome').value;
    const runs = listOf(data, 'runs').filter((r) => (!who || `${r.providerId} ${r.providerName || ''}`.toLowerCase().includes(who))
      && (!outcome || (outcome === 'active' ? r.isActive : outcome === 'ok' ? r.success === true : r.success === false)));
    $('#run-list').replaceChildren(...runs.map((r) => h('li', {},
      h('span', { class: `badge ${r.isActive ? 'warn' : r.success ? 'ok' : 'bad'}`, text: r.isActive ? 'running' : r.success ? 'ok' : 'failed' }),
      h('span', { class: 'grow' }, `${r.providerName || r.providerId} · ${fmt.time(r.startTime)}`, r.error ? h('span', { class: 'muted', text: ` · ${r.error}` }) : null),
      h('button', { type: 'button', 'aria-label': `Show the output of run ${r.id}`, onclick: async () => {
        const text = await attempt(() => api(`/api/runs/${encodeURIComponent(r.id)}/output`));
        if (text !== undefined) { current = r.id; out.textContent = typeof text === 'string' ? text : JSON.stringify(text); setState(r.isActive ? 'running' : r.success ? 'succeeded' : 'failed', r.success ? 'ok' : 'bad'); stop.disabled = !r.isActive; }
      } }, 'Output'))));
  }

  stop.addEventListener('click', () => current && attempt(() => api(`/api/runs/${encodeURIComponent(current)}/stop`, { method: 'POST' }), 'Run stopped'));
  $('#run-form').addEventListener('submit', start);
  $('#run-filter').addEventListener('input', loadHistory);
  $('#run-outcome').addEventListener('change', loadHistory);
  attempt(async () => {
    const [data, prompts] = await Promise.all([api('/api/providers'), api('/api/prompts').catch(() => null)]);
    const sel = $('#run-provider');
    for (const p of listOf(data, 'providers').filter((x) => x.enabled !== false)) sel.append(h('option', { value: p.id, text: `${p.name} (${p.type})` }));
    if (data.activeProvider) sel.value = data.activeProvider;
    for (const s of listOf(prompts, 'stages')) $('#run-stage').append(h('option', { value: s.id || s.name, text: s.name || s.id }));
  });
  loadHistory();
};

pages.prompts = () => {
  let stage = null;
  const text = $('#pr-text');
  async function select(id) {
    const s = await attempt(() => api(`/api/prompts/${encodeURIComponent(id)}`));
    if (!s) return;
    stage = id;
    $('#pr-name').textContent = id;
    text.value = s.template || '';
    for (const b of ['#pr-text', '#pr-save', '#pr-preview']) $(b).disabled = false;
    for (const li of $('#pr-list').children) li.classList.toggle('selected', li.dataset.stage === id);
    const v = await api(`/api/prompts/${encodeURIComponent(id)}/versions`).catch(() => ({ versions: [] }));
    $('#pr-versions').replaceChildren(...(v.versions || []).map((x) => h('li', {},
      h('span', { class: 'grow', text: `${x.version} · ${fmt.time(x.savedAt)} · ${fmt.bytes(x.size)}` }),
      h('button', { type: 'button', 'aria-label': `Show version ${x.version}`, onclick: async () => {
        const r = await attempt(() => api(`/api/prompts/${encodeURIComponent(id)}/versions/${encodeURIComponent(x.version)}`));
        if (r) $('#pr-preview-out').textContent = r.template;
      } }, 'Show'))));
  }
  $('#pr-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!stage) return;
    const r = await attempt(() => api(`/api/prompts/${encodeURIComponent(stage)}`, { method: 'PUT', json: { template: text.value } }), (x) => `Saved${x && x.version ? ` as version ${x.version}` : ''}`);
    if (r) select(stage);
  });
  $('#pr-preview').addEventListener('click', async () => {
    let testData = {};
    const raw = $('#pr-data').value.trim();
    try { testData = raw ? JSON.parse(raw) : {}; } catch { toast('Preview data must be JSON'); return; }
    const r = await attempt(() => api(`/api/prompts/${encodeURIComponent(stage)}/preview`, { method: 'POST', json: { testData } }));
    if (r) $('#pr-preview-out').textContent = r.preview + (r.missing && r.missing.length ? `\n\n(missing: ${r.missing.join(', ')})` : '');
  });
  attempt(async () => {
    const [s, v] = await Promise.all([api('/api/prompts'), api('/api/prompts/variables')]);
    $('#pr-list').replaceChildren(...listOf(s, 'stages').map((x) => h('li', { 'data-stage': x.id },
      h('span', { class: 'grow' }, x.name || x.id, x.description ? h('span', { class: 'muted', text: ` · ${x.description}` }) : null),
      h('button', { type: 'button', 'aria-label': `Open ${x.name || x.id}`, onclick: () => select(x.id) }, 'Open'))));
    $('#pr-vars').replaceChildren(...listOf(v, 'variables').map((x) => h('li', {},
      h('code', { text: `{{${x.id}}}` }), h('span', { class: 'grow muted', text: `${x.name || ''} ${String(x.content || '').slice(0, 120)}` }))));
  });
};

pages.browser = () => {
  async function status() {
    const s = await api('/api/browser/health').catch((e) => ({ connected: false, error: e.message }));
    const facts = [
      ['State', s.connected ? 'running' : (s.reason || s.error || 'not running')],
      ['Chromium', s.browser || '–'],
      ['PID', s.pid || '–'],
      ['Launches', s.launches ?? '–'],
      ['DevTools', s.cdpEndpoint || '–'],
      ['Headless', s.headless === undefined ? '–' : s.headless ? 'yes' : 'no'],
    ];
    $('#br-status').replaceChildren(...facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })]));
  }
  async function tabs() {
    const pagesList = await api('/api/browser/pages').catch(() => []);
    $('#br-tabs').replaceChildren(...pagesList.map((t) => h('li', {},
      h('span', { class: 'grow' }, h('strong', { text: t.title }), h('br'), h('span', { class: 'muted', text: t.url })),
      h('button', { type: 'button', 'aria-label': `Screenshot of ${t.title}`, onclick: () => shoot(t) }, 'Screenshot'),
      h('button', { type: 'button', 'aria-label': `Close tab ${t.title}`, onclick: () => attempt(() => api(`/api/browser/pages/${encodeURIComponent(t.id)}`, { method: 'DELETE' })).then(tabs) }, 'Close'))));
  }
  async function shoot(t) {
    const r = await attempt(() => api('/api/browser/screenshot', { method: 'POST', json: { tabId: t.id } }), 'Screenshot saved');
    if (!r) return;
    $('#br-shot').replaceChildren(h('img', { src: `${r.url}?t=${Date.now()}`, alt: `Screenshot of ${t.title || t.url}` }),
      h('figcaption', {}, h('a', { href: r.url, text: r.filename }), ` · ${r.width}×${r.height}`));
  }
  const refresh = () => Promise.all([status(), tabs()]);
  for (const [id, action] of [['#br-launch', 'launch'], ['#br-stop', 'stop'], ['#br-restart', 'restart']]) {
    $(id).addEventListener('click', () => attempt(() => api(`/api/browser/${action}`, { method: 'POST' }), `Browser: ${action} done`).then(refresh));
  }
  $('#br-nav').addEventListener('submit', async (e) => {
    e.preventDefault();
    await attempt(() => api('/api/browser/navigate', { method: 'POST', json: { url: $('#br-url').value } }), (t) => `Opened ${t.url}`);
    tabs();
  });
  refresh();
  setInterval(refresh, 5000);
};

function gallery(kind) {
  const listPath = `/api/${kind}`;
  const loads = newest();
  async function load() {
    const current = loads();
    const data = await api(listPath).catch(() => null);
    if (!current()) return;
    const files = listOf(data, kind);
    $('#gallery-summary').textContent = `${files.length} file${files.length === 1 ? '' : 's'}${data && data.totalSizeFormatted ? `, ${data.totalSizeFormatted}` : ''}.`;
    $('#gallery').replaceChildren(...files.map((f) => {
      const url = `${listPath}/${encodeURIComponent(f.filename)}`;
      const isImage = String(f.mimeType || '').startsWith('image/') || /\.(png|jpe?g|gif|webp)$/i.test(f.filename);
      return h('li', {},
        isImage ? h('a', { href: url, 'aria-label': `Open ${f.filename}` }, h('img', { src: url, alt: f.filename, loading: 'lazy' })) : null,
        h('div', { class: 'meta' }, h('a', { href: url, text: f.filename }), h('span', { class: 'muted', text: fmt.bytes(f.size) }),
          h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${f.filename}`, onclick: () => attempt(() => api(url, { method: 'DELETE' }), `${f.filename} deleted`).then(load) }, 'Delete')));
    }));
  }
  async function upload(files) {
    for (const file of files) {
      if (kind === 'screenshots') {
        const data = await new Promise((ok, bad) => {
          const r = new FileReader();
          r.onload = () => ok(String(r.result).split(',')[1] || '');
          r.onerror = () => bad(r.error);
          r.readAsDataURL(file);
        });
        await attempt(() => api(listPath, { method: 'POST', json: { data, filename: file.name } }), `${file.name} uploaded`);
      } else {
        const form = new FormData();
        form.append('file', file);
        await attempt(() => api(listPath, { method: 'POST', body: form }), `${file.name} uploaded`);
      }
    }
    load();
  }
  const drop = $('#drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); upload([...e.dataTransfer.files]); });
  $('#file-input').addEventListener('change', (e) => { upload([...e.target.files]); e.target.value = ''; });
  load();
}
pages.screenshots = () => gallery('screenshots');
pages.uploads = () => gallery('uploads');

pages.history = () => {
  let offset = 0;
  const loads = newest();
  const limit = () => Number($('#hist-limit').value);
  async function load() {
    const action = $('#hist-action').value;
    const q = new URLSearchParams({ limit: String(limit()), offset: String(offset) });
    if (action) q.set('action', action);
    const current = loads();
    const data = await attempt(() => api(`/api/history?${q}`));
    if (!data || !current()) return;
    const entries = data.entries || [];
    $('#hist-summary').textContent = data.total ? `${offset + 1}–${offset + entries.length} of ${data.total}` : 'Nothing recorded yet.';
    $('#hist-prev').disabled = offset === 0;
    $('#hist-next').disabled = offset + entries.length >= (data.total || 0);
    $('#hist-list').replaceChildren(...entries.map((e) => h('li', {},
      h('span', { class: `badge ${e.success === false ? 'bad' : 'ok'}`, text: e.action }),
      h('span', { class: 'grow' }, e.targetName || e.target || '', e.error ? h('span', { class: 'muted', text: ` · ${e.error}` }) : null),
      h('time', { class: 'muted', datetime: e.timestamp, text: fmt.time(e.timestamp) }))));
  }
  $('#hist-prev').addEventListener('click', () => { offset = Math.max(0, offset - limit()); load(); });
  $('#hist-next').addEventListener('click', () => { offset += limit(); load(); });
  $('#hist-action').addEventListener('change', () => { offset = 0; load(); });
  $('#hist-limit').addEventListener('change', () => { offset = 0; load(); });
  $('#hist-form').addEventListener('submit', (e) => e.preventDefault());
  attempt(async () => {
    const actions = await api('/api/history/actions');
    for (const a of actions) $('#hist-action').append(h('option', { value: a, text: a }));
  });
  load();
};

// ---------- start ----------

document.addEventListener('DOMContentLoaded', () => {
  const toggle = $('#nav-toggle');
  toggle.addEventListener('click', () => {
    const open = $('#main-nav').classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
  });
  const fixer = $('#autofixer-link');
  if (fixer) fixer.href = `${location.protocol}//${location.hostname}:${fixer.dataset.port}/`;
  const page = document.body.dataset.page;
  if (pages[page]) pages[page]();
  connect();
});
