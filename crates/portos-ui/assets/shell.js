// The Shell page: terminals that live in the runner. A reload or a second
// device attaches to the same session and gets its screen first
// (`shell:screen`), then live output. Tabs for the owner's sessions with
// their age; on a phone a key row for what its keyboard lacks.

pages.shell = () => {
  const host = $('#shell-term');
  const state = $('#shell-state');
  const css = getComputedStyle(document.documentElement);
  const color = (name, fallback) => (css.getPropertyValue(name) || '').trim() || fallback;
  const term = new Terminal({
    scrollback: 5000,
    cursorBlink: true,
    cursorStyle: 'block',
    fontSize: 14,
    fontFamily: '"JetBrainsMono Nerd Font", "FiraCode Nerd Font", ui-monospace, Menlo, Consolas, monospace',
    theme: { background: color('--bg', '#0b0f14'), foreground: color('--fg', '#e6edf3') },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(host);
  window.portosTerm = term; // for the end-to-end tests
  const shell = { current: null, sessions: [], ctrl: false, attaches: 0 };
  window.portosShell = shell;
  const STORE = 'portos.shell.session';

  const fitNow = () => { try { fit.fit(); } catch { /* hidden */ } };
  const sendSize = () => {
    if (shell.current) live.send('shell:resize', { sessionId: shell.current, cols: term.cols, rows: term.rows });
  };
  const age = (iso) => {
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return `${Math.round(s)}s`;
    if (s < 3600) return `${Math.round(s / 60)}m`;
    if (s < 86400) return `${Math.round(s / 3600)}h`;
    return `${Math.round(s / 86400)}d`;
  };
  const drawTabs = () => {
    const tabs = $('#shell-tabs');
    tabs.replaceChildren(...shell.sessions.map((s, i) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'tab');
      b.setAttribute('aria-selected', String(s.sessionId === shell.current));
      b.dataset.session = s.sessionId;
      b.textContent = `${i + 1}: ${s.shell.split('/').pop()} · ${age(s.createdAt)}`;
      b.title = `${s.cwd} — opened ${s.createdAt}`;
      b.addEventListener('click', () => attach(s.sessionId));
      return b;
    }));
  };
  const attach = (id) => {
    if (shell.current && shell.current !== id) live.send('shell:detach', { sessionId: shell.current });
    shell.current = id;
    shell.attaches += 1;
    localStorage.setItem(STORE, id);
    term.reset();
    live.send('shell:attach', { sessionId: id });
    fitNow();
    sendSize();
    drawTabs();
    term.focus();
  };
  const start = () => {
    fitNow();
    term.reset();
    term.write('Starting shell session...\r\n');
    live.send('shell:start', { cols: term.cols, rows: term.rows });
  };

  term.onData((d) => {
    if (!shell.current) return;
    if (shell.ctrl && d.length === 1) {
      const c = d.toUpperCase().charCodeAt(0);
      if (c >= 64 && c <= 95) d = String.fromCharCode(c - 64);
      shell.ctrl = false;
      $('[data-key="ctrl"]').setAttribute('aria-pressed', 'false');
    }
    live.send('shell:input', { sessionId: shell.current, data: d });
  });
  term.onResize(sendSize);
  window.addEventListener('resize', fitNow);

  // Each piece of output is acknowledged once drawn, so the server sends a
  // flood's latest screen rather than a backlog the terminal would chew on.
  const ack = (id) => live.send('shell:ack', { sessionId: id, count: 1 });
  live.on('shell:', (event, data) => {
    data = data || {};
    const output = event === 'shell:output' || event === 'shell:screen';
    if (output && data.sessionId !== shell.current) ack(data.sessionId);
    if (event === 'shell:list') {
      shell.sessions = data.sessions || [];
      const ids = shell.sessions.map((s) => s.sessionId);
      const want = [shell.current, localStorage.getItem(STORE)].find((id) => id && ids.includes(id));
      if (want) attach(want);
      else if (ids.length) attach(ids[0]);
      else start();
      drawTabs();
    } else if (event === 'shell:started') {
      shell.sessions.push(data.session);
      shell.current = data.sessionId;
      localStorage.setItem(STORE, data.sessionId);
      sendSize();
      drawTabs();
      term.focus();
    } else if (data.sessionId && data.sessionId !== shell.current) {
      // Another tab's session: not on screen.
    } else if (event === 'shell:screen') {
      term.reset();
      term.write(data.data, () => ack(data.sessionId));
    } else if (event === 'shell:output') {
      term.write(data.data, () => ack(data.sessionId));
    } else if (event === 'shell:exit') {
      term.write(`\r\n\x1b[33m[Shell exited with code ${data.code ?? data.signal}]\x1b[0m Press New for another.\r\n`);
      shell.sessions = shell.sessions.filter((s) => s.sessionId !== data.sessionId);
      shell.current = null;
      localStorage.removeItem(STORE);
      drawTabs();
    } else if (event.endsWith('error')) {
      term.write(`\r\n\x1b[31m[Error: ${data.error || data.message}]\x1b[0m\r\n`);
    }
  });
  live.onReconnect(() => {
    state.textContent = 'Connected';
    live.send('shell:list');
  });
  setInterval(() => {
    state.textContent = live.online ? 'Connected' : 'Disconnected';
    state.classList.toggle('bad', !live.online);
    drawTabs();
  }, 5000);

  $('#shell-new').addEventListener('click', () => {
    if (shell.current) live.send('shell:detach', { sessionId: shell.current });
    shell.current = null;
    start();
  });
  $('#shell-close').addEventListener('click', () => {
    if (shell.current) live.send('shell:stop', { sessionId: shell.current });
  });
  $('#shell-copy').addEventListener('click', () => {
    const text = term.getSelection();
    if (text && navigator.clipboard) navigator.clipboard.writeText(text).catch(() => toast('Copy needs https or localhost'));
  });
  $('#shell-paste').addEventListener('click', async () => {
    if (!shell.current || !navigator.clipboard) return;
    try {
      const text = await navigator.clipboard.readText();
      if (text) live.send('shell:input', { sessionId: shell.current, data: text });
    } catch { toast('Paste needs https or localhost'); }
  });
  const KEYS = { esc: '\x1b', tab: '\t', left: '\x1b[D', up: '\x1b[A', down: '\x1b[B', right: '\x1b[C', pipe: '|', tilde: '~' };
  $('#shell-keys').addEventListener('click', (e) => {
    const key = e.target.closest('button') && e.target.closest('button').dataset.key;
    if (!key) return;
    if (key === 'ctrl') {
      shell.ctrl = !shell.ctrl;
      e.target.setAttribute('aria-pressed', String(shell.ctrl));
    } else if (shell.current) {
      live.send('shell:input', { sessionId: shell.current, data: KEYS[key] });
    }
    term.focus();
  });
  fitNow();
  shellCommands();
};

// The command runner under the terminal: one allow-listed program (the
// original's /api/commands), its output streamed as `command:<id>:*`.
function shellCommands() {
  const out = $('#cmd-out');
  const state = $('#cmd-state');
  const stop = $('#cmd-stop');
  const cmd = { id: null };
  window.portosCommand = cmd; // for the end-to-end tests
  attempt(async () => {
    const allowed = await api('/api/commands/allowed');
    const shown = allowed.slice(0, 10).join(', ');
    $('#cmd-allowed').textContent = `Allowed: ${shown}${allowed.length > 10 ? ` (+${allowed.length - 10} more)` : ''}.`;
  });
  attempt(async () => {
    const apps = await api('/api/apps');
    for (const a of apps) {
      if (a.repoPath) $('#cmd-folder').append(h('option', { value: a.repoPath, text: `${a.name} — ${a.repoPath}` }));
    }
  });
  const finish = (d) => {
    const how = d.success ? 'finished' : (d.error || `exit code ${d.exitCode}`);
    state.textContent = `${how} in ${fmt.duration(d.runtime)}${d.truncated ? ' (output shortened)' : ''}`;
    state.classList.toggle('bad', !d.success);
    cmd.id = null;
    stop.disabled = true;
    $('#cmd-run').disabled = false;
  };
  // A fast command's events can come before the answer that names it: held
  // while a start is pending, then replayed.
  const early = [];
  const onEvent = (event, data) => {
    if (!cmd.id) {
      if (cmd.starting && early.length < 1000) early.push([event, data]);
      return;
    }
    if (!event.startsWith(`command:${cmd.id}:`)) return;
    if (event.endsWith(':data')) {
      const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
      out.append(data.stream === 'stderr' ? h('span', { class: 'bad', text: data.data }) : data.data);
      if (atEnd) out.scrollTop = out.scrollHeight;
    } else if (event.endsWith(':complete')) {
      finish(data);
    }
  };
  live.on('command:', onEvent);
  $('#cmd-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const command = $('#cmd-input').value.trim();
    if (!command) return;
    out.replaceChildren();
    state.classList.remove('bad');
    state.textContent = `running ${command}…`;
    $('#cmd-run').disabled = true;
    early.length = 0;
    cmd.starting = true;
    try {
      const r = await api('/api/commands/execute', { method: 'POST', json: { command, workspacePath: $('#cmd-folder').value || undefined } });
      cmd.id = r.commandId;
      stop.disabled = false;
      for (const [event, data] of early.splice(0)) onEvent(event, data);
    } catch (err) {
      state.textContent = err.message;
      state.classList.add('bad');
      $('#cmd-run').disabled = false;
    } finally {
      cmd.starting = false;
    }
  });
  stop.addEventListener('click', () => {
    if (cmd.id) attempt(() => api(`/api/commands/${cmd.id}/stop`, { method: 'POST' }));
  });
}
