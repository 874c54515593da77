// PortOS web UI: the Apps page. Each app is a card with its supervised
// processes (state, CPU, memory, ports) and its actions; a panel below shows one
// app's logs, git, update and task types; "Add an app" looks at a folder step
// by step, shows what will run (and what cannot be honoured), then registers it.
// Uses the helpers of app.js ($, h, api, attempt, toast, fmt, live, newest).
'use strict';

pages.apps = () => {
  const list = $('#app-list');
  const loads = newest();
  let apps = [];
  let selected = null;

  const stateKind = (s) => ({ healthy: 'ok', online: 'ok', starting: 'warn', backoff: 'warn', unhealthy: 'warn', stopping: 'warn', errored: 'bad', stopped: 'bad' }[s] || '');

  function processRows(a) {
    const rows = Object.entries(a.pm2Status || {}).map(([name, p]) => {
      const running = Boolean(p.pid);
      const ports = Object.entries(p.ports || {}).map(([l, port]) => `${l} ${port}`).join(' ') || '–';
      return h('tr', { 'data-process': name },
        h('td', { text: name }),
        h('td', {}, h('span', { class: `badge ${stateKind(p.state || p.status)}`, text: p.state || p.status })),
        h('td', { text: running ? `${(p.cpu || 0).toFixed(1)}%` : '–' }),
        h('td', { text: running ? fmt.bytes(p.memory) : '–' }),
        h('td', { text: ports }));
    });
    if (!rows.length) return h('p', { class: 'muted', text: 'No processes.' });
    return h('table', { class: 'procs' },
      h('thead', {}, h('tr', {}, ...['Process', 'State', 'CPU', 'Memory', 'Ports'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows));
  }

  function act(a, verb) {
    return attempt(() => api(`/api/apps/${encodeURIComponent(a.id)}/${verb}`, { method: 'POST' }), `${a.name}: ${verb} done`).then(load);
  }

  function card(a) {
    const b = (label, verb, extra = {}) => h('button', { type: 'button', 'data-action': verb, 'aria-label': `${label} ${a.name}`, onclick: () => act(a, verb), ...extra }, label);
    let armed = false;
    const archive = h('button', { type: 'button', class: 'danger', 'aria-label': `Archive ${a.name}`, onclick: () => {
      if (!armed) { armed = true; archive.textContent = 'Really archive?'; setTimeout(() => { armed = false; archive.textContent = 'Archive'; }, 4000); return; }
      act(a, 'archive');
    } }, 'Archive');
    const own = a.id === 'portos-default';
    return h('article', { class: 'card', 'data-app': a.id },
      h('header', {}, h('h3', { text: a.name }), h('span', { class: `badge ${a.archived ? '' : stateKind(a.overallStatus)}`, text: a.archived ? 'archived' : a.overallStatus })),
      h('p', { class: 'path', text: a.repoPath }),
      processRows(a),
      h('div', { class: 'row' },
        a.archived ? b('Unarchive', 'unarchive') : [b('Start', 'start'), b('Stop', 'stop'), b('Restart', 'restart')],
        h('button', { type: 'button', 'aria-label': `Details of ${a.name}`, onclick: () => open(a.id) }, 'Details'),
        b('Editor', 'open-editor'), b('Folder', 'open-folder'),
        own || a.archived ? null : archive));
  }

  async function load() {
    const current = loads();
    list.setAttribute('aria-busy', 'true');
    try {
      const data = await api('/api/apps');
      if (!current()) return;
      apps = Array.isArray(data) ? data : [];
      list.replaceChildren(...apps.map(card));
      const running = apps.filter((a) => a.overallStatus === 'online').length;
      $('#apps-summary').textContent = `${apps.length} app${apps.length === 1 ? '' : 's'}, ${running} running.`;
      if (selected) renderProcessChoice();
    } catch (e) {
      if (current()) $('#apps-summary').textContent = `Apps unavailable: ${e.message}`;
    } finally {
      if (current()) list.removeAttribute('aria-busy');
    }
  }

  // ---------- one app's panels ----------

  const app = () => apps.find((a) => a.id === selected);

  function renderProcessChoice() {
    const a = app();
    if (!a) return;
    const sel = $('#app-log-process');
    const names = (a.pm2ProcessNames || []);
    if ([...sel.options].map((o) => o.value).join() !== names.join()) {
      sel.replaceChildren(...names.map((n) => h('option', { value: n, text: n })));
    }
  }

  function showTab(name) {
    for (const t of ['logs', 'git', 'update', 'tasks']) {
      $(`#tab-${t}`).setAttribute('aria-selected', String(t === name));
      $(`#panel-${t}`).hidden = t !== name;
    }
    ({ logs: loadLogs, git: loadGit, update: () => {}, tasks: loadTasks })[name]();
  }

  function open(id) {
    selected = id;
    const a = app();
    $('#app-detail').hidden = false;
    $('#app-detail-h').textContent = a.name;
    renderProcessChoice();
    showTab('logs');
    $('#app-detail').scrollIntoView({ block: 'start' });
  }

  async function loadLogs() {
    const a = app();
    if (!a) return;
    const process = $('#app-log-process').value;
    const q = new URLSearchParams({ lines: '200' });
    if (process) q.set('process', process);
    const r = await attempt(() => api(`/api/apps/${encodeURIComponent(a.id)}/logs?${q}`));
    if (r) $('#app-logs').textContent = r.logs || '(no lines yet)';
  }

  const gitBody = (extra = {}) => ({ path: app().repoPath, ...extra });
  const git = (action, extra) => api(`/api/git/${action}`, { method: 'POST', json: gitBody(extra) });

  // Overlapping loads (a tab opened, then a file staged) never draw an older answer over a newer one.
  const gitLoads = newest();
  async function loadGit() {
    const a = app();
    if (!a) return;
    const current = gitLoads();
    const info = await attempt(() => api(`/api/git/${encodeURIComponent(a.id)}`));
    if (!info || !current()) return;
    if (!info.isRepo) { $('#git-head').textContent = 'Not a git repository.'; return; }
    const st = info.status || { files: [] };
    $('#git-head').textContent = `On ${info.branch || '?'} · ${st.clean ? 'clean' : `${st.files.length} changed, ${st.staged} staged`}`;
    $('#git-files').replaceChildren(...st.files.map((f) => h('li', { 'data-file': f.path },
      h('span', { class: 'grow', text: f.path }),
      h('span', { class: 'badge', text: f.status }),
      h('button', { type: 'button', 'aria-label': `${f.staged ? 'Unstage' : 'Stage'} ${f.path}`,
        onclick: () => attempt(() => git(f.staged ? 'unstage' : 'stage', { files: [f.path] })).then(loadGit) }, f.staged ? 'Unstage' : 'Stage'))));
    const diff = await attempt(() => git('diff'));
    if (!current()) return;
    $('#git-diff').textContent = (diff && diff.diff) || '(no unstaged changes)';
    const branches = await attempt(() => git('branches'));
    if (!current()) return;
    $('#git-branches').replaceChildren(...((branches && branches.branches) || []).map((b) => h('li', { 'data-branch': b.name },
      h('span', { class: 'grow', text: b.name }),
      b.tracking ? h('span', { class: 'muted', text: `${b.tracking}${b.ahead ? ` ↑${b.ahead}` : ''}${b.behind ? ` ↓${b.behind}` : ''}` }) : null,
      b.current
        ? h('button', { type: 'button', 'aria-label': `Sync ${b.name} with its remote`, onclick: () => attempt(() => git('sync', { branch: b.name }), (r) => (r.success ? `${b.name} synced` : `Sync failed: ${r.error || ''}`)).then(loadGit) }, 'Sync')
        : h('button', { type: 'button', 'aria-label': `Check out ${b.name}`, onclick: () => attempt(() => git('checkout', { branch: b.name }), `On ${b.name}`).then(loadGit) }, 'Check out'))));
    $('#git-log').replaceChildren(...(info.recentCommits || []).map((c) => h('li', {},
      h('code', { text: c.hash }), h('span', { class: 'grow', text: c.message }), h('span', { class: 'muted', text: fmt.time(c.date) }))));
  }

  async function loadTasks() {
    const a = app();
    const r = await attempt(() => api(`/api/apps/${encodeURIComponent(a.id)}/task-types`));
    if (!r) return;
    const overrides = r.taskTypeOverrides || {};
    const names = Object.keys(overrides);
    $('#task-types').replaceChildren(...(names.length ? names.map((t) => {
      const on = overrides[t].enabled !== false;
      return h('li', {}, h('span', { class: 'grow', text: t }),
        h('button', { type: 'button', 'aria-label': `${on ? 'Disable' : 'Enable'} ${t}`, onclick: () => attempt(() => api(`/api/apps/${encodeURIComponent(a.id)}/task-types/${encodeURIComponent(t)}`, { method: 'PUT', json: { enabled: !on } })).then(loadTasks) }, on ? 'Disable' : 'Enable'));
    }) : [h('li', { class: 'muted', text: 'Every task type runs with its defaults.' })]));
  }

  for (const t of ['logs', 'git', 'update', 'tasks']) $(`#tab-${t}`).addEventListener('click', () => showTab(t));
  $('#app-detail-close').addEventListener('click', () => { selected = null; $('#app-detail').hidden = true; });
  $('#app-log-process').addEventListener('change', loadLogs);
  $('#app-log-refresh').addEventListener('click', loadLogs);
  $('#git-commit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await attempt(() => git('commit', { message: $('#git-message').value }), (c) => `Committed ${c.hash}`);
    if (r) { $('#git-message').value = ''; loadGit(); }
  });
  $('#git-pull').addEventListener('click', () => attempt(() => git('pull'), 'Pulled').then(loadGit));
  $('#git-push').addEventListener('click', () => attempt(() => git('push'), 'Pushed').then(loadGit));

  const step = (box, d) => {
    const id = `step-${d.step}`;
    let li = box.querySelector(`[data-step="${CSS.escape(d.step)}"]`);
    if (!li) { li = h('li', { 'data-step': d.step, id: `${box.id}-${id}` }); box.append(li); }
    li.className = d.status || '';
    li.textContent = `${d.step}: ${(d.data && d.data.message) || d.message || d.status || ''}`;
  };
  $('#app-update').addEventListener('click', () => {
    $('#update-steps').replaceChildren();
    $('#app-update').disabled = true;
    live.send('app:update', { appId: selected });
  });
  live.on('app:update:step', (_, d) => step($('#update-steps'), d));
  live.on('app:update:complete', (_, d) => { $('#app-update').disabled = false; toast(d.success ? 'Updated' : 'The update failed: see its steps', d.success ? 'ok' : 'bad'); load(); });
  live.on('app:update:error', (_, d) => { $('#app-update').disabled = false; toast(d.message); });

  // ---------- adding an app ----------

  let detected = null;
  function resetAdd() {
    detected = null;
    $('#app-steps').replaceChildren();
    $('#app-plan').replaceChildren();
    $('#app-confirm').disabled = true;
  }
  $('#app-add-open').addEventListener('click', () => { $('#app-add').hidden = false; $('#app-path').focus(); });
  $('#app-add-cancel').addEventListener('click', () => { $('#app-add').hidden = true; resetAdd(); });
  $('#app-path').addEventListener('input', resetAdd);
  $('#app-detect').addEventListener('click', () => {
    resetAdd();
    const path = $('#app-path').value.trim();
    if (!path) { toast('Type the folder of the app first'); return; }
    live.send('detect:start', { path });
  });
  live.on('detect:step', (_, d) => step($('#app-steps'), d));
  live.on('detect:start:error', (_, d) => toast(d.message || 'Cannot look at that folder'));
  live.on('detect:complete', async (_, d) => {
    if (!d.success) { toast(d.error || 'That folder is not an app'); return; }
    detected = d.result || {};
    if (!$('#app-name').value && detected.name) $('#app-name').value = detected.name;
    const plan = await attempt(() => api('/api/apps/preview', { method: 'POST', json: { repoPath: $('#app-path').value.trim(), name: $('#app-name').value } }));
    if (!plan) return;
    const procs = plan.processes || [];
    $('#app-plan').replaceChildren(
      h('h3', { text: procs.length ? 'What will run' : 'Nothing to run: no ecosystem file, portos.toml or start command' }),
      h('ul', { class: 'list', 'aria-label': 'Processes that will run' }, ...procs.map((p) => h('li', { 'data-plan': p.name },
        h('strong', { text: p.name }), h('code', { class: 'grow', text: p.command }),
        h('span', { class: 'muted', text: Object.entries(p.ports || {}).map(([l, port]) => `${l} ${port}`).join(' ') })))),
      (plan.unhonoured || []).length ? h('div', {}, h('p', { class: 'muted', text: 'Not honoured (PortOS runs them without these):' }),
        h('ul', { class: 'notes', id: 'app-unhonoured' }, ...plan.unhonoured.map((n) => h('li', { text: n })))) : null);
    $('#app-confirm').disabled = false;
  });
  $('#app-add-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { ...(detected || {}), name: $('#app-name').value.trim(), repoPath: $('#app-path').value.trim() };
    for (const k of ['pm2Status', 'processes', 'id']) delete body[k];
    // What detection did not find is left to the defaults.
    for (const [k, v] of Object.entries(body)) if (v === null || v === '' || (Array.isArray(v) && !v.length)) delete body[k];
    const created = await attempt(() => api('/api/apps', { method: 'POST', json: body }),
      (a) => `${a.name} registered${a.supervision && a.supervision.started && a.supervision.started.length ? `: started ${a.supervision.started.join(', ')}` : ''}`);
    if (created) { $('#app-add').hidden = true; $('#app-path').value = ''; $('#app-name').value = ''; resetAdd(); load(); }
  });

  live.on('apps:changed', () => load());
  live.onReconnect(load);
  load();
  setInterval(load, 3000);
};
