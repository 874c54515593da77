// The Brain page (inbox with review, memory by kind, links, digests and
// reviews, settings and schedule) and the quick capture box on the dashboard.
// A thought that looks like a URL becomes a link; anything else is captured
// and classified by the AI in the background (`brain:classified` on /ws).
'use strict';

const DESTS = ['people', 'projects', 'ideas', 'admin'];
const brainEvents = new EventTarget();

/** A URL or a bare domain (`github.com/o/r`, `git@…`), as the original's quick capture reads it. */
function asLink(text) {
  const t = text.trim();
  if (/\s/.test(t)) return null;
  if (/^(https?:\/\/|git@)/i.test(t)) return t;
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+(\/\S*)?$/i.test(t) ? `https://${t}` : null;
}

/** Captures `text` (or saves it as a link); the answer. */
async function brainCapture(text) {
  const url = asLink(text);
  if (url) {
    const link = await api('/api/brain/links', { method: 'POST', json: { url } });
    toast(`Link saved: ${link.title}`, 'ok');
    return link;
  }
  const r = await api('/api/brain/capture', { method: 'POST', json: { text } });
  toast('Captured; the AI is classifying it…', 'ok');
  return r;
}

function wireCapture(form, input, after) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    attempt(async () => { await brainCapture(text); input.value = ''; if (after) after(); });
  });
}

live.on('brain:classified', (_, d) => {
  if (d.status === 'filed') toast(`Classified as ${d.destination}: ${d.title}`, 'ok');
  else if (d.error) toast(`Classification failed: ${d.error} — in review`, 'note');
  else toast(`Low confidence (${Math.round((d.confidence || 0) * 100)}%) — needs review`, 'note');
  brainEvents.dispatchEvent(new Event('changed'));
});

document.addEventListener('DOMContentLoaded', () => {
  const quick = $('#quick-capture');
  if (quick) wireCapture(quick, $('#quick-text'));
});

pages.brain = () => {
  const pct = (c) => `${Math.round((c || 0) * 100)}%`;
  const ago = (t) => (t ? fmt.time(t) : 'never');
  const post = (path, json) => api(path, { method: 'POST', json: json || {} });
  const destSelect = (value) => h('select', { 'aria-label': 'Destination' }, ...DESTS.map((d) => h('option', { value: d, text: d, selected: d === value })));

  // ---- tabs ----
  const TABS = ['inbox', 'memory', 'links', 'digest', 'config'];
  const show = (name) => {
    for (const t of TABS) {
      $(`#btab-${t}`).setAttribute('aria-selected', String(t === name));
      $(`#bpanel-${t}`).hidden = t !== name;
    }
    history.replaceState(null, '', `#${name}`);
    ({ inbox: loadInbox, memory: loadMemory, links: loadLinks, digest: loadDigests, config: loadConfig })[name]();
  };
  for (const t of TABS) $(`#btab-${t}`).addEventListener('click', () => show(t));

  const loadSummary = () => attempt(async () => {
    const s = await api('/api/brain/summary');
    $('#brain-summary').textContent = `${s.needsReview} need review · ${s.counts.people} people · ${s.counts.projects} projects (${s.activeProjects} active) · ${s.counts.ideas} ideas · ${s.openAdmin} open admin · ${s.counts.links} links · last digest ${ago(s.lastDailyDigest)}`;
  });

  // ---- inbox ----
  function entryItem(e) {
    const c = e.classification || {};
    const text = h('span', { class: 'grow', text: e.capturedText });
    const meta = [];
    if (e.status === 'needs_review') {
      const why = e.error ? e.error.message : `${c.destination || 'unknown'} at ${pct(c.confidence)}`;
      const pick = destSelect(DESTS.includes(c.destination) ? c.destination : 'people');
      meta.push(h('span', { class: 'badge warn', 'data-role': 'reason', text: why }), pick,
        h('button', { type: 'button', text: 'File', onclick: () => attempt(() => post('/api/brain/review/resolve', { inboxLogId: e.id, destination: pick.value }).then(refresh), 'Filed') }),
        h('button', { type: 'button', text: 'Retry', onclick: () => attempt(() => post(`/api/brain/inbox/${e.id}/retry`).then((r) => { refresh(); return r; }), (r) => r.message) }));
    } else if (e.status === 'filed' || e.status === 'corrected') {
      const pick = destSelect(e.filed && e.filed.destination);
      meta.push(h('span', { class: 'badge ok', 'data-role': 'dest', text: `${(e.filed || {}).destination} · ${pct(c.confidence)}` }), pick,
        h('button', { type: 'button', text: 'Move', onclick: () => attempt(() => post('/api/brain/fix', { inboxLogId: e.id, newDestination: pick.value }).then(refresh), 'Moved') }));
    } else if (e.status === 'classifying') {
      meta.push(h('span', { class: 'badge', text: 'classifying…' }));
    }
    if (e.status !== 'done') meta.push(h('button', { type: 'button', text: 'Done', onclick: () => attempt(() => post(`/api/brain/inbox/${e.id}/done`).then(refresh)) }));
    meta.push(h('button', { type: 'button', 'aria-label': 'Delete', text: '×', onclick: () => attempt(() => api(`/api/brain/inbox/${e.id}`, { method: 'DELETE' }).then(refresh)) }));
    return h('li', { 'data-id': e.id, 'data-status': e.status }, text, ...meta,
      h('time', { class: 'muted', datetime: e.capturedAt, text: fmt.time(e.capturedAt) }));
  }
  const newerInbox = newest();
  const loadInbox = () => attempt(async () => {
    const mine = newerInbox();
    const { entries } = await api('/api/brain/inbox?limit=100');
    if (!mine()) return;
    const by = (...s) => entries.filter((e) => s.includes(e.status)).map(entryItem);
    const fill = (id, items, none) => $(id).replaceChildren(...(items.length ? items : [h('li', { class: 'muted', text: none })]));
    fill('#inbox-review', by('needs_review', 'error'), 'Nothing to review.');
    fill('#inbox-classifying', by('classifying'), 'Nothing being classified.');
    fill('#inbox-filed', by('filed', 'corrected'), 'Nothing filed yet.');
    fill('#inbox-done', by('done'), 'Nothing done yet.');
    document.body.dataset.inboxLoaded = String(Date.now());
  });

  // ---- memory ----
  const EXTRA = { people: 'context', projects: 'nextAction', ideas: 'oneLiner', admin: 'nextAction' };
  const NAME = { people: 'name', projects: 'name', ideas: 'title', admin: 'title' };
  const loadMemory = () => attempt(async () => {
    const kind = $('#mem-kind').value;
    const list = (await api(`/api/brain/${kind}`)).filter((r) => !r.archived);
    $('#mem-list').replaceChildren(...(list.length ? list.map((r) => h('li', { 'data-id': r.id },
      h('strong', { text: r[NAME[kind]] }), r.status ? h('span', { class: 'badge', text: r.status }) : null,
      h('span', { class: 'grow muted', text: [r[EXTRA[kind]], ...(r.followUps || []), (r.tags || []).map((t) => `#${t}`).join(' ')].filter(Boolean).join(' · ') }),
      h('button', { type: 'button', 'aria-label': 'Delete', text: '×', onclick: () => attempt(() => api(`/api/brain/${kind}/${r.id}`, { method: 'DELETE' }).then(loadMemory)) })))
      : [h('li', { class: 'muted', text: `No ${kind} yet.` })]));
  });
  $('#mem-kind').addEventListener('change', loadMemory);
  $('#mem-add').addEventListener('submit', (e) => {
    e.preventDefault();
    const kind = $('#mem-kind').value;
    const body = { [NAME[kind]]: $('#mem-name').value.trim() };
    const extra = $('#mem-extra').value.trim();
    if (extra) body[EXTRA[kind]] = extra;
    attempt(async () => { await post(`/api/brain/${kind}`, body); $('#mem-name').value = ''; $('#mem-extra').value = ''; loadMemory(); }, 'Added');
  });

  // ---- links ----
  let polling = null;
  const loadLinks = () => attempt(async () => {
    const { links } = await api('/api/brain/links?limit=100');
    const kind = { cloned: 'ok', failed: 'bad', cloning: 'warn', pending: 'warn' };
    $('#links-list').replaceChildren(...(links.length ? links.map((l) => {
      const href = httpUrl(l.url);
      return h('li', { 'data-id': l.id },
        href ? h('a', { href, rel: 'noopener noreferrer', target: '_blank', text: l.title }) : h('span', { text: l.title }),
        h('span', { class: 'badge', text: l.linkType }),
        l.isGitHubRepo ? h('span', { class: `badge ${kind[l.cloneStatus] || ''}`, title: l.cloneError || '', text: l.cloneStatus }) : null,
        h('span', { class: 'grow muted', text: l.cloneError || l.description || '' }),
        l.isGitHubRepo ? h('button', { type: 'button', text: 'Clone', onclick: () => attempt(() => post(`/api/brain/links/${l.id}/clone`).then(loadLinks)) }) : null,
        l.localPath ? h('button', { type: 'button', text: 'Pull', onclick: () => attempt(() => post(`/api/brain/links/${l.id}/pull`), 'Pulled') }) : null,
        h('button', { type: 'button', 'aria-label': 'Delete', text: '×', onclick: () => attempt(() => api(`/api/brain/links/${l.id}`, { method: 'DELETE' }).then(loadLinks)) }));
    }) : [h('li', { class: 'muted', text: 'No links yet: capture a URL above.' })]));
    clearTimeout(polling);
    if (links.some((l) => l.cloneStatus === 'pending' || l.cloneStatus === 'cloning')) polling = setTimeout(loadLinks, 3000);
  });
  live.on('brain:link:updated', () => { if (!$('#bpanel-links').hidden) loadLinks(); });

  // ---- digests and reviews ----
  const list = (title, items) => (items && items.length ? h('div', {}, h('h3', { text: title }), h('ul', {}, ...items.map((i) => h('li', { text: i })))) : null);
  const DIGEST = [['topActions', 'Top actions'], ['stuckThing', 'Stuck'], ['smallWin', 'Small win']];
  const REVIEW = [['whatHappened', 'What happened'], ['biggestOpenLoops', 'Open loops'], ['suggestedActionsNextWeek', 'Next week'], ['recurringTheme', 'Pattern noticed']];
  const render = (r, text, parts) => (r ? h('article', { class: 'digest', 'data-id': r.id },
    h('p', { class: 'muted', text: `Written ${fmt.time(r.generatedAt)} by ${(r.ai || {}).providerId || '?'}` }),
    h('p', { text: r[text] }),
    ...parts.map(([k, t]) => (Array.isArray(r[k]) ? list(t, r[k]) : r[k] ? h('p', {}, h('strong', { text: `${t}: ` }), r[k]) : null)))
    : h('p', { class: 'muted', text: 'None yet.' }));
  const loadDigests = () => attempt(async () => {
    const [d, r] = await Promise.all([api('/api/brain/digests?limit=30'), api('/api/brain/reviews?limit=30')]);
    $('#digest-latest').replaceChildren(render(d[0], 'digestText', DIGEST));
    $('#review-latest').replaceChildren(render(r[0], 'reviewText', REVIEW));
    $('#digest-count').textContent = `Previous digests (${Math.max(0, d.length - 1)})`;
    $('#review-count').textContent = `Previous reviews (${Math.max(0, r.length - 1)})`;
    $('#digest-history').replaceChildren(...d.slice(1).map((x) => h('li', { text: `${fmt.time(x.generatedAt)} — ${x.digestText}` })));
    $('#review-history').replaceChildren(...r.slice(1).map((x) => h('li', { text: `${fmt.time(x.generatedAt)} — ${x.reviewText}` })));
  });
  const runJob = (btn, path) => btn.addEventListener('click', async () => {
    btn.disabled = true;
    btn.textContent = 'Writing…';
    await attempt(() => post(path), 'Written');
    btn.disabled = false;
    btn.textContent = 'Write one now';
    loadDigests();
  });
  runJob($('#digest-run'), '/api/brain/digest/run');
  runJob($('#review-run'), '/api/brain/review/run');
  live.on('brain:digest:', loadDigests);
  live.on('brain:review:', loadDigests);

  // ---- settings and schedule ----
  const loadConfig = () => attempt(async () => {
    const [s, providers, sched] = await Promise.all([api('/api/brain/settings'), api('/api/providers'), api('/api/brain/schedule')]);
    const sel = $('#bs-provider');
    sel.replaceChildren(h('option', { value: '', text: '(the active provider)' }),
      ...providers.providers.map((p) => h('option', { value: p.id, text: `${p.name}${p.enabled ? '' : ' (disabled)'}`, selected: p.id === s.defaultProvider })));
    if (s.defaultProvider && !providers.providers.some((p) => p.id === s.defaultProvider)) {
      sel.append(h('option', { value: s.defaultProvider, text: `${s.defaultProvider} (missing)`, selected: true }));
    }
    $('#bs-model').value = s.defaultModel || '';
    $('#bs-threshold').value = s.confidenceThreshold;
    $('#bs-digest').value = s.dailyDigestTime;
    $('#bs-review').value = s.weeklyReviewTime;
    $('#bs-day').value = s.weeklyReviewDay;
    $('#bs-missed').value = s.missedRuns || 'runOnce';
    $('#brain-schedule').replaceChildren(...sched.jobs.map((j) => h('li', {},
      h('strong', { text: j.job }), h('span', { class: 'grow muted', text: `next ${j.next ? fmt.time(j.next) : '—'} · last ${ago(j.lastRun)}` }),
      j.lastOutcome ? h('span', { class: `badge ${{ ran: 'ok', failed: 'bad', skipped: 'warn' }[j.lastOutcome.outcome] || ''}`, title: j.lastOutcome.error || j.lastOutcome.reason || '', text: j.lastOutcome.outcome }) : null)));
  });
  $('#brain-settings').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = {
      defaultProvider: $('#bs-provider').value, defaultModel: $('#bs-model').value.trim(),
      confidenceThreshold: Number($('#bs-threshold').value), dailyDigestTime: $('#bs-digest').value,
      weeklyReviewTime: $('#bs-review').value, weeklyReviewDay: $('#bs-day').value, missedRuns: $('#bs-missed').value,
    };
    attempt(() => api('/api/brain/settings', { method: 'PUT', json: body }).then(loadConfig), 'Saved');
  });

  const refresh = () => { loadSummary(); loadInbox(); };
  brainEvents.addEventListener('changed', refresh);
  wireCapture($('#brain-capture'), $('#brain-text'), () => { refresh(); if (!$('#bpanel-links').hidden) loadLinks(); });
  setInterval(loadSummary, 30000);
  loadSummary();
  show(TABS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'inbox');
};
