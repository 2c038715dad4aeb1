// The agente console: reception and operations on the admin API. Plain
// JavaScript, no build step. The bearer token the user pastes is kept in
// sessionStorage (gone when the tab closes) and sent only to /admin/* on
// this origin; the API decides what the token may see, the page only hides
// what it would refuse.
'use strict';
(function () {
  const TEXT = {
    en: {
      skip: 'Skip to content', language: 'Language', logout: 'Sign out',
      signin: 'Sign in', token: 'Access token', signinHint: 'Paste the token your administrator gave you (agente-caddy admin-token). It is kept in this tab only.',
      badToken: 'That is not a valid token.', expired: 'Your session ended. Sign in again.', forbidden: 'Not allowed with this token.',
      dashboard: 'Dashboard', hotels: 'Hotels', flags: 'Feature flags', canaries: 'Canaries', deadLetters: 'Dead letters', reception: 'Reception',
      loading: 'Loading…', error: 'Error: {0}', saved: 'Saved.', none: 'Nothing here.', refresh: 'Refresh',
      total: 'total', active: 'active', inactive: 'inactive', identifiers: 'Identifiers',
      pms: 'PMS', breaker: 'Circuit breaker', cacheRatio: 'Cache hit ratio', hits: 'hits', misses: 'misses', staleHits: 'stale',
      queues: 'Queues', inboxPending: 'Inbox pending', outboxPending: 'Replies pending', outboxHeld: 'Replies held',
      environment: 'Environment', updated: 'Updated {0}',
      hotel: 'Hotel', id: 'Id', name: 'Name', status: 'Status', timezone: 'Time zone', languageCol: 'Language', actions: 'Actions',
      addHotel: 'Add a hotel', add: 'Add', open: 'Open', back: 'Back',
      deactivate: 'Deactivate', activate: 'Activate', remove: 'Remove', type: 'Type', value: 'Value', channel: 'Channel',
      addIdentifier: 'Add an identifier', identifier: 'Identifier', typeAuto: 'guess from the value',
      flag: 'Flag', enabled: 'Enabled', on: 'on', off: 'off', addFlag: 'Set a flag', stale: 'The flag store did not answer: values may be stale.',
      weights: 'Weights', weight: 'Weight', verdict: 'Verdict', arm: 'Arm', requests: 'Requests', errors: 'Errors', errorRate: 'Error rate',
      p50: 'p50', p95: 'p95', latency: 'Latency (p50 solid, p95 dashed)', errorChart: 'Error rate', window: 'window {0}',
      promote: 'Promote', rollback: 'Roll back', pause: 'Pause', resume: 'Resume', reasons: 'Why',
      noCanaries: 'No canary runs in this configuration.', done: '{0}: done.',
      kind: 'Kind', all: 'all', reason: 'Reason', attempts: 'Attempts', diedAt: 'Died', text: 'Text', guest: 'Guest',
      replaySelected: 'Replay selected', replayAll: 'Replay all shown by the filter', replayed: 'Replayed {0}.', more: 'More', select: 'Select',
      filter: 'Filter',
      chooseHotel: 'Choose a hotel', waiting: 'Waiting', activeConv: 'Active', closed: 'Closed', search: 'Search by phone, name or booking',
      waitedFor: 'waiting {0}', noneWaiting: 'Nobody is waiting.', conversation: 'Conversation', booking: 'Booking in progress',
      reply: 'Reply', send: 'Send', giveBack: 'Give back to the agent', close: 'Close', sentAsStaff: 'staff',
      given: 'The agent answers this guest again.', closedMsg: 'Conversation closed.', pick: 'Pick a conversation.',
      queued: 'queued', sent: 'sent', delivered: 'delivered', read: 'read', failed: 'failed',
      notYours: 'This hotel is not one of yours.',
      running: 'running', paused: 'paused', rolled_back: 'rolled back', promoted: 'promoted', activeState: 'active', waitingState: 'waiting', closedState: 'closed',
    },
    es: {
      skip: 'Ir al contenido', language: 'Idioma', logout: 'Salir',
      signin: 'Entrar', token: 'Token de acceso', signinHint: 'Pega el token que te dio tu administrador (agente-caddy admin-token). Solo se guarda en esta pestaña.',
      badToken: 'Ese token no es válido.', expired: 'Tu sesión terminó. Vuelve a entrar.', forbidden: 'No permitido con este token.',
      dashboard: 'Panel', hotels: 'Hoteles', flags: 'Funciones', canaries: 'Canarios', deadLetters: 'Mensajes fallidos', reception: 'Recepción',
      loading: 'Cargando…', error: 'Error: {0}', saved: 'Guardado.', none: 'No hay nada.', refresh: 'Actualizar',
      total: 'total', active: 'activos', inactive: 'inactivos', identifiers: 'Identificadores',
      pms: 'PMS', breaker: 'Cortacircuitos', cacheRatio: 'Aciertos de caché', hits: 'aciertos', misses: 'fallos', staleHits: 'caducados',
      queues: 'Colas', inboxPending: 'Entrada pendiente', outboxPending: 'Respuestas pendientes', outboxHeld: 'Respuestas retenidas',
      environment: 'Entorno', updated: 'Actualizado {0}',
      hotel: 'Hotel', id: 'Id', name: 'Nombre', status: 'Estado', timezone: 'Zona horaria', languageCol: 'Idioma', actions: 'Acciones',
      addHotel: 'Añadir un hotel', add: 'Añadir', open: 'Abrir', back: 'Volver',
      deactivate: 'Desactivar', activate: 'Activar', remove: 'Quitar', type: 'Tipo', value: 'Valor', channel: 'Canal',
      addIdentifier: 'Añadir un identificador', identifier: 'Identificador', typeAuto: 'deducir del valor',
      flag: 'Función', enabled: 'Activa', on: 'sí', off: 'no', addFlag: 'Fijar una función', stale: 'El almacén no respondió: los valores pueden estar desfasados.',
      weights: 'Pesos', weight: 'Peso', verdict: 'Veredicto', arm: 'Rama', requests: 'Peticiones', errors: 'Errores', errorRate: 'Tasa de error',
      p50: 'p50', p95: 'p95', latency: 'Latencia (p50 continua, p95 discontinua)', errorChart: 'Tasa de error', window: 'ventana {0}',
      promote: 'Promover', rollback: 'Revertir', pause: 'Pausar', resume: 'Reanudar', reasons: 'Motivos',
      noCanaries: 'No hay canarios en esta configuración.', done: '{0}: hecho.',
      kind: 'Tipo', all: 'todos', reason: 'Motivo', attempts: 'Intentos', diedAt: 'Falló', text: 'Texto', guest: 'Huésped',
      replaySelected: 'Reenviar los elegidos', replayAll: 'Reenviar todos los del filtro', replayed: 'Reenviados {0}.', more: 'Más', select: 'Elegir',
      filter: 'Filtrar',
      chooseHotel: 'Elige un hotel', waiting: 'Esperando', activeConv: 'Activas', closed: 'Cerradas', search: 'Buscar por teléfono, nombre o reserva',
      waitedFor: 'espera {0}', noneWaiting: 'Nadie espera.', conversation: 'Conversación', booking: 'Reserva en curso',
      reply: 'Respuesta', send: 'Enviar', giveBack: 'Devolver al agente', close: 'Cerrar', sentAsStaff: 'personal',
      given: 'El agente vuelve a atender a este huésped.', closedMsg: 'Conversación cerrada.', pick: 'Elige una conversación.',
      queued: 'en cola', sent: 'enviado', delivered: 'entregado', read: 'leído', failed: 'fallido',
      notYours: 'Este hotel no es uno de los tuyos.',
      running: 'en marcha', paused: 'en pausa', rolled_back: 'revertido', promoted: 'promovido', activeState: 'activa', waitingState: 'esperando', closedState: 'cerrada',
    },
  };

  const $main = document.getElementById('main');
  const $nav = document.getElementById('nav');
  const $flash = document.getElementById('flash');
  const $lang = document.getElementById('lang');
  const $logout = document.getElementById('logout');

  let lang = pickLang();
  let token = sessionStorage.getItem('agente.token') || '';
  let me = null; // {sub, role, tenants}
  let timer = null;

  function pickLang() {
    const saved = localStorage.getItem('agente.lang');
    if (TEXT[saved]) return saved;
    const page = document.documentElement.lang;
    return TEXT[page] ? page : 'en';
  }

  function t(key, ...args) {
    let s = (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
    args.forEach((a, i) => { s = s.replace('{' + i + '}', a); });
    return s;
  }

  // h builds an element: attributes (on* are listeners), then children.
  function h(tag, attrs, ...kids) {
    return build(document.createElement(tag), attrs, kids);
  }
  function s(tag, attrs, ...kids) {
    return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, kids);
  }
  function build(el, attrs, kids) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.setAttribute('class', v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function flash(msg, bad) {
    $flash.textContent = msg;
    $flash.className = bad ? 'bad' : 'ok';
    clearTimeout(flash.t);
    flash.t = setTimeout(() => { $flash.textContent = ''; $flash.className = ''; }, 5000);
  }

  class APIError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }

  async function api(method, path, body) {
    const opt = { method, headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' };
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.body = JSON.stringify(body);
    }
    const res = await fetch(path, opt);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) {
      signOut(t('expired'));
      throw new APIError(401, t('expired'));
    }
    if (!res.ok) throw new APIError(res.status, res.status === 403 ? t('forbidden') : ((data && data.error) || res.statusText));
    return data;
  }

  // claims reads the token's payload (not verified here: the API does).
  function claims(tok) {
    try {
      const p = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const bytes = Uint8Array.from(atob(p + '==='.slice((p.length + 3) % 4)), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      return null;
    }
  }

  function isAdmin() { return me && me.role === 'admin'; }
  function mayHotel(id) { return isAdmin() || (me && me.tenants.includes(id)); }

  async function signIn(tok) {
    const c = claims(tok);
    if (!c || !c.sub || typeof c.exp !== 'number' || c.exp * 1000 < Date.now()) throw new APIError(0, t('badToken'));
    token = tok;
    const role = c.role || 'admin';
    if (role === 'admin') {
      await api('GET', '/admin/dashboard'); // proves the token
      me = { sub: c.sub, role, tenants: [] };
    } else {
      const w = await api('GET', '/admin/whoami');
      me = { sub: w.sub, role: w.role, tenants: w.tenants || [] };
    }
    sessionStorage.setItem('agente.token', tok);
  }

  function signOut(msg) {
    token = '';
    me = null;
    sessionStorage.removeItem('agente.token');
    if (msg) flash(msg, true);
    go('#/');
  }

  // ---------------------------------------------------------------- shell

  const SECTIONS = [
    ['dashboard', 'admin'], ['hotels', 'admin'], ['flags', 'admin'], ['canaries', 'admin'],
    ['deadLetters', 'admin', 'dead-letters'], ['reception', 'any'],
  ];

  function renderNav(current) {
    $nav.replaceChildren();
    $logout.hidden = !me;
    if (!me) return;
    const ul = h('ul');
    for (const [key, who, path] of SECTIONS) {
      if (who === 'admin' && !isAdmin()) continue;
      const p = path || key;
      ul.append(h('li', null, h('a', { href: '#/' + p, 'aria-current': current === p ? 'page' : null }, t(key))));
    }
    $nav.append(ul);
  }

  function page(title, ...kids) {
    document.title = title + ' · Agente';
    $main.replaceChildren(h('h1', null, title), ...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
  }

  // poll runs fn every ms while anchor (an element of the view that asked)
  // is on the page. Views render after awaits, so an older view may finish
  // after a newer one has replaced it: its anchor is gone, and it installs
  // nothing.
  function poll(fn, ms, anchor) {
    if (!anchor.isConnected) return;
    clearInterval(timer);
    const id = setInterval(() => {
      if (!anchor.isConnected) { clearInterval(id); return; }
      if (!document.hidden) fn();
    }, ms);
    timer = id;
  }

  // go shows hash, rendering even when it is the current one.
  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function applyStatic() {
    document.documentElement.lang = lang;
    $lang.value = lang;
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  }

  async function route() {
    clearInterval(timer);
    applyStatic();
    const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
    const query = new URLSearchParams(location.hash.split('?')[1] || '');
    if (!me && token) {
      try { await signIn(token); } catch (e) { token = ''; sessionStorage.removeItem('agente.token'); }
    }
    if (!me) { renderNav(); return loginView(); }
    const section = parts[0] || (isAdmin() ? 'dashboard' : 'reception');
    renderNav(section);
    const views = {
      dashboard: dashboardView, hotels: hotelsView, flags: flagsView, canaries: canariesView,
      'dead-letters': deadLettersView, reception: receptionView,
    };
    const admin = { dashboard: 1, hotels: 1, flags: 1, canaries: 1, 'dead-letters': 1 };
    const view = views[section];
    if (!view) { location.hash = '#/'; return; }
    if (admin[section] && !isAdmin()) { location.hash = '#/reception'; return; }
    try {
      await view(parts.slice(1), query);
    } catch (e) {
      if (e.status !== 401) $main.append(h('p', { class: 'bad', role: 'alert' }, t('error', e.message)));
    }
  }

  // ---------------------------------------------------------------- login

  function loginView() {
    const area = h('textarea', { id: 'token', rows: 4, autocomplete: 'off', spellcheck: 'false', required: true });
    const msg = h('p', { class: 'bad', role: 'alert' });
    const form = h('form', { class: 'card narrow', onsubmit: async (ev) => {
      ev.preventDefault();
      msg.textContent = '';
      try {
        await signIn(area.value.trim());
        go('#/');
      } catch (e) {
        msg.textContent = e.status === 0 || e.status === 401 ? t('badToken') : t('error', e.message);
      }
    } },
    h('label', { for: 'token' }, t('token')), area,
    h('p', { class: 'hint' }, t('signinHint')),
    h('button', { type: 'submit' }, t('signin')), msg);
    page(t('signin'), form);
    area.focus();
  }

  // ---------------------------------------------------------------- formats

  function pct(x) { return (100 * (x || 0)).toFixed(x && x < 0.1 ? 2 : 1) + ' %'; }
  function ms(sec) { return sec >= 1 ? sec.toFixed(2) + ' s' : Math.round(sec * 1000) + ' ms'; }
  function ago(iso) {
    if (!iso) return '';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.floor(s) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d';
  }
  function when(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return d.toLocaleString(lang === 'es' ? 'es-ES' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' });
  }
  function table(cols, rows, caption) {
    return h('div', { class: 'scroll' }, h('table', null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: cols.length }, t('none'))))));
  }
  function field(label, input) {
    return h('label', { class: 'field' }, h('span', null, label), input);
  }

  // ---------------------------------------------------------------- dashboard

  async function dashboardView() {
    const box = h('div', { class: 'grid' });
    const stamp = h('p', { class: 'hint' });
    page(t('dashboard'), stamp, box);
    const load = async () => {
      const d = await api('GET', '/admin/dashboard');
      box.replaceChildren(...dashboardCards(d));
      stamp.textContent = t('updated', when(d.generated_at || new Date().toISOString()));
    };
    await load();
    poll(() => load().catch(() => {}), 10000, box);
  }

  function dashboardCards(d) {
    const cards = [];
    const seen = new Set(['generated_at']);
    const card = (title, ...kids) => h('section', { class: 'card' }, h('h2', null, title), ...kids);
    const dl = (pairs) => h('dl', null, pairs.filter((p) => p[1] !== undefined && p[1] !== null).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    if (d.tenants) {
      seen.add('tenants');
      const tt = d.tenants;
      cards.push(card(t('hotels'), h('p', { class: 'big' }, String(tt.total ?? '')),
        dl([[t('active'), tt.active], [t('inactive'), tt.inactive], [t('identifiers'), tt.identifiers]])));
    }
    const breaker = d.pms_breaker_state ?? (d.breaker && (d.breaker.state ?? d.breaker.pms));
    const cache = d.pms_cache || (d.breaker && d.breaker.cache);
    if (breaker !== undefined || cache) {
      seen.add('pms_breaker_state'); seen.add('pms_cache'); seen.add('breaker');
      cards.push(card(t('pms'),
        h('p', { class: 'big state-' + breaker }, String(breaker ?? '')),
        dl([[t('breaker'), breaker], [t('cacheRatio'), cache ? (cache.hits + cache.misses > 0 ? pct(cache.hit_ratio) : '—') : undefined],
          [t('hits'), cache && cache.hits], [t('misses'), cache && cache.misses], [t('staleHits'), cache && cache.stale_hits]])));
    }
    if ('inbox_pending' in d) {
      ['inbox_pending', 'outbox_pending', 'outbox_held'].forEach((k) => seen.add(k));
      cards.push(card(t('queues'), dl([[t('inboxPending'), d.inbox_pending], [t('outboxPending'), d.outbox_pending], [t('outboxHeld'), d.outbox_held]])));
    }
    if (Array.isArray(d.canaries)) {
      seen.add('canaries');
      cards.push(card(t('canaries'), d.canaries.length ? h('ul', { class: 'plain' }, d.canaries.map((c) =>
        h('li', null, h('a', { href: '#/canaries' }, c.name), ' — ', t(c.status), ', canary ', String(Math.round(((c.arms || {}).canary || {}).percent || 0)), ' %'))) : h('p', null, t('none'))));
    }
    if (d.flags && typeof d.flags === 'object') {
      seen.add('flags');
      const on = Object.entries(d.flags).filter((e) => e[1]).map((e) => e[0]);
      cards.push(card(t('flags'), h('p', null, on.length ? on.join(', ') : t('none'))));
    }
    // Whatever else the API reports, shown as it comes.
    for (const [k, v] of Object.entries(d).sort()) {
      if (seen.has(k)) continue;
      const title = k.replace(/_/g, ' ');
      if (v === null || typeof v !== 'object') cards.push(card(title, h('p', { class: 'big' }, String(v))));
      else if (Array.isArray(v)) cards.push(card(title, h('p', { class: 'big' }, String(v.length))));
      else cards.push(card(title, dl(Object.entries(v).map(([a, b]) => [a.replace(/_/g, ' '), typeof b === 'object' && b !== null ? JSON.stringify(b) : String(b)]))));
    }
    return cards;
  }

  // ---------------------------------------------------------------- hotels

  function tenantsOf(data) { return data.tenants || data.items || []; }

  async function hotelsView(parts) {
    if (parts[0]) return hotelView(parts[0]);
    const data = await api('GET', '/admin/tenants?limit=200');
    const rows = tenantsOf(data).map((x) => h('tr', null,
      h('td', null, h('a', { href: '#/hotels/' + encodeURIComponent(x.tenant_id) }, x.tenant_id)),
      h('td', null, x.name), h('td', null, h('span', { class: 'badge ' + x.status }, t(x.status))),
      h('td', null, x.language), h('td', null, String((x.identifiers || []).length))));
    const id = h('input', { name: 'tenant_id', required: true, pattern: '[A-Za-z0-9_\\-]+', autocomplete: 'off' });
    const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
    const language = h('select', { name: 'language' }, h('option', { value: 'es' }, 'es'), h('option', { value: 'en' }, 'en'));
    const tz = h('input', { name: 'timezone', value: 'Europe/Madrid', autocomplete: 'off' });
    const form = h('form', { class: 'card inline', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/admin/tenants', { tenant_id: id.value.trim(), name: name.value.trim(), language: language.value, timezone: tz.value.trim() });
        flash(t('saved'));
        route();
      } catch (e) { flash(t('error', e.message), true); }
    } }, h('h2', null, t('addHotel')), field(t('id'), id), field(t('name'), name), field(t('languageCol'), language), field(t('timezone'), tz),
    h('button', { type: 'submit' }, t('add')));
    page(t('hotels'), table([t('id'), t('name'), t('status'), t('languageCol'), t('identifiers')], rows), form);
  }

  async function hotelView(id) {
    const x = await api('GET', '/admin/tenants/' + encodeURIComponent(id));
    const base = '/admin/tenants/' + encodeURIComponent(id);
    const toggle = h('button', { type: 'button', class: x.status === 'active' ? 'danger' : '', onclick: async () => {
      try {
        await api('PATCH', base, { status: x.status === 'active' ? 'inactive' : 'active' });
        flash(t('saved'));
        route();
      } catch (e) { flash(t('error', e.message), true); }
    } }, x.status === 'active' ? t('deactivate') : t('activate'));
    const rows = (x.identifiers || []).map((i) => h('tr', null, h('td', null, i.type), h('td', null, i.value), h('td', null, i.channel || ''),
      h('td', null, h('button', { type: 'button', class: 'small danger', 'aria-label': t('remove') + ' ' + i.value, onclick: async () => {
        try {
          await api('DELETE', base + '/identifiers/' + encodeURIComponent(i.value) + '?type=' + encodeURIComponent(i.type));
          flash(t('saved'));
          route();
        } catch (e) { flash(t('error', e.message), true); }
      } }, t('remove')))));
    const value = h('input', { name: 'identifier', required: true, autocomplete: 'off' });
    const type = h('select', { name: 'type' }, h('option', { value: '' }, t('typeAuto')),
      ['phone', 'email', 'phone_number_id', 'waba_id'].map((v) => h('option', { value: v }, v)));
    const form = h('form', { class: 'card inline', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', base + '/identifiers', { identifier: value.value.trim(), type: type.value });
        flash(t('saved'));
        route();
      } catch (e) { flash(t('error', e.message), true); }
    } }, h('h2', null, t('addIdentifier')), field(t('identifier'), value), field(t('type'), type), h('button', { type: 'submit' }, t('add')));
    page(x.name,
      h('p', null, h('a', { href: '#/hotels' }, '← ' + t('back'))),
      h('section', { class: 'card' }, h('dl', null,
        h('dt', null, t('id')), h('dd', null, x.tenant_id),
        h('dt', null, t('status')), h('dd', null, h('span', { class: 'badge ' + x.status }, t(x.status))),
        h('dt', null, t('timezone')), h('dd', null, x.timezone),
        h('dt', null, t('languageCol')), h('dd', null, x.language)), toggle),
      h('h2', null, t('identifiers')),
      table([t('type'), t('value'), t('channel'), t('actions')], rows), form);
  }

  // ---------------------------------------------------------------- flags

  async function flagsView() {
    const data = await api('GET', '/admin/feature-flags');
    const set = async (name, enabled) => {
      try {
        await api('PUT', '/admin/feature-flags/' + encodeURIComponent(name), { enabled });
        flash(t('saved'));
      } catch (e) { flash(t('error', e.message), true); }
      route();
    };
    const rows = Object.keys(data.flags || {}).sort().map((name) => {
      const on = !!data.flags[name];
      return h('tr', null, h('td', null, h('code', null, name)),
        h('td', null, h('button', { type: 'button', role: 'switch', 'aria-checked': String(on), class: 'switch', 'aria-label': name,
          'data-flag': name, onclick: () => set(name, !on) }, on ? t('on') : t('off'))));
    });
    const name = h('input', { name: 'flag', required: true, pattern: '[A-Za-z0-9_.\\-]+', autocomplete: 'off' });
    const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: true });
    const form = h('form', { class: 'card inline', onsubmit: (ev) => { ev.preventDefault(); set(name.value.trim(), enabled.checked); } },
      h('h2', null, t('addFlag')), field(t('flag'), name), h('label', { class: 'check' }, enabled, ' ', t('enabled')), h('button', { type: 'submit' }, t('add')));
    page(t('flags'), data.stale ? h('p', { class: 'bad' }, t('stale')) : null, table([t('flag'), t('enabled')], rows), form);
  }

  // ---------------------------------------------------------------- canaries

  const ARM_COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed'];

  async function canariesView() {
    const box = h('div');
    page(t('canaries'), box);
    const load = async () => {
      const data = await api('GET', '/admin/canaries');
      const list = data.canaries || [];
      box.replaceChildren(...(list.length ? list.map(canaryCard) : [h('p', null, t('noCanaries'))]));
    };
    await load();
    poll(() => load().catch(() => {}), 5000, box);
  }

  function canaryCard(c) {
    const arms = Object.keys(c.arms || {});
    const base = '/admin/canaries/' + encodeURIComponent(c.name) + '/';
    const act = (action) => async () => {
      try {
        await api('POST', base + action);
        flash(t('done', t(action === 'rollback' ? 'rollback' : action)));
      } catch (e) { flash(t('error', e.message), true); }
      route();
    };
    const v = c.verdict || {};
    const bar = h('div', { class: 'weights', role: 'img', 'aria-label': arms.map((a) => a + ' ' + Math.round(c.arms[a].percent) + ' %').join(', ') });
    arms.forEach((a, i) => {
      const p = c.arms[a].percent || 0;
      if (p <= 0) return;
      const seg = h('span', { class: 'w' + i, title: a + ' ' + Math.round(p) + ' %' }, a + ' ' + Math.round(p) + ' %');
      // Widths through the CSS object model: the page's CSP allows no inline style.
      seg.style.flexBasis = p + '%';
      bar.append(seg);
    });
    const rows = arms.map((a, i) => {
      const x = c.arms[a];
      return h('tr', null, h('th', { scope: 'row' }, h('span', { class: 'dot w' + i }), a), h('td', null, String(x.weight)),
        h('td', null, String(x.requests)), h('td', null, String(x.errors)), h('td', null, pct(x.error_rate)),
        h('td', null, ms(x.p50_seconds)), h('td', null, ms(x.p95_seconds)));
    });
    const series = c.series || {};
    const minutes = Math.round((c.window_seconds || 0) / 60);
    return h('section', { class: 'card canary', 'data-canary': c.name },
      h('h2', null, c.name, ' ', h('span', { class: 'badge ' + c.status }, t(c.status))),
      h('p', null, t('verdict'), ': ', h('strong', { class: 'verdict ' + (v.status || '') }, v.status || '—'),
        v.fail_reasons && v.fail_reasons.length ? [' — ', t('reasons'), ': ', v.fail_reasons.join('; ')] : null,
        ' · ', t('window', minutes ? minutes + ' min' : c.window_seconds + ' s')),
      h('h3', null, t('weights')), bar,
      table([t('arm'), t('weight'), t('requests'), t('errors'), t('errorRate'), t('p50'), t('p95')], rows),
      h('div', { class: 'charts' },
        chart(t('latency'), arms.flatMap((a, i) => [
          { color: ARM_COLORS[i % 4], values: (series[a] || []).map((p) => p.requests ? p.p50_seconds : null) },
          { color: ARM_COLORS[i % 4], dashed: true, values: (series[a] || []).map((p) => p.requests ? p.p95_seconds : null) }]), ms, c.window_seconds),
        chart(t('errorChart'), arms.map((a, i) => ({ color: ARM_COLORS[i % 4], values: (series[a] || []).map((p) => p.requests ? p.error_rate : null) })), pct, c.window_seconds)),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', 'data-action': 'promote', onclick: act('promote') }, t('promote')),
        h('button', { type: 'button', class: 'danger', 'data-action': 'rollback', onclick: act('rollback') }, t('rollback')),
        c.status === 'paused'
          ? h('button', { type: 'button', 'data-action': 'resume', onclick: act('resume') }, t('resume'))
          : h('button', { type: 'button', 'data-action': 'pause', onclick: act('pause') }, t('pause'))));
  }

  // chart draws lines over the window (one value per bucket, null: no data)
  // as an SVG with a zero line, the top value and the window's ends.
  function chart(title, lines, fmt, windowSeconds) {
    const W = 320, H = 150, L = 52, R = 8, T = 10, B = 22;
    let max = 0, n = 0;
    for (const l of lines) { n = Math.max(n, l.values.length); for (const v of l.values) if (v !== null && v > max) max = v; }
    if (max === 0) max = 1;
    const x = (i) => L + (n > 1 ? (i * (W - L - R)) / (n - 1) : 0);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const g = [
      s('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'axis' }),
      s('line', { x1: L, x2: W - R, y1: y(max), y2: y(max), class: 'grid' }),
      s('line', { x1: L, x2: W - R, y1: y(max / 2), y2: y(max / 2), class: 'grid' }),
      s('text', { x: L - 4, y: y(max) + 4, 'text-anchor': 'end' }, fmt(max)),
      s('text', { x: L - 4, y: y(max / 2) + 4, 'text-anchor': 'end' }, fmt(max / 2)),
      s('text', { x: L - 4, y: y(0) + 4, 'text-anchor': 'end' }, fmt(0)),
      s('text', { x: L, y: H - 6 }, '−' + Math.round((windowSeconds || 0) / 60) + ' min'),
      s('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, 'now'),
    ];
    for (const l of lines) {
      let d = '';
      let pen = false;
      l.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      });
      // A lone point is drawn as a dot, so a single busy bucket shows.
      l.values.forEach((v, i) => {
        const prev = i > 0 ? l.values[i - 1] : null, next = i + 1 < l.values.length ? l.values[i + 1] : null;
        if (v !== null && prev === null && next === null) g.push(s('circle', { cx: x(i), cy: y(v), r: 2.5, fill: l.color }));
      });
      if (d) g.push(s('path', { d, fill: 'none', stroke: l.color, 'stroke-width': 2, 'stroke-dasharray': l.dashed ? '5 3' : null }));
    }
    return h('figure', { class: 'chart' }, s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title }, g), h('figcaption', null, title));
  }

  // ---------------------------------------------------------------- dead letters

  async function deadLettersView(parts, query) {
    const kind = query.get('kind') || '';
    const tenant = query.get('tenant') || '';
    const params = new URLSearchParams({ limit: '50' });
    if (kind) params.set('kind', kind);
    if (tenant) params.set('tenant', tenant);
    if (query.get('cursor')) params.set('cursor', query.get('cursor'));
    const data = await api('GET', '/admin/dead-letters?' + params);
    const items = data.items || [];
    const boxes = [];
    const rows = items.map((x) => {
      const cb = h('input', { type: 'checkbox', 'aria-label': t('select') + ' ' + x.kind + ' ' + x.id });
      boxes.push([cb, x]);
      return h('tr', null, h('td', null, cb), h('td', null, x.kind), h('td', null, x.tenant), h('td', null, x.guest),
        h('td', null, x.reason), h('td', null, String(x.attempts)), h('td', null, when(x.died_at)), h('td', { class: 'clip' }, x.text || ''));
    });
    const replay = async (body) => {
      try {
        const r = await api('POST', '/admin/dead-letters/replay', body);
        flash(t('replayed', r.replayed));
      } catch (e) { flash(t('error', e.message), true); }
      route();
    };
    const kindSel = h('select', { name: 'kind' }, ['', 'inbox', 'outbox'].map((k) => h('option', { value: k, selected: k === kind }, k || t('all'))));
    const tenantIn = h('input', { name: 'tenant', value: tenant, autocomplete: 'off' });
    const filter = h('form', { class: 'card inline', onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      if (kindSel.value) q.set('kind', kindSel.value);
      if (tenantIn.value.trim()) q.set('tenant', tenantIn.value.trim());
      location.hash = '#/dead-letters?' + q;
    } }, field(t('kind'), kindSel), field(t('hotel'), tenantIn), h('button', { type: 'submit' }, t('filter')));
    const filterBody = kind || tenant ? Object.assign({}, kind ? { kind } : {}, tenant ? { tenant } : {}) : { all: true };
    page(t('deadLetters'), filter,
      table(['', t('kind'), t('hotel'), t('guest'), t('reason'), t('attempts'), t('diedAt'), t('text')], rows),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => replay({ ids: boxes.filter(([cb]) => cb.checked).map(([, x]) => ({ kind: x.kind, id: x.id })) }) }, t('replaySelected')),
        h('button', { type: 'button', class: 'danger', onclick: () => replay(filterBody) }, t('replayAll')),
        data.next_cursor ? h('a', { href: '#/dead-letters?' + new URLSearchParams(Object.assign({}, kind ? { kind } : {}, tenant ? { tenant } : {}, { cursor: data.next_cursor })) }, t('more')) : null));
  }

  // ---------------------------------------------------------------- reception

  async function receptionView(parts, query) {
    const tenant = parts[0];
    if (!tenant) {
      const ids = isAdmin() ? tenantsOf(await api('GET', '/admin/tenants?limit=200')).map((x) => x.tenant_id) : me.tenants;
      if (ids.length === 1) { location.hash = '#/reception/' + encodeURIComponent(ids[0]); return; }
      return page(t('reception'), h('h2', null, t('chooseHotel')), h('ul', { class: 'plain' },
        ids.map((id) => h('li', null, h('a', { href: '#/reception/' + encodeURIComponent(id) }, id)))));
    }
    if (!mayHotel(tenant)) return page(t('reception'), h('p', { class: 'bad', role: 'alert' }, t('notYours')));
    const guest = parts[1];
    const state = query.get('state') || 'waiting';
    const q = query.get('q') || '';
    const base = '/admin/tenants/' + encodeURIComponent(tenant) + '/conversations';
    const link = (g, ch) => '#/reception/' + encodeURIComponent(tenant) + '/' + encodeURIComponent(g) +
      '?' + new URLSearchParams({ channel: ch || 'whatsapp', state, q });

    const list = h('ol', { class: 'convs', 'aria-live': 'polite' });
    const search = h('input', { type: 'search', name: 'q', value: q, 'aria-label': t('search'), placeholder: t('search') });
    const tabs = h('div', { class: 'tabs', role: 'group' }, [['waiting', 'waiting'], ['active', 'activeConv'], ['closed', 'closed']].map(([st, key]) =>
      h('a', { href: '#/reception/' + encodeURIComponent(tenant) + '?' + new URLSearchParams({ state: st }), 'aria-current': st === state ? 'true' : null }, t(key))));
    const side = h('aside', { class: 'card' },
      h('form', { role: 'search', onsubmit: (ev) => {
        ev.preventDefault();
        location.hash = '#/reception/' + encodeURIComponent(tenant) + '?' + new URLSearchParams({ state, q: search.value.trim() });
      } }, search), tabs, list);
    const pane = h('div', { class: 'pane' }, guest ? h('p', null, t('loading')) : h('p', { class: 'hint' }, t('pick')));
    page(t('reception') + ' · ' + tenant, h('div', { class: 'reception' }, side, pane));

    const loadList = async () => {
      const p = new URLSearchParams({ limit: '50' });
      if (q) p.set('q', q); else p.set('state', state);
      const data = await api('GET', base + '?' + p);
      const items = data.items || [];
      list.replaceChildren(...(items.length ? items.map((c) => h('li', { 'data-guest': c.guest, class: c.guest === guest ? 'current' : null },
        h('a', { href: link(c.guest, c.channel) },
          h('strong', null, c.name || c.guest), ' ', h('span', { class: 'hint' }, c.name ? c.guest : ''),
          c.state === 'waiting' && c.waiting_since ? h('span', { class: 'wait' }, t('waitedFor', ago(c.waiting_since))) : h('span', { class: 'hint' }, ago(c.last_message_at)),
          h('span', { class: 'last' }, c.last_text || ''), c.booking_ref ? h('span', { class: 'badge' }, c.booking_ref) : null)))
        : [h('li', { class: 'hint' }, state === 'waiting' && !q ? t('noneWaiting') : t('none'))]));
    };
    let loadConv = async () => {};
    if (guest) loadConv = await conversationPane(pane, base + '/' + encodeURIComponent(guest), query.get('channel') || 'whatsapp');
    await loadList();
    poll(() => { loadList().catch(() => {}); loadConv().catch(() => {}); }, 3000, list);
  }

  const TICKS = { queued: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '✗' };

  async function conversationPane(pane, path, channel) {
    const qs = '?channel=' + encodeURIComponent(channel);
    const msgs = h('ol', { class: 'msgs' });
    const head = h('div');
    const booking = h('div');
    const text = h('textarea', { name: 'reply', rows: 3, required: true, 'aria-label': t('reply') });
    let lastCount = -1;
    const load = async () => {
      const c = await api('GET', path + qs);
      head.replaceChildren(h('h2', null, c.name || c.guest, ' ', h('span', { class: 'badge ' + c.state }, t(c.state + 'State'))),
        h('p', { class: 'hint' }, c.guest, ' · ', c.channel, c.waiting_since ? [' · ', t('waitedFor', ago(c.waiting_since))] : null));
      booking.replaceChildren(...(c.booking && Object.keys(c.booking).length ? [h('details', { open: true }, h('summary', null, t('booking')),
        h('dl', null, Object.entries(c.booking).map(([k, v]) => [h('dt', null, k.replace(/_/g, ' ')), h('dd', null, typeof v === 'object' ? JSON.stringify(v) : String(v))])))] : []));
      const all = c.messages || [];
      msgs.replaceChildren(...all.map((m) => h('li', { class: 'msg ' + m.direction + (m.staff ? ' staff' : ''), 'data-id': m.id },
        h('p', null, m.text),
        h('span', { class: 'meta' }, when(m.at), m.staff ? ' · ' + t('sentAsStaff') : '',
          m.direction === 'out' && m.status ? h('span', { class: 'tick ' + m.status, title: t(m.status), 'aria-label': t(m.status) }, ' ' + (TICKS[m.status] || '')) : null,
          m.error ? h('span', { class: 'bad' }, ' ' + m.error) : null))));
      if (all.length !== lastCount) { msgs.scrollTop = msgs.scrollHeight; lastCount = all.length; }
    };
    const post = (action, body, done) => async () => {
      try {
        await api('POST', path + '/' + action + qs, body);
        if (done) flash(done);
        await load();
      } catch (e) { flash(t('error', e.message), true); }
    };
    const form = h('form', { class: 'replybox', onsubmit: async (ev) => {
      ev.preventDefault();
      const v = text.value.trim();
      if (!v) return;
      await post('reply', { text: v })();
      text.value = '';
    } }, text, h('button', { type: 'submit' }, t('send')));
    pane.replaceChildren(h('section', { class: 'card conv' }, head, booking, msgs, form,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', 'data-action': 'resume', onclick: post('resume', undefined, t('given')) }, t('giveBack')),
        h('button', { type: 'button', class: 'danger', 'data-action': 'close', onclick: post('close', undefined, t('closedMsg')) }, t('close')))));
    await load();
    return load;
  }

  // ---------------------------------------------------------------- start

  $lang.addEventListener('change', () => {
    lang = TEXT[$lang.value] ? $lang.value : 'en';
    localStorage.setItem('agente.lang', lang);
    route();
  });
  $logout.addEventListener('click', () => signOut());
  window.addEventListener('hashchange', route);
  route();
})();
