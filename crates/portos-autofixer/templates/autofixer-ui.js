// The autofixer page: processes with status dots, live logs (SSE), restart,
// stop and "fix now", the fix history and each session. Every node is built
// with textContent: names and logs are data, never HTML.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  let current = null;
  let source = null;
  let paused = false;
  let held = [];
  let count = 0;
  const MAX_LINES = 1000;

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function toast(text) {
    const t = el('div', 'toast', text);
    $('toasts').appendChild(t);
    setTimeout(() => t.remove(), 3000);
  }
  async function getJson(path) {
    const r = await fetch(path, { credentials: 'same-origin' });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
    return r.json();
  }
  async function post(path) {
    const r = await fetch(path, { method: 'POST', credentials: 'same-origin' });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  async function loadProcesses() {
    let list;
    try { list = await getJson('/api/status'); } catch (e) { return; }
    const ul = $('procs');
    ul.replaceChildren();
    if (!list.length) { ul.appendChild(el('li', 'muted', 'No app processes are supervised.')); return; }
    for (const p of list) {
      const li = el('li');
      const b = el('button');
      b.type = 'button';
      b.dataset.name = p.name;
      b.setAttribute('aria-current', String(p.name === current));
      b.appendChild(el('span', 'dot ' + p.status));
      b.appendChild(document.createTextNode(p.name + ' · ' + p.app + ' · ' + p.state));
      b.addEventListener('click', () => choose(p.name));
      li.appendChild(b);
      ul.appendChild(li);
    }
  }

  function addLine(line) {
    const log = $('log');
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 50;
    const span = el('span', line.stream === 'err' ? 'err' : '', line.message + '\n');
    log.appendChild(span);
    while (log.childNodes.length > MAX_LINES) log.firstChild.remove();
    count += 1;
    $('count').textContent = String(count);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  function connect() {
    if (source) source.close();
    if (!current) return;
    source = new EventSource('/logs?process=' + encodeURIComponent(current));
    source.onopen = () => { $('conn').className = 'dot on'; $('conn-text').textContent = 'Connected'; };
    source.onmessage = (m) => {
      let line;
      try { line = JSON.parse(m.data); } catch (e) { return; }
      if (paused) held.push(line); else addLine(line);
    };
    source.onerror = () => {
      $('conn').className = 'dot off';
      $('conn-text').textContent = 'Disconnected';
      source.close();
      setTimeout(connect, 3000);
    };
  }

  function choose(name) {
    current = name;
    $('current').textContent = name;
    for (const id of ['restart', 'stop', 'fix']) $(id).disabled = false;
    $('log').replaceChildren();
    count = 0;
    connect();
    loadProcesses();
  }

  async function act(what, label) {
    if (!current) return;
    try {
      const r = await post('/api/' + what + '/' + encodeURIComponent(current));
      toast(label + ' ' + current + (r.sessionId ? ': session ' + r.sessionId : ''));
    } catch (e) { toast(label + ' failed: ' + e.message); }
    loadProcesses();
    loadHistory();
  }

  async function loadHistory() {
    let list;
    try { list = await getJson('/api/history'); } catch (e) { return; }
    const ul = $('history');
    ul.replaceChildren();
    if (!list.length) { ul.appendChild(el('li', 'muted', 'No fixes yet.')); return; }
    for (const s of list) {
      const li = el('li');
      const b = el('button');
      b.type = 'button';
      b.dataset.session = s.sessionId;
      const when = s.startTime ? new Date(s.startTime).toLocaleString() : '';
      const secs = typeof s.duration === 'number' ? (s.duration / 1000).toFixed(1) + ' s' : '';
      b.appendChild(el('span', s.success ? 'good' : 'failed', s.success ? 'Fixed successfully' : 'Fix failed'));
      b.appendChild(document.createTextNode(' · ' + (s.processName || '') + ' - ' + (s.appName || '') + ' · ' + when + ' · ' + secs));
      b.addEventListener('click', () => showSession(s.sessionId));
      li.appendChild(b);
      ul.appendChild(li);
    }
  }

  async function showSession(id) {
    let s;
    try { s = await getJson('/api/sessions/' + encodeURIComponent(id)); } catch (e) { toast(e.message); return; }
    const box = $('session');
    box.replaceChildren();
    box.appendChild(el('h3', '', (s.processName || '') + ' · ' + (s.appName || '')));
    box.appendChild(el('p', s.success ? 'good verdict' : 'failed verdict', s.verdict || (s.success ? 'Fixed successfully' : 'Fix failed')));
    for (const [label, text] of [['What changed', s.diffStat], ['Agent output', s.output], ['Prompt', s.prompt]]) {
      box.appendChild(el('h4', '', label));
      box.appendChild(el('pre', label === 'What changed' ? 'diff' : '', text || '(none)'));
    }
    box.hidden = false;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('restart').addEventListener('click', () => act('restart', 'Restarted'));
    $('stop').addEventListener('click', () => act('stop', 'Stopped'));
    $('fix').addEventListener('click', () => act('fix', 'Fix started for'));
    $('clear').addEventListener('click', () => { $('log').replaceChildren(); count = 0; $('count').textContent = '0'; });
    $('pause').addEventListener('click', () => {
      paused = !paused;
      $('pause').textContent = paused ? 'Resume' : 'Pause';
      $('pause').setAttribute('aria-pressed', String(paused));
      if (!paused) { held.forEach(addLine); held = []; }
    });
    loadProcesses();
    loadHistory();
    setInterval(loadProcesses, 10000);
    setInterval(loadHistory, 5000);
  });
})();
