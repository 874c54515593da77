// The bell in every page's header: the owner's notifications, the unread
// count on it, a list to read, mark read or dismiss, and a toast for a new one.
'use strict';

(() => {
  const bell = { count: 0, items: [] };
  window.portosBell = bell; // for the end-to-end tests
  live.channels.add('notifications');
  // Only a path of this site is followed: never another origin or a script.
  const sitePath = (l) => (typeof l === 'string' && l.startsWith('/') && !l.startsWith('//') ? l : null);
  const ago = (iso) => {
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return 'just now';
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  };

  const draw = () => {
    const badge = $('#bell-count');
    if (!badge) return;
    badge.hidden = bell.count === 0;
    badge.textContent = bell.count > 9 ? '9+' : String(bell.count);
    $('#bell').setAttribute('aria-label', `Notifications, ${bell.count} unread`);
    const list = $('#bell-list');
    list.replaceChildren(...(bell.items.length ? bell.items.map((n) => h('li', { class: `note ${n.read ? 'read' : 'unread'} prio-${n.priority}`, 'data-note': n.id },
      h('button', { type: 'button', class: 'note-open', onclick: () => open(n) },
        h('strong', { text: n.title }),
        n.description ? h('span', { text: n.description }) : null,
        h('small', { class: 'muted', text: ago(n.timestamp) })),
      h('button', { type: 'button', class: 'note-x', 'aria-label': `Dismiss ${n.title}`, onclick: () => attempt(() => api(`/api/notifications/${encodeURIComponent(n.id)}`, { method: 'DELETE' })) }, '×'),
    )) : [h('li', { class: 'muted', text: 'Nothing needs you.' })]));
  };

  const open = async (n) => {
    if (!n.read) await attempt(() => api(`/api/notifications/${encodeURIComponent(n.id)}/read`, { method: 'POST' }));
    const to = sitePath(n.link);
    if (to && to !== location.pathname) location.assign(to);
  };

  const load = () => Promise.all([api('/api/notifications?limit=50'), api('/api/notifications/count')])
    .then(([items, c]) => { bell.items = items; bell.count = c.count; draw(); })
    .catch(() => {});

  live.on('notifications:', (event, data) => {
    if (event === 'notifications:added') {
      bell.items = [data, ...bell.items.filter((n) => n.id !== data.id)].slice(0, 50);
      toast(data.title, 'note');
    } else if (event === 'notifications:updated') {
      bell.items = bell.items.map((n) => (n.id === data.id ? data : n));
    } else if (event === 'notifications:removed') {
      bell.items = bell.items.filter((n) => n.id !== data.id);
    } else if (event === 'notifications:cleared') {
      bell.items = [];
    } else if (event === 'notifications:count') {
      bell.count = Number(data) || 0;
    }
    draw();
  });
  live.onReconnect(load);

  document.addEventListener('DOMContentLoaded', () => {
    const button = $('#bell');
    const panel = $('#bell-panel');
    if (!button) return;
    const show = (on) => {
      panel.hidden = !on;
      button.setAttribute('aria-expanded', String(on));
    };
    button.addEventListener('click', () => show(panel.hidden));
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !panel.hidden) { show(false); button.focus(); } });
    document.addEventListener('click', (e) => { if (!panel.hidden && !e.target.closest('.bell-wrap')) show(false); });
    $('#bell-read-all').addEventListener('click', () => attempt(() => api('/api/notifications/read-all', { method: 'POST' })).then(load));
    $('#bell-clear').addEventListener('click', () => attempt(() => api('/api/notifications', { method: 'DELETE' })));
    draw();
  });
})();
