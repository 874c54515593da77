// PortOS web UI: the integrations' pages (agents and their platform accounts,
// schedules, JIRA). Loaded after app.js, whose helpers (h, api, attempt, toast,
// fmt, pages) it uses; app.js starts the page once both have run.
'use strict';

function confirmButton(label, ariaLabel, action) {
  let armed = false;
  const b = h('button', { type: 'button', class: 'danger', 'aria-label': ariaLabel, onclick: async () => {
    if (!armed) { armed = true; b.textContent = 'Press again to confirm'; setTimeout(() => { armed = false; b.textContent = label; }, 4000); return; }
    await action();
  } }, label);
  return b;
}

pages.agents = () => {
  live.channels.add('agents');
  const loads = newest();
  async function load() {
    const current = loads();
    const [agents, accounts] = await Promise.all([
      api('/api/agents/personalities').catch(() => []),
      api('/api/agents/accounts').catch(() => []),
    ]);
    if (!current()) return;
    const names = new Map(agents.map((a) => [a.id, a.name]));
    $('#ag-list').replaceChildren(...(agents.length ? agents.map((a) => h('article', { class: 'card' },
      h('h3', {}, h('span', { 'aria-hidden': 'true', text: `${(a.avatar && a.avatar.emoji) || '🤖'} ` }), a.name),
      h('p', { class: 'muted', text: `${(a.personality && a.personality.style) || ''} · ${((a.personality && a.personality.topics) || []).join(', ') || 'no topics'}` }),
      a.description ? h('p', { text: a.description }) : null,
      h('div', { class: 'row' },
        h('span', { class: `badge ${a.enabled ? 'ok' : 'muted'}`, text: a.enabled ? 'enabled' : 'disabled' }),
        h('button', { type: 'button', 'aria-label': `${a.enabled ? 'Disable' : 'Enable'} ${a.name}`, onclick: () => attempt(() => api(`/api/agents/personalities/${a.id}/toggle`, { method: 'POST', json: { enabled: !a.enabled } })).then(load) }, a.enabled ? 'Disable' : 'Enable'),
        confirmButton('Delete', `Delete agent ${a.name}`, () => attempt(() => api(`/api/agents/personalities/${a.id}`, { method: 'DELETE' }), `${a.name} deleted`).then(load)))))
      : [h('p', { class: 'muted', text: 'No agents yet: create one below.' })]));
    $('#acc-agent').replaceChildren(...agents.map((a) => h('option', { value: a.id, text: a.name })));
    $('#acc-list').replaceChildren(...(accounts.length ? accounts.map((c) => h('li', {},
      h('span', { class: 'badge', text: c.platform }),
      h('span', { class: 'grow' }, h('strong', { text: c.credentials.username || '?' }), ` · ${names.get(c.agentId) || c.agentId} · key ${c.credentials.apiKey || 'none'}`,
        c.platformData && httpUrl(c.platformData.claimUrl) && c.status === 'pending' ? h('span', {}, ' · ', h('a', { href: httpUrl(c.platformData.claimUrl), rel: 'noreferrer', text: 'claim it' })) : null),
      h('span', { class: `badge ${c.status === 'active' ? 'ok' : c.status === 'pending' ? 'warn' : 'bad'}`, text: c.status }),
      h('button', { type: 'button', 'aria-label': `Test account ${c.credentials.username}`, onclick: () => attempt(() => api(`/api/agents/accounts/${c.id}/test`, { method: 'POST' }), (r) => r.message).then(load) }, 'Test'),
      c.status === 'pending' ? h('button', { type: 'button', 'aria-label': `Mark ${c.credentials.username} claimed`, onclick: () => attempt(() => api(`/api/agents/accounts/${c.id}/claim`, { method: 'POST' }), 'Claimed').then(load) }, 'Claimed') : null,
      confirmButton('Delete', `Delete account ${c.credentials.username}`, () => attempt(() => api(`/api/agents/accounts/${c.id}`, { method: 'DELETE' }), 'Account deleted').then(load))))
      : [h('li', { class: 'muted', text: 'No platform accounts.' })]));
  }
  $('#ag-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const topics = $('#ag-topics').value.split(',').map((t) => t.trim()).filter(Boolean);
    const r = await attempt(() => api('/api/agents/personalities', { method: 'POST', json: { userId: 'me', name: $('#ag-name').value, description: $('#ag-desc').value, personality: { style: $('#ag-style').value, topics } } }), (a) => `${a.name} created`);
    if (r) e.target.reset();
    load();
  });
  $('#acc-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = $('#acc-key').value;
    const base = { agentId: $('#acc-agent').value, platform: $('#acc-platform').value };
    const body = key
      ? { ...base, status: 'active', credentials: { apiKey: key, username: $('#acc-user').value, agentId: $('#acc-mwid').value || undefined } }
      : { ...base, name: $('#acc-user').value };
    const r = await attempt(() => api('/api/agents/accounts', { method: 'POST', json: body }), (a) => (a.claimUrl ? `Registered: claim it at ${a.claimUrl}` : 'Account added'));
    if (r) e.target.reset();
    load();
  });
  live.on('agents:', () => load());
  load();
};

const ACTIONS = {
  moltbook: ['heartbeat', 'post', 'comment', 'vote', 'engage', 'monitor'],
  moltworld: ['mw_heartbeat', 'mw_explore', 'mw_think', 'mw_say', 'mw_build', 'mw_interact'],
};

function timingText(t) {
  if (!t) return '';
  if (t.type === 'cron') return `cron ${t.cron} (UTC)`;
  if (t.type === 'interval') return `every ${fmt.duration(t.intervalMs)}`;
  if (t.type === 'random') return `randomly every ${fmt.duration(t.randomWindow.minMs)}–${fmt.duration(t.randomWindow.maxMs)}`;
  return t.type;
}

pages.schedules = () => {
  live.channels.add('agents');
  let accounts = [];
  let agents = [];
  const loads = newest();
  async function load() {
    const current = loads();
    const [list, stats, accs, ags] = await Promise.all([
      api('/api/agents/schedules').catch(() => []),
      api('/api/agents/schedules/stats').catch(() => null),
      api('/api/agents/accounts').catch(() => []),
      api('/api/agents/personalities').catch(() => []),
    ]);
    if (!current()) return;
    accounts = accs;
    agents = ags;
    const accName = new Map(accs.map((a) => [a.id, `${a.platform}: ${a.credentials.username}`]));
    $('#sc-stats').textContent = stats ? `${stats.total} schedule${stats.total === 1 ? '' : 's'}, ${stats.enabled} enabled, ${stats.active} active, ${stats.totalRuns} run${stats.totalRuns === 1 ? '' : 's'} so far.` : '';
    $('#sc-list').replaceChildren(...(list.length ? list.map((x) => h('li', {},
      h('span', { class: `badge ${x.isActive ? 'ok' : 'muted'}`, text: x.isActive ? 'active' : 'off' }),
      h('span', { class: 'grow' }, h('strong', { text: x.action.type }), ` · ${accName.get(x.accountId) || x.accountId} · ${timingText(x.schedule)}`,
        h('br'), h('span', { class: 'muted', text: `next ${fmt.utc(x.nextRun)} · last ${fmt.utc(x.lastRun)} · ${x.runCount} run${x.runCount === 1 ? '' : 's'} · missed runs: ${x.missedRuns}` })),
      h('button', { type: 'button', 'aria-label': `Run ${x.action.type} now`, onclick: () => attempt(() => api(`/api/agents/schedules/${x.id}/run`, { method: 'POST' }), (r) => (r.run === 'skipped' ? `Skipped: ${r.reason}` : 'Started')).then(load) }, 'Run now'),
      h('button', { type: 'button', 'aria-label': `${x.enabled ? 'Disable' : 'Enable'} ${x.action.type} schedule`, onclick: () => attempt(() => api(`/api/agents/schedules/${x.id}/toggle`, { method: 'POST', json: { enabled: !x.enabled } })).then(load) }, x.enabled ? 'Disable' : 'Enable'),
      confirmButton('Delete', `Delete ${x.action.type} schedule`, () => attempt(() => api(`/api/agents/schedules/${x.id}`, { method: 'DELETE' }), 'Schedule deleted').then(load))))
      : [h('li', { class: 'muted', text: 'No schedules yet.' })]));
    const keep = $('#sc-account').value;
    $('#sc-account').replaceChildren(...accs.map((a) => h('option', { value: a.id, text: `${a.platform}: ${a.credentials.username} (${a.status})` })));
    if (keep) $('#sc-account').value = keep;
    actions();
    const keepAgent = $('#sc-act-agent').value;
    $('#sc-act-agent').replaceChildren(...ags.map((a) => h('option', { value: a.id, text: a.name })));
    if (keepAgent) $('#sc-act-agent').value = keepAgent;
    activity();
  }
  function actions() {
    const acc = accounts.find((a) => a.id === $('#sc-account').value);
    const keep = $('#sc-action').value;
    $('#sc-action').replaceChildren(...(acc ? ACTIONS[acc.platform] : []).map((a) => h('option', { value: a, text: a })));
    if (keep) $('#sc-action').value = keep;
  }
  async function activity() {
    const agent = $('#sc-act-agent').value;
    if (!agent) { $('#sc-activity').replaceChildren(); $('#sc-timeline').replaceChildren(); return; }
    const entries = await api(`/api/agents/activity/agent/${encodeURIComponent(agent)}`).catch(() => []);
    const line = $('#sc-timeline');
    line.replaceChildren(...[0, 6, 12, 18].map((hr) => h('span', { class: 'tick', css: { left: `${(hr / 24) * 100}%` }, text: `${hr}:00` })),
      ...entries.filter((e) => e.status !== 'started').map((e) => {
        const d = new Date(e.timestamp);
        const pos = ((d.getUTCHours() * 60 + d.getUTCMinutes()) / 1440) * 100;
        return h('span', { class: `dot ${e.status}`, css: { left: `${pos.toFixed(2)}%` }, title: `${e.action} ${e.status} at ${d.toISOString().slice(11, 16)} UTC` });
      }));
    line.setAttribute('aria-label', `Today: ${entries.filter((e) => e.status === 'completed').length} completed, ${entries.filter((e) => e.status === 'failed').length} failed, ${entries.filter((e) => e.status === 'skipped').length} skipped runs`);
    $('#sc-activity').replaceChildren(...entries.slice(0, 50).map((e) => h('li', {},
      h('span', { class: `badge ${e.status === 'completed' ? 'ok' : e.status === 'failed' ? 'bad' : e.status === 'skipped' ? 'warn' : 'muted'}`, text: e.status }),
      h('span', { class: 'grow' }, e.action, e.error ? h('span', { class: 'muted', text: ` · ${e.error}` }) : null),
      h('time', { class: 'muted', datetime: e.timestamp, text: fmt.utc(e.timestamp) }))));
  }
  $('#sc-account').addEventListener('change', actions);
  $('#sc-act-agent').addEventListener('change', activity);
  $('#sc-type').addEventListener('change', () => {
    $('#sc-when').value = { cron: '0 9 * * 1-5', interval: '3600', random: '1800-7200' }[$('#sc-type').value];
  });
  $('#sc-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const acc = accounts.find((a) => a.id === $('#sc-account').value);
    if (!acc) { toast('Add a platform account first (Agents page)'); return; }
    let params;
    try { params = JSON.parse($('#sc-params').value || '{}'); } catch (err) { toast(`Params are not JSON: ${err.message}`); return; }
    const type = $('#sc-type').value;
    const when = $('#sc-when').value.trim();
    const schedule = type === 'cron' ? { type, cron: when }
      : type === 'interval' ? { type, intervalMs: Math.round(Number(when) * 1000) }
      : { type, randomWindow: { minMs: Math.round(Number(when.split('-')[0]) * 1000), maxMs: Math.round(Number(when.split('-')[1] || when.split('-')[0]) * 1000) } };
    await attempt(() => api('/api/agents/schedules', { method: 'POST', json: { agentId: acc.agentId, accountId: acc.id, action: { type: $('#sc-action').value, params }, schedule, missedRuns: $('#sc-missed').value } }), (x) => `Scheduled; next run ${fmt.utc(x.nextRun)}`);
    load();
  });
  live.on('agents:', () => load());
  load();
};

pages.jira = () => {
  const loads = newest();
  async function load() {
    const current = loads();
    const data = await api('/api/jira/instances').catch(() => ({ instances: {} }));
    if (!current()) return;
    const list = listOf(data, 'instances');
    $('#ji-list').replaceChildren(...(list.length ? list.map((i) => h('article', { class: 'card' },
      h('h3', { text: i.name }),
      h('p', {}, h('a', { href: i.baseUrl, rel: 'noreferrer', text: i.baseUrl })),
      h('p', { class: 'muted', text: `${i.email} · token ${i.hasApiToken ? `set ${fmt.time(i.tokenUpdatedAt)}` : 'missing'}${i.hasCaCert ? ' · private CA' : ''}` }),
      h('div', { class: 'row' },
        h('button', { type: 'button', 'aria-label': `Test ${i.name}`, onclick: async () => {
          const r = await attempt(() => api(`/api/jira/instances/${encodeURIComponent(i.id)}/test`, { method: 'POST' }));
          if (r) toast(r.success ? `Connected as ${r.user}` : `Not connected: ${r.error}`, r.success ? 'ok' : 'bad');
        } }, 'Test'),
        h('button', { type: 'button', 'aria-label': `Edit ${i.name}`, onclick: () => {
          $('#ji-id').value = i.id; $('#ji-name').value = i.name; $('#ji-url').value = i.baseUrl; $('#ji-email').value = i.email; $('#ji-name').focus();
        } }, 'Edit'),
        confirmButton('Delete', `Delete instance ${i.name}`, () => attempt(() => api(`/api/jira/instances/${encodeURIComponent(i.id)}`, { method: 'DELETE' }), 'Instance deleted').then(load)))))
      : [h('p', { class: 'muted', text: 'No JIRA instance yet.' })]));
    const keep = $('#ji-sprint-inst').value;
    $('#ji-sprint-inst').replaceChildren(...list.map((i) => h('option', { value: i.id, text: i.name })));
    if (keep) $('#ji-sprint-inst').value = keep;
  }
  $('#ji-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { id: $('#ji-id').value, name: $('#ji-name').value, baseUrl: $('#ji-url').value, email: $('#ji-email').value };
    if ($('#ji-token').value) body.apiToken = $('#ji-token').value;
    if ($('#ji-ca').value.trim()) body.caCert = $('#ji-ca').value;
    const r = await attempt(() => api('/api/jira/instances', { method: 'POST', json: body }), (i) => `${i.name} saved`);
    if (r) e.target.reset();
    load();
  });
  async function sprint() {
    const inst = $('#ji-sprint-inst').value;
    const project = $('#ji-sprint-project').value.trim();
    if (!inst || !project) return;
    const list = await attempt(() => api(`/api/jira/instances/${encodeURIComponent(inst)}/my-sprint-tickets/${encodeURIComponent(project)}`));
    if (!list) return;
    $('#ji-sprint').replaceChildren(...(list.length ? list.map((t) => h('li', {},
      h('span', { class: 'badge', text: t.status || '?' }),
      h('span', { class: 'grow' }, h('a', { href: t.url, rel: 'noreferrer', text: t.key }), ` ${t.summary || ''}`),
      h('span', { class: 'muted', text: `${t.priority || ''}${t.storyPoints != null ? ` · ${t.storyPoints} pts` : ''}` })))
      : [h('li', { class: 'muted', text: 'Nothing assigned to you in an open sprint.' })]));
  }
  $('#ji-sprint-form').addEventListener('submit', (e) => { e.preventDefault(); sprint(); });
  $('#ji-new').addEventListener('submit', async (e) => {
    e.preventDefault();
    const inst = $('#ji-sprint-inst').value;
    const projectKey = $('#ji-sprint-project').value.trim();
    if (!inst || !projectKey) { toast('Pick an instance and a project key first'); return; }
    const r = await attempt(() => api(`/api/jira/instances/${encodeURIComponent(inst)}/tickets`, { method: 'POST', json: { projectKey, summary: $('#ji-new-summary').value } }), (t) => `Created ${t.ticketId}`);
    if (r) { e.target.reset(); sprint(); }
  });
  load();
};
