// The Instances page (this machine, pairing, a card per peer with its health,
// apps and live agents) and the dashboard's strip of machines. Peers change on
// the `instances` channel: `instances:peers:updated` carries the whole list,
// `instances:peer:agent:*` a peer's agents as they run.
'use strict';

live.channels.add('instances');

const peerState = { peers: [], agents: {} };
const peerBadge = (p) => {
  if (p.needsPairing) return h('span', { class: 'badge warn', 'data-role': 'status', text: 'needs pairing' });
  const kind = { online: 'ok', offline: 'bad' }[p.status] || '';
  return h('span', { class: `badge ${kind}`, 'data-role': 'status', text: p.enabled === false ? 'disabled' : p.status || 'unknown' });
};

/** The dashboard's strip: one badge per machine, to the Instances page. */
function machinesStrip() {
  const strip = $('#machines');
  if (!strip) return;
  strip.hidden = !peerState.peers.length;
  strip.replaceChildren(h('a', { href: '/instances', text: 'Machines' }),
    ...peerState.peers.map((p) => h('span', { 'data-peer': p.id }, peerBadge(p), ` ${p.name}`,
      p.lastHealth && p.lastHealth.processes ? h('span', { class: 'muted', text: ` ${p.lastHealth.processes.online}/${p.lastHealth.processes.total}` }) : null)));
}

const peersChanged = new EventTarget();
live.on('instances:peers:updated', (_, peers) => {
  if (Array.isArray(peers)) peerState.peers = peers;
  machinesStrip();
  peersChanged.dispatchEvent(new Event('peers'));
});

document.addEventListener('DOMContentLoaded', () => {
  if (!$('#machines')) return;
  const load = () => api('/api/instances').then((d) => { peerState.peers = d.peers || []; machinesStrip(); }).catch(() => {});
  load();
  live.onReconnect(load);
});

pages.instances = () => {
  const put = (path, json) => api(path, { method: 'PUT', json });
  const post = (path) => api(path, { method: 'POST', json: {} });
  const peerPath = (id, tail = '') => `/api/instances/peers/${encodeURIComponent(id)}${tail}`;
  const loads = newest();

  const load = () => attempt(async () => {
    const mine = loads();
    const [list, agents] = await Promise.all([api('/api/instances'), api('/api/instances/agents')]);
    if (!mine()) return;
    const me = list.self || {};
    $('#inst-id').textContent = me.instanceId || '–';
    if (document.activeElement !== $('#inst-name')) $('#inst-name').value = me.name || '';
    $('#inst-hint-name').textContent = (me.name || 'this-machine').replace(/[^A-Za-z0-9._-]+/g, '-');
    peerState.peers = list.peers || [];
    peerState.agents = agents || {};
    render();
  });

  function healthFacts(hl) {
    if (!hl || !hl.system) return [];
    const s = hl.system;
    return [
      ['Health', hl.overallHealth],
      ['Memory', s.memory ? `${s.memory.usagePercent}% of ${s.memory.totalFormatted}` : '–'],
      ['Load', s.cpu ? `${s.cpu.usagePercent}% of ${s.cpu.cores} cores` : '–'],
      ['Up', s.uptimeFormatted || '–'],
      ['Processes', hl.processes ? `${hl.processes.online}/${hl.processes.total}${hl.processes.errored ? `, ${hl.processes.errored} errored` : ''}` : '–'],
    ];
  }

  function appsList(p) {
    const apps = Array.isArray(p.lastApps) ? p.lastApps : [];
    if (!apps.length) return h('p', { class: 'muted', text: 'No apps.' });
    const host = p.address.includes(':') ? `[${p.address}]` : p.address;
    return h('ul', { class: 'list', 'data-role': 'apps' }, ...apps.map((a) => {
      const url = a.uiPort ? httpUrl(`http://${host}:${Number(a.uiPort)}/`) : null;
      return h('li', {}, url ? h('a', { href: url, target: '_blank', rel: 'noopener', text: a.name || a.id }) : h('span', { text: a.name || a.id }),
        a.overallStatus ? h('span', { class: `badge ${a.overallStatus === 'online' ? 'ok' : ''}`, text: a.overallStatus }) : null);
    }));
  }

  function agentsList(p) {
    const agents = peerState.agents[p.id] || [];
    return h('div', { 'data-role': 'agents' },
      h('h4', { text: agents.length ? `Agents running (${agents.length})` : 'No agents running' }),
      ...agents.map((a) => h('details', { open: true, 'data-agent': a.id },
        h('summary', {}, h('span', { class: 'badge ok', text: a.state || 'running' }), ` ${a.taskId || a.id}`),
        h('pre', { class: 'logs', 'data-role': 'lines', text: (a.lines || []).slice(-8).join('\n') }))));
  }

  function card(p) {
    const id = `peer-${p.id}`;
    const oneWay = !(p.directions || []).includes('inbound') || !(p.directions || []).includes('outbound');
    const rename = h('input', { 'aria-label': `Name of ${p.name}`, value: p.name, maxlength: 100 });
    const token = h('input', { type: 'password', autocomplete: 'off', 'aria-label': `Token for ${p.name}`, placeholder: 'portos-peer-…' });
    const facts = [
      ['Address', `${p.address}:${p.port}`],
      ['Last seen', p.lastSeen ? fmt.time(p.lastSeen) : 'never'],
      ...healthFacts(p.lastHealth),
    ];
    return h('article', { class: 'card', id, 'data-peer': p.id, 'aria-labelledby': `${id}-h` },
      h('header', {}, h('h3', { id: `${id}-h`, text: p.name }), h('span', {}, peerBadge(p), ' ',
        ...(p.directions || []).map((d) => h('span', { class: 'badge', 'data-role': 'direction', text: d })))),
      p.lastError ? h('p', { class: 'muted', 'data-role': 'error', text: p.lastError }) : null,
      h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })])),
      appsList(p),
      agentsList(p),
      h('form', { class: 'capture', 'aria-label': p.needsPairing ? `Pair ${p.name}` : `Pair ${p.name} again`,
        onsubmit: (e) => { e.preventDefault(); attempt(() => put(peerPath(p.id), { token: token.value.trim() }).then(load), `${p.name} paired`); } },
      token, h('button', { type: 'submit', text: p.needsPairing ? 'Pair' : 'New token' })),
      h('form', { class: 'capture', 'aria-label': `Rename ${p.name}`,
        onsubmit: (e) => { e.preventDefault(); attempt(() => put(peerPath(p.id), { name: rename.value }).then(load), 'Renamed'); } },
      rename, h('button', { type: 'submit', text: 'Rename' })),
      h('div', { class: 'row' },
        h('button', { type: 'button', 'data-action': 'probe', disabled: p.needsPairing, onclick: () => attempt(() => post(peerPath(p.id, '/probe')).then(load), (r) => `${p.name}: ${r.status}`) }, 'Probe now'),
        oneWay && !p.needsPairing ? h('button', { type: 'button', 'data-action': 'connect', onclick: () => attempt(() => post(peerPath(p.id, '/connect')).then(load), 'Announced') }, 'Connect') : null,
        h('button', { type: 'button', 'data-action': 'toggle', onclick: () => attempt(() => put(peerPath(p.id), { enabled: p.enabled === false }).then(load)) }, p.enabled === false ? 'Enable' : 'Disable'),
        h('button', { type: 'button', class: 'danger', 'data-action': 'remove',
          onclick: () => { if (confirm(`Remove ${p.name}? Its way back here is revoked.`)) attempt(() => api(peerPath(p.id), { method: 'DELETE' }).then(load), `${p.name} removed`); } }, 'Remove')));
  }

  function render() {
    const peers = peerState.peers;
    const online = peers.filter((p) => p.status === 'online' && !p.needsPairing).length;
    $('#inst-summary').textContent = peers.length ? `${peers.length} peer${peers.length === 1 ? '' : 's'}, ${online} online.` : 'No peers yet: add one above.';
    // A card being typed in keeps its inputs: only the others are rebuilt.
    const active = document.activeElement;
    const typing = active && active.tagName === 'INPUT' && active.value ? active.closest('[data-peer]') : null;
    const cards = peers.map((p) => (typing && typing.dataset.peer === p.id ? typing : card(p)));
    $('#inst-peers').replaceChildren(...cards);
    document.body.dataset.peersLoaded = String(Date.now());
  }

  // Live: the list, and each agent's lines as they come.
  peersChanged.addEventListener('peers', render);
  live.on('instances:peer:agents:updated', (_, d) => { peerState.agents[d.peerId] = d.agents || []; render(); });
  live.on('instances:peer:agent:output', (_, d) => {
    const a = (peerState.agents[d.peerId] || []).find((x) => x.id === d.agentId);
    if (a) { a.lines = [...(a.lines || []), d.line].slice(-200); }
    const pre = $(`[data-peer="${CSS.escape(d.peerId)}"] [data-agent="${CSS.escape(d.agentId)}"] pre`);
    if (pre) pre.textContent = (a ? a.lines.slice(-8) : [...pre.textContent.split('\n'), d.line].slice(-8)).join('\n');
  });
  live.onReconnect(load);

  $('#inst-rename').addEventListener('submit', (e) => {
    e.preventDefault();
    attempt(() => put('/api/instances/self', { name: $('#inst-name').value }).then(load), 'Renamed');
  });
  $('#inst-add').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { address: $('#inst-address').value.trim(), port: Number($('#inst-peer-port').value) || 5554, token: $('#inst-token').value.trim() };
    const name = $('#inst-peer-name').value.trim();
    if (name) body.name = name;
    attempt(async () => {
      const p = await api('/api/instances/peers', { method: 'POST', json: body });
      $('#inst-token').value = '';
      $('#inst-address').value = '';
      await load();
      return p;
    }, (p) => (p.status === 'online' ? `${p.name} added, online` : `${p.name} added, not reachable now: ${p.lastError || p.status}`));
  });
  load();
};
