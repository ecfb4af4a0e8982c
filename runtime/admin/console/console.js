// fms-runtime admin console: plain browser JavaScript, no framework, no build step.
// Data comes from the admin JSON API (polled), the live log from /api/log/stream (SSE read through
// fetch so it can carry the Authorization header), video from WS-FLV/HTTP-FLV through mpegts.js or
// LL-HLS through hls.js.
// Everything server-provided is inserted with textContent, never as HTML: script traces and client
// agents are attacker-controlled strings.
'use strict';

(() => {
  const POLL_MS = 2000;
  const MAX_LOG_LINES = 1000;
  const LEVEL_NAMES = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

  const $ = (id) => document.getElementById(id);

  // --- token: `/console#token=…` (a fragment never reaches the server), kept for this tab only ---
  const hashToken = new URLSearchParams(location.hash.slice(1)).get('token');
  if (hashToken) {
    sessionStorage.setItem('fms-admin-token', hashToken);
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = () => sessionStorage.getItem('fms-admin-token');
  const authHeaders = () => (token() ? { authorization: `Bearer ${token()}` } : {});

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('fms-admin-token', $('token-input').value.trim());
    $('token-form').hidden = true;
    refresh();
    startLog();
  });

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers || {}) } });
    if (res.status === 401) $('token-form').hidden = false;
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new HttpError(res.status, body.error || `HTTP ${res.status}`);
    return body;
  }

  function setStatus(text, isError) {
    $('status').textContent = text;
    $('status').classList.toggle('error', Boolean(isError));
  }

  // --- tables ---
  function cell(content, className) {
    const td = document.createElement('td');
    if (content instanceof Node) td.append(content);
    else td.textContent = content === null || content === undefined ? '' : String(content);
    if (className) td.className = className;
    return td;
  }

  function button(label, testid, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.testid = testid;
    b.addEventListener('click', onClick);
    return b;
  }

  /** Replaces a table's rows; `rows` are arrays of cells (strings or nodes) with optional row attributes. */
  function fill(tableId, rows, columns) {
    const tbody = $(tableId).tBodies[0];
    const fresh = rows.map(({ cells, attrs }) => {
      const tr = document.createElement('tr');
      for (const [name, value] of Object.entries(attrs || {})) tr.setAttribute(name, value);
      for (const c of cells) tr.append(c instanceof HTMLTableCellElement ? c : cell(c));
      return tr;
    });
    if (!fresh.length) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = cell('none');
      td.colSpan = columns;
      tr.append(td);
      fresh.push(tr);
    }
    tbody.replaceChildren(...fresh);
  }

  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');
  const bytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
  const splitInstance = (name) => {
    const slash = name.indexOf('/');
    return [name.slice(0, slash), name.slice(slash + 1)];
  };
  const instancePath = (name) => splitInstance(name).map(encodeURIComponent).join('/');

  async function instanceAction(name, action) {
    setStatus(`${action} ${name}…`);
    try {
      const result = await api(`/api/instances/${instancePath(name)}/${action}`, { method: 'POST' });
      setStatus(`${action} ${name}: ${JSON.stringify(result)}`);
    } catch (error) {
      setStatus(`${action} ${name} failed: ${error.message}`, true);
    }
    refresh();
  }

  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    try {
      const [server, apps, instances, streams, relays] = await Promise.all([
        api('/api/server'), api('/api/apps'), api('/api/instances'), api('/api/streams'), api('/api/relays'),
      ]);
      const clientLists = await Promise.all(
        instances.instances.map((i) => api(`/api/instances/${instancePath(i.name)}/clients`).catch(() => ({ clients: [] }))),
      );
      const perTransport = Object.entries(server.connectionsByTransport || {}).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${n}`).join(', ');
      const tlsPorts = `${server.rtmpsPort ? ` · RTMPS :${server.rtmpsPort}` : ''}${server.httpsPort ? ` · HTTPS :${server.httpsPort}` : ''}`;
      $('server-summary').textContent =
        `RTMP :${server.rtmpPort} · HTTP :${server.httpPort}${tlsPorts} · ${server.connections} connections${perTransport ? ` (${perTransport})` : ''} · up ${server.uptimeSec}s · FLV players ${server.httpFlv.players} · updated ${new Date().toLocaleTimeString()}`;
      fill('apps', apps.apps.map((a) => ({ cells: [a.name, a.instances.join(', '), a.clients] })), 3);
      fill('instances', instances.instances.map((i) => {
        const actions = document.createElement('span');
        actions.append(button('Reload', 'reload', () => instanceAction(i.name, 'reload')), ' ', button('Unload', 'unload', () => instanceAction(i.name, 'unload')));
        return {
          attrs: { 'data-instance': i.name },
          cells: [i.name, i.state, time(i.startedAt), i.generation, i.clients, i.streams, i.totalConnects, i.scriptErrors, cell(actions, 'actions')],
        };
      }), 8);
      fill('clients', clientLists.flatMap((list, index) => list.clients.map((c) => ({
        attrs: { 'data-client': c.id },
        cells: [instances.instances[index].name, c.id, c.ip, c.transport, cell(c.agent, 'wrap'), time(c.connectedAt), bytes(c.bytesIn), bytes(c.bytesOut)],
      }))), 8);
      fill('streams', streams.streams.filter((s) => s.publishing).map((s) => ({
        attrs: { 'data-stream': `${s.instance}/${s.name}` },
        cells: [
          s.instance, s.name,
          s.publisher ? `${s.publisher.id}${s.publisher.ip ? ` (${s.publisher.ip})` : ''}` : '',
          s.subscribers,
          [s.codecs.video, s.codecs.audio].filter(Boolean).join(' + '),
          `${s.bitrateKbps} kb/s`,
          cell(s.hlsPath ? hlsLink(s.hlsPath) : 'off', 'wrap'),
          cell(button('Play', 'play', () => play(s))),
        ],
      })), 8);
      fill('relays', relays.relays.map((r) => ({
        cells: [r.instance, r.kind, r.streamName, cell(r.source || '', 'wrap'), cell(r.destination, 'wrap'), r.state, `${r.lagMs} ms`, cell(r.lastError || '', 'wrap')],
      })), 8);
      if ($('status').textContent.startsWith('API:')) setStatus(''); // the API answers again
    } catch (error) {
      setStatus(`API: ${error.message}`, true);
    } finally {
      refreshing = false;
    }
  }

  // --- live log: SSE over fetch (EventSource cannot send the Authorization header) ---
  let logAbort = null;

  function logQuery() {
    const query = new URLSearchParams();
    const app = $('log-app').value.trim();
    const instance = $('log-instance').value.trim();
    if (app) query.set('app', app);
    if (app && instance) query.set('instance', instance);
    if ($('log-level').value) query.set('level', $('log-level').value);
    if ($('log-text').value.trim()) query.set('q', $('log-text').value.trim());
    query.set('limit', '200');
    return query;
  }

  function appendLog(record) {
    const li = document.createElement('li');
    const level = LEVEL_NAMES[record.level] || String(record.level);
    li.className = record.trace ? 'script-trace' : `l-${level === 'trace' ? 'trace-level' : level}`;
    li.dataset.level = level;
    const when = new Date(record.time).toLocaleTimeString();
    const where = record.app ? ` [${record.app}]` : record.component ? ` [${record.component}]` : '';
    const kind = record.trace ? 'trace' : level;
    const extras = Object.entries(record)
      .filter(([key]) => !['level', 'time', 'msg', 'app', 'pid', 'hostname', 'trace', 'component'].includes(key))
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    li.textContent = `${when} ${kind}${where} ${record.msg ?? ''}${extras ? `  ${extras}` : ''}`;
    const log = $('log');
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(li);
    while (log.childElementCount > MAX_LOG_LINES) log.firstElementChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  async function startLog() {
    logAbort?.abort();
    const abort = new AbortController();
    logAbort = abort;
    $('log').replaceChildren();
    $('log-state').textContent = 'connecting…';
    try {
      const res = await fetch(`/api/log/stream?${logQuery()}`, { headers: authHeaders(), signal: abort.signal });
      if (res.status === 401) $('token-form').hidden = false;
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      $('log-state').textContent = 'live';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        const events = buffer.split('\n\n');
        buffer = events.pop();
        for (const event of events) {
          for (const line of event.split('\n')) {
            if (!line.startsWith('data: ')) continue; // ": keep-alive" comments
            try {
              appendLog(JSON.parse(line.slice(6)));
            } catch {
              /* a malformed record is skipped, the stream goes on */
            }
          }
        }
      }
      throw new Error('stream ended');
    } catch (error) {
      if (abort.signal.aborted) return;
      $('log-state').textContent = `disconnected (${error.message}); retrying`;
      setTimeout(() => logAbort === abort && startLog(), 2000);
    }
  }

  $('log-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    startLog();
  });
  $('log-level').addEventListener('change', startLog);
  $('log-clear').addEventListener('click', () => $('log').replaceChildren());

  function hlsLink(hlsPath) {
    const a = document.createElement('a');
    a.href = hlsPath;
    a.textContent = `${location.origin}${hlsPath}`;
    a.dataset.testid = 'hls-url';
    return a;
  }

  // --- player: mpegts.js over WS-FLV or HTTP-FLV, hls.js over LL-HLS ---
  let player = null;
  let latencyTimer = null;

  function stopPlayer() {
    clearInterval(latencyTimer);
    $('player-latency').textContent = '';
    if (!player) return;
    player.destroy();
    player = null;
    $('player-status').textContent = 'stopped';
  }

  function playHls(stream) {
    const Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) {
      $('player-status').textContent = 'this browser has no Media Source Extensions';
      return;
    }
    const url = `${location.origin}${stream.hlsPath}`;
    // Low-latency mode: parts, blocking reloads and preload hints; the live edge is PART-HOLD-BACK behind.
    // maxLiveSyncPlaybackRate: after a stall, play up to 1.5× until back at the target latency.
    const hls = new Hls({ lowLatencyMode: true, backBufferLength: 30, maxLiveSyncPlaybackRate: 1.5 });
    player = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) $('player-status').textContent = `error: ${data.type} ${data.details}`;
    });
    hls.loadSource(url);
    hls.attachMedia($('player'));
    $('player-title').textContent = `${stream.instance}/${stream.name}`;
    $('player-status').textContent = `playing ${url}`;
    // hls.js's own measure: seconds from the playhead to the live edge of the playlist.
    latencyTimer = setInterval(() => {
      if (player === hls && Number.isFinite(hls.latency)) $('player-latency').textContent = `latency ${hls.latency.toFixed(2)} s`;
    }, 500);
    const started = $('player').play();
    if (started && started.catch) started.catch((error) => ($('player-status').textContent = `play() refused: ${error.message}`));
  }

  function play(stream) {
    stopPlayer();
    if ($('player-transport').value === 'hls') {
      if (stream.hlsPath) playHls(stream);
      else $('player-status').textContent = 'HLS is off for this application';
      return;
    }
    const mpegts = window.mpegts;
    if (!mpegts || !mpegts.isSupported()) {
      $('player-status').textContent = 'this browser has no Media Source Extensions';
      return;
    }
    const scheme = $('player-transport').value === 'ws' ? (location.protocol === 'https:' ? 'wss:' : 'ws:') : location.protocol;
    const url = `${scheme}//${location.host}${stream.flvPath}`;
    // Low-latency live settings: no stash buffer, and chase the live edge when the buffer grows.
    player = mpegts.createPlayer({ type: 'flv', isLive: true, url }, { enableStashBuffer: false, liveBufferLatencyChasing: true, enableWorker: false });
    player.on(mpegts.Events.ERROR, (type, detail, info) => {
      $('player-status').textContent = `error: ${type} ${detail} ${info && info.msg ? info.msg : ''}`;
    });
    player.attachMediaElement($('player'));
    player.load();
    $('player-title').textContent = `${stream.instance}/${stream.name}`;
    $('player-status').textContent = `playing ${url}`;
    const started = player.play();
    if (started && started.catch) started.catch((error) => ($('player-status').textContent = `play() refused: ${error.message}`));
  }

  $('player-stop').addEventListener('click', stopPlayer);

  refresh();
  setInterval(refresh, POLL_MS);
  startLog();
})();
