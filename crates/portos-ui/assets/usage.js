// The Usage page: what the AI providers were used for, drawn as inline SVG
// (no chart framework): runs and tokens per provider per day, runs by hour,
// the top providers and models, and the original's totals.
'use strict';

pages.usage = () => {
  const COLORS = ['#60a5fa', '#34d399', '#fbbf24', '#f472b6', '#a78bfa', '#f87171', '#2dd4bf', '#fb923c'];
  const short = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n));
  const tile = (label, value) => h('div', { class: 'tile usage-tile' }, h('span', { class: 'muted', text: label }), h('strong', { text: value }));

  /** Stacked bars: one per day, a segment per provider, a legend under it. */
  function stacked(days, field, names) {
    const providers = [...new Set(days.flatMap((d) => Object.keys(d.byProvider)))].sort();
    if (!providers.length) return h('p', { class: 'muted', text: 'Nothing yet in these days.' });
    const color = new Map(providers.map((p, i) => [p, COLORS[i % COLORS.length]]));
    const totals = days.map((d) => providers.reduce((s, p) => s + ((d.byProvider[p] || {})[field] || 0), 0));
    const max = Math.max(1, ...totals);
    const W = 700, H = 180, pad = 24, bw = (W - pad) / days.length;
    const bars = days.map((d, i) => {
      let y = H - 18;
      const segs = providers.map((p) => {
        const v = (d.byProvider[p] || {})[field] || 0;
        if (!v) return null;
        const hgt = ((H - 30) * v) / max;
        y -= hgt;
        return h('rect', { x: pad + i * bw + 2, y, width: Math.max(1, bw - 4), height: hgt, fill: color.get(p), 'data-provider': p, 'data-value': v },
          h('title', { text: `${d.date} · ${names.get(p) || p}: ${v} ${field}` }));
      });
      const label = i % Math.ceil(days.length / 7) === 0 ? h('text', { x: pad + i * bw + bw / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis', text: d.date.slice(5) }) : null;
      return h('g', {}, ...segs, label);
    });
    const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${field} per provider per day, at most ${max}` },
      h('line', { x1: pad, y1: H - 18, x2: W, y2: H - 18, class: 'axis-line' }),
      h('text', { x: 0, y: 12, class: 'axis', text: short(max) }), ...bars);
    const legend = h('ul', { class: 'legend' }, ...providers.map((p) => h('li', { 'data-provider': p },
      h('span', { class: 'swatch', css: { background: color.get(p) } }), names.get(p) || p)));
    return h('div', {}, svg, legend);
  }

  function hours(counts) {
    const W = 700, H = 120, max = Math.max(1, ...counts), bw = W / 24;
    return h('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'runs by hour of the day' },
      ...counts.map((c, i) => h('rect', { x: i * bw + 2, y: H - 16 - ((H - 26) * c) / max, width: bw - 4, height: ((H - 26) * c) / max, class: 'bar' }, h('title', { text: `${i}:00 UTC: ${c}` }))),
      ...[0, 6, 12, 18].map((i) => h('text', { x: i * bw + 2, y: H - 3, class: 'axis', text: `${i}:00` })));
  }

  const newer = newest();
  const load = () => attempt(async () => {
    const mine = newer();
    const days = $('#usage-days').value;
    const [u, daily] = await Promise.all([api('/api/usage'), api(`/api/usage/daily?days=${days}`)]);
    if (!mine()) return;
    const names = new Map(u.topProviders.map((p) => [p.id, p.name || p.id]));
    $('#usage-tiles').replaceChildren(
      tile('Sessions', short(u.totalSessions)), tile('Messages', short(u.totalMessages)),
      tile('Tokens', short(u.totalTokens.input + u.totalTokens.output)),
      tile('Estimated cost', `$${u.estimatedCost.toFixed(2)}`), tile('Streak', `${u.currentStreak} d (best ${u.longestStreak})`));
    $('#usage-runs').replaceChildren(stacked(daily, 'sessions', names));
    $('#usage-tokens').replaceChildren(stacked(daily, 'tokens', names));
    $('#usage-hours').replaceChildren(hours(u.hourlyActivity));
    const row = (name, e) => h('li', {}, h('strong', { text: name }), h('span', { class: 'muted', text: ` ${e.sessions} sessions · ${short(e.tokens || 0)} tokens` }));
    $('#usage-providers').replaceChildren(...u.topProviders.map((p) => row(p.name || p.id, p)));
    $('#usage-models').replaceChildren(...u.topModels.map((m) => row(m.model, m)));
    document.body.dataset.usageLoaded = 'true';
  });
  $('#usage-days').addEventListener('change', load);
  $('#usage-refresh').addEventListener('click', load);
  live.on('run:', (event) => { if (event.endsWith(':complete')) load(); });
  load();
};
