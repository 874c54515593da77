// The Chief of Staff page: the CoS's state and controls, adding a task (with
// an AI enhancement of its text), the task board (reorder by drag or by the
// ↑/↓ buttons, approve, block/unblock, edit, delete), agents with their
// output as it arrives on the `cos` channel, history by day, learning,
// today's report and the settings.
'use strict';

live.channels.add('cos');

pages.cos = () => {
  const post = (path, json = {}) => api(path, { method: 'POST', json });
  const put = (path, json) => api(path, { method: 'PUT', json });
  const taskPath = (id, tail = '') => `/api/cos/tasks/${encodeURIComponent(id)}${tail}`;
  const loads = newest();
  const state = { status: {}, tasks: { user: { tasks: [] }, cos: { tasks: [] } }, agents: [] };
  const outputs = {};

  const load = () => attempt(async () => {
    const mine = loads();
    const [status, tasks, agents, history, learning, summary, report] = await Promise.all([
      api('/api/cos'), api('/api/cos/tasks'), api('/api/cos/agents'), api('/api/cos/agents/history'),
      api('/api/cos/learning'), api('/api/cos/learning/summary'), api('/api/cos/reports/today')]);
    if (!mine()) return;
    Object.assign(state, { status, tasks, agents });
    for (const a of agents) outputs[a.id] = (a.output || []).map((l) => l.line).join('\n');
    renderStatus(); renderBoard(); renderAgents(); renderHistory(history); renderLearning(learning, summary); renderReport(report);
    fillConfig(status.config || {});
    document.body.dataset.cosLoaded = String(Date.now());
  });

  function renderStatus() {
    const s = state.status;
    const word = !s.running ? 'stopped' : s.paused ? 'paused' : 'running';
    const badge = $('#cos-state');
    badge.textContent = word;
    badge.className = `badge ${word === 'running' ? 'ok' : word === 'paused' ? 'warn' : ''}`;
    $('#cos-toggle').textContent = s.running ? 'Stop' : 'Start';
    $('#cos-pause').textContent = s.paused ? 'Resume' : 'Pause';
    const st = s.stats || {};
    $('#cos-stats').textContent = `${s.activeAgents || 0} agents running · ${st.tasksCompleted || 0} tasks completed · ${st.errors || 0} failed attempts · provider ${s.provider ? s.provider.name : 'none'}`;
  }

  function move(ids, id, by) {
    const i = ids.indexOf(id);
    const j = i + by;
    if (i < 0 || j < 0 || j >= ids.length) return null;
    const out = [...ids];
    [out[i], out[j]] = [out[j], out[i]];
    return out;
  }

  const reorder = (order) => attempt(() => post('/api/cos/tasks/reorder', { taskIds: order }).then(load));

  function taskItem(t, kind, pendingIds) {
    const running = state.agents.find((a) => a.taskId === t.id && a.status === 'running');
    const li = h('li', { 'data-task': t.id, 'data-status': t.status },
      h('span', { class: `badge ${t.priority === 'CRITICAL' || t.priority === 'HIGH' ? 'warn' : ''}`, text: t.priority }),
      h('span', { class: 'grow', 'data-role': 'description', text: t.description }),
      t.metadata && t.metadata.app ? h('span', { class: 'badge', text: t.metadata.app }) : null,
      t.metadata && t.metadata.blockedReason ? h('span', { class: 'muted', 'data-role': 'reason', text: t.metadata.blockedReason }) : null,
      running ? h('span', { class: 'badge ok', text: 'agent running' }) : null);
    const actions = h('span', { class: 'row' });
    const act = (label, aria, fn) => actions.append(h('button', { type: 'button', 'aria-label': `${aria} ${t.description.slice(0, 40)}`, onclick: fn }, label));
    if (t.status === 'pending' && kind === 'user') {
      act('↑', 'Move up', () => { const o = move(pendingIds, t.id, -1); if (o) reorder(o); });
      act('↓', 'Move down', () => { const o = move(pendingIds, t.id, 1); if (o) reorder(o); });
      li.draggable = true;
      li.addEventListener('dragstart', (e) => e.dataTransfer.setData('text/plain', t.id));
      li.addEventListener('dragover', (e) => { e.preventDefault(); li.classList.add('drop'); });
      li.addEventListener('dragleave', () => li.classList.remove('drop'));
      li.addEventListener('drop', (e) => {
        e.preventDefault();
        li.classList.remove('drop');
        const dragged = e.dataTransfer.getData('text/plain');
        if (!dragged || dragged === t.id) return;
        const order = pendingIds.filter((x) => x !== dragged);
        order.splice(order.indexOf(t.id), 0, dragged);
        reorder(order);
      });
    }
    if (kind === 'cos' && t.approvalRequired && t.status === 'pending') act('Approve', 'Approve', () => attempt(() => post(taskPath(t.id, '/approve')).then(load), 'Approved'));
    if (t.status === 'blocked') act('Unblock', 'Unblock', () => attempt(() => put(taskPath(t.id), { status: 'pending', type: kind === 'cos' ? 'internal' : 'user' }).then(load), 'Back in the queue'));
    if (t.status === 'pending') act('Block', 'Block', () => {
      const reason = prompt('Why is it blocked?', 'Waiting on the owner');
      if (reason !== null) attempt(() => put(taskPath(t.id), { status: 'blocked', blockedReason: reason, type: kind === 'cos' ? 'internal' : 'user' }).then(load));
    });
    if (!running) {
      act('Edit', 'Edit', () => {
        const d = prompt('Task', t.description);
        if (d !== null && d.trim()) attempt(() => put(taskPath(t.id), { description: d, type: kind === 'cos' ? 'internal' : 'user' }).then(load), 'Saved');
      });
      act('Delete', 'Delete', () => { if (confirm(`Delete "${t.description.slice(0, 60)}"?`)) attempt(() => api(taskPath(t.id, `?type=${kind === 'cos' ? 'internal' : 'user'}`), { method: 'DELETE' }).then(load)); });
    }
    li.append(actions);
    return li;
  }

  function renderBoard() {
    const cols = [['pending', 'Pending'], ['in_progress', 'In progress'], ['blocked', 'Blocked'], ['completed', 'Completed']];
    const all = [...(state.tasks.user.tasks || []).map((t) => [t, 'user']), ...(state.tasks.cos.tasks || []).map((t) => [t, 'cos'])];
    const pendingIds = (state.tasks.user.tasks || []).filter((t) => t.status === 'pending').map((t) => t.id);
    $('#cos-board').replaceChildren(...cols.map(([status, title]) => {
      let items = all.filter(([t]) => t.status === status);
      if (status === 'completed') items = items.slice(-20).reverse();
      return h('section', { 'aria-label': title, 'data-column': status },
        h('h3', { text: `${title} (${items.length})` }),
        items.length ? h('ul', { class: 'list' }, ...items.map(([t, k]) => taskItem(t, k, pendingIds))) : h('p', { class: 'muted', text: 'None.' }));
    }));
  }

  function agentCard(a) {
    const m = a.metadata || {};
    const r = a.result || {};
    return h('article', { class: 'card', 'data-agent': a.id, 'aria-label': `Agent ${a.id}` },
      h('header', {}, h('h3', { text: m.taskDescription ? m.taskDescription.split('\n')[0] : a.taskId }),
        h('span', { class: `badge ${a.status === 'running' ? 'ok' : r.success ? 'ok' : 'bad'}`, 'data-role': 'status', text: a.status === 'running' ? 'running' : r.success ? 'completed' : a.status })),
      h('dl', { class: 'facts' }, ...[['Task', a.taskId], ['Model', `${m.providerId || '–'} ${m.model || ''}`], ['Why', m.modelReason || '–'], ['Started', fmt.time(a.startedAt)],
        ['Ended', a.completedAt ? fmt.time(a.completedAt) : '–'], ['Verdict', r.verdict || '–']].flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })])),
      h('pre', { class: 'logs', 'data-role': 'output', text: (outputs[a.id] || '').split('\n').slice(-40).join('\n') }),
      a.status === 'running' ? h('div', { class: 'row' }, h('button', { type: 'button', class: 'danger', 'data-action': 'terminate',
        onclick: () => { if (confirm('Stop this agent? Its task will be blocked.')) attempt(() => post(`/api/cos/agents/${encodeURIComponent(a.id)}/terminate`).then(load), 'Stopped'); } }, 'Terminate')) : null);
  }

  function renderAgents() {
    const list = [...state.agents].sort((x, y) => (x.status === 'running' ? -1 : 0) - (y.status === 'running' ? -1 : 0) || String(y.startedAt).localeCompare(String(x.startedAt))).slice(0, 12);
    $('#cos-agents').replaceChildren(...(list.length ? list.map(agentCard) : [h('p', { class: 'muted', text: 'No agents yet.' })]));
  }

  function renderHistory(history) {
    const sel = $('#cos-day');
    const keep = sel.value;
    sel.replaceChildren(...(history.dates || []).map((d) => h('option', { value: d.date, text: `${d.date} (${d.count})` })));
    if (keep) sel.value = keep;
    showDay();
  }

  const days = newest();
  const showDay = () => attempt(async () => {
    const mine = days();
    const day = $('#cos-day').value;
    const agents = day ? await api(`/api/cos/agents/history/${encodeURIComponent(day)}`) : [];
    if (!mine()) return;
    $('#cos-history').replaceChildren(...(agents.length ? agents.map((a) => h('li', { 'data-agent': a.id },
      h('span', { class: `badge ${a.result && a.result.success ? 'ok' : 'bad'}`, text: a.result && a.result.success ? 'completed' : a.status }),
      h('span', { class: 'grow', text: (a.metadata && a.metadata.taskDescription || a.taskId).split('\n')[0] }),
      h('span', { class: 'muted', text: fmt.duration(a.result && a.result.duration) }))) : [h('li', { class: 'muted', text: 'Nothing that day.' })]));
  });

  function renderLearning(l, summary) {
    $('#cos-learning-summary').textContent = summary.statusMessage || '';
    const rows = Object.entries(l.byTaskType || {}).map(([type, t]) => {
      const models = Object.entries((l.byModel || {})[type] || {}).map(([m, x]) => `${m} ${x.successRate ?? 0}% of ${x.completed}`).join(', ');
      return h('tr', {}, h('th', { scope: 'row', text: type }), h('td', { text: String(t.completed) }), h('td', { text: `${t.successRate ?? 0}%` }),
        h('td', { text: fmt.duration(t.avgDurationMs) }), h('td', { text: models || '–' }));
    });
    $('#cos-learning tbody').replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No finished agents yet.' }))]));
  }

  function renderReport(r) {
    const s = (r && r.summary) || {};
    $('#cos-report').textContent = r ? `${r.date}: ${s.totalAgents || 0} agents, ${s.tasksCompleted || 0} completed, ${s.tasksFailed || 0} failed.` : 'No report yet.';
  }

  const cfgFields = [['cfg-max', 'maxConcurrentAgents', 1], ['cfg-per-project', 'maxConcurrentAgentsPerProject', 1], ['cfg-retries', 'maxRetries', 1],
    ['cfg-timeout', 'agentTimeoutMs', 60000], ['cfg-eval', 'evaluationIntervalMs', 1000]];
  function fillConfig(c) {
    if ($('#cos-config').contains(document.activeElement)) return;
    for (const [id, key, unit] of cfgFields) $(`#${id}`).value = c[key] !== undefined ? Math.round(c[key] / unit) : '';
    for (const lane of ['critical', 'standard', 'background']) $(`#cfg-lane-${lane}`).value = (c.lanes || {})[lane] ?? '';
    $('#cfg-worktree').checked = !!c.useWorktree;
    $('#cfg-always-on').checked = !!(c.alwaysOn || c.autoStart);
  }

  $('#cos-config').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { lanes: {}, useWorktree: $('#cfg-worktree').checked, alwaysOn: $('#cfg-always-on').checked };
    for (const [id, key, unit] of cfgFields) body[key] = Number($(`#${id}`).value) * unit;
    for (const lane of ['critical', 'standard', 'background']) body.lanes[lane] = Number($(`#cfg-lane-${lane}`).value);
    attempt(() => put('/api/cos/config', body).then(load), 'Settings saved');
  });
  $('#cos-toggle').addEventListener('click', () => attempt(() => post(state.status.running ? '/api/cos/stop' : '/api/cos/start').then(load)));
  $('#cos-pause').addEventListener('click', () => attempt(() => post(state.status.paused ? '/api/cos/resume' : '/api/cos/pause').then(load)));
  $('#cos-evaluate').addEventListener('click', () => attempt(() => post('/api/cos/evaluate').then(load), (r) => (r && r.success ? `${(r.started || []).length} agents started` : r && r.error)));
  $('#cos-health-check').addEventListener('click', () => attempt(() => post('/api/cos/health/check'), (r) => `${(r.issues || []).length} issues`));
  $('#cos-day').addEventListener('change', showDay);
  $('#cos-enhance').addEventListener('click', () => {
    const btn = $('#cos-enhance');
    btn.disabled = true;
    btn.textContent = 'Enhancing…';
    attempt(async () => {
      const r = await post('/api/cos/tasks/enhance', { description: $('#cos-desc').value, context: $('#cos-context').value });
      $('#cos-desc').value = r.enhancedDescription;
      return r;
    }, (r) => `Rewritten by ${r.provider}`).finally(() => { btn.disabled = false; btn.textContent = 'Enhance with AI'; });
  });
  $('#cos-add').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { description: $('#cos-desc').value, priority: $('#cos-priority').value, position: $('#cos-top').checked ? 'top' : 'bottom' };
    if ($('#cos-context').value.trim()) body.context = $('#cos-context').value.trim();
    if ($('#cos-app').value) body.app = $('#cos-app').value;
    if ($('#cos-worktree').checked) body.useWorktree = true;
    attempt(async () => { const t = await post('/api/cos/tasks', body); $('#cos-desc').value = ''; await load(); return t; }, 'Task added');
  });

  // Live: output as deltas, and everything else by a reload of the state.
  live.on('cos:agent:output', (_, d) => {
    outputs[d.agentId] = (outputs[d.agentId] || '') + d.line;
    const pre = $(`[data-agent="${CSS.escape(d.agentId)}"] pre`);
    if (pre) pre.textContent = outputs[d.agentId].split('\n').slice(-40).join('\n');
  });
  for (const ev of ['cos:agent:spawned', 'cos:agent:completed', 'cos:tasks:', 'cos:status']) live.on(ev, () => load());
  live.onReconnect(load);
  api('/api/apps').then((apps) => {
    const list = Array.isArray(apps) ? apps : listOf(apps, 'apps');
    for (const a of list) if (a.id && a.id !== 'portos-default') $('#cos-app').append(h('option', { value: a.id, text: a.name || a.id }));
  }).catch(() => {});
  load();
};
