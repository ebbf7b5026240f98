// Marquee support chat: the customer widget on every page, the agent's
// conversation view and the live inbox. Live events come over SSE; after a
// (re)connect or a `resync` event the client refetches by message id and
// drops ids it has already shown, so nothing is lost or doubled.
// All text is inserted with textContent: never as HTML.
(function () {
  'use strict';
  if (window.marqueeSupportLoaded) return;
  window.marqueeSupportLoaded = true;

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || '';
    } catch (e) {
      return '';
    }
  }

  async function api(method, path, body) {
    const opts = { method: method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf() } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    let data = null;
    if (r.status !== 204) {
      try { data = await r.json(); } catch (e) { data = null; }
    }
    return { ok: r.ok, status: r.status, data: data };
  }

  function errText(res) {
    return (res.data && res.data.error && res.data.error.message) || ('Request failed (' + res.status + ')');
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    const p = function (n) { return (n < 10 ? '0' : '') + n; };
    return h > 0 ? h + ':' + p(m) + ':' + p(r) : m + ':' + p(r);
  }

  function when(ms) {
    return new Date(ms).toLocaleString();
  }

  function messageNode(m, staff) {
    const cls = 'chat-msg ' + m.author_kind + (m.internal ? ' internal' : '');
    const d = el('div', { 'class': cls, 'data-id': String(m.id) });
    d.appendChild(el('span', { 'class': 'who' }, m.author_name + (m.internal ? ' · internal note' : '') + ' · ' + when(m.created_at)));
    if (staff && m.watch) {
      const w = m.watch;
      d.appendChild(el('span', { 'class': 'watch' },
        (w.live ? 'Watching ' : 'Had been watching ') + w.title + ' on ' + w.device + ' (' + w.device_kind + ') at ' +
        clock(w.position_ms) + ' of ' + clock(w.duration_ms)));
    }
    d.appendChild(document.createTextNode(m.body));
    const files = attachmentsNode(m.attachments);
    if (files) d.appendChild(files);
    return d;
  }

  // Attachments: images as thumbnails linking to the full image, PDFs as a
  // download link with the size. Only the server's own download URLs are used.
  function attachmentsNode(list) {
    if (!list || !list.length) return null;
    const box = el('span', { 'class': 'attachments' });
    list.forEach(function (a) {
      const url = '/api/v1/support/attachments/' + Number(a.id);
      if (a.image) {
        const link = el('a', { 'class': 'attachment image', href: url, target: '_blank', rel: 'noopener', 'data-attachment': String(Number(a.id)) });
        const img = el('img', { src: url, alt: a.file_name, loading: 'lazy' });
        img.style.cssText = 'display:block;max-width:min(100%,240px);max-height:240px;border-radius:6px;';
        link.appendChild(img);
        box.appendChild(link);
      } else {
        box.appendChild(el('a', { 'class': 'attachment file', href: url, download: '', 'data-attachment': String(Number(a.id)) }, a.file_name));
        box.appendChild(el('span', { 'class': 'muted' }, ' (' + a.size + ')'));
      }
    });
    return box;
  }

  // Sends a file (and the typed text, if any) as one message: multipart,
  // with the session's CSRF token in the header like every API write.
  async function upload(conversationId, file, body, internal) {
    const fd = new FormData();
    fd.append('file', file, file.name);
    if (body && body.trim()) fd.append('body', body);
    if (internal) fd.append('internal', 'true');
    const r = await fetch('/api/v1/support/conversations/' + Number(conversationId) + '/attachments', {
      method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf() }, body: fd
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { ok: r.ok, status: r.status, data: data };
  }

  // ---- The customer widget -------------------------------------------------
  function widget(root) {
    const S = { conv: null, lastId: 0, seen: new Set(), typingTimer: null, lastTyping: 0 };
    const open = el('button', { type: 'button', id: 'support-open' }, 'Help');
    const panel = el('div', { id: 'support-panel', role: 'dialog', 'aria-label': 'Support chat' });
    panel.style.display = 'none'; // the look is app.css's (#support-panel); a sheet on phones
    const head = el('div', {}, '');
    head.style.cssText = 'display:flex;justify-content:space-between;align-items:center;';
    head.appendChild(el('strong', {}, 'Marquee Support'));
    const close = el('button', { type: 'button', id: 'support-close', 'class': 'secondary', 'aria-label': 'Close' }, '×');
    head.appendChild(close);
    const status = el('div', { id: 'support-status', 'class': 'muted' }, '');
    const log = el('div', { id: 'support-log', 'class': 'chat-log' });
    const typing = el('div', { id: 'support-typing', 'class': 'muted' }, '');
    const seen = el('div', { id: 'support-seen', 'class': 'muted' }, '');
    const csat = el('div', { id: 'support-csat', role: 'status' });
    csat.style.display = 'none';
    const form = el('form', { id: 'support-form' });
    const input = el('textarea', { id: 'support-input', rows: '2', maxlength: '4000', placeholder: 'Type your message…', 'aria-label': 'Message' });
    input.style.cssText = 'width:100%;box-sizing:border-box;';
    const send = el('button', { type: 'submit', id: 'support-send' }, 'Send');
    form.appendChild(input);
    const file = el('input', { type: 'file', id: 'support-file', accept: 'image/png,image/jpeg,image/gif,image/webp,application/pdf', 'aria-label': 'Attach an image or a PDF' });
    file.style.cssText = 'max-width:100%;font-size:.8rem;';
    form.appendChild(file);
    form.appendChild(send);
    const error = el('div', { id: 'support-error', 'class': 'error' }, '');
    error.style.display = 'none';
    const links = el('div', { 'class': 'muted' });
    const transcript = el('a', { id: 'support-transcript', href: '/support' }, 'Transcript');
    const fresh = el('a', { id: 'support-new', href: '#' }, 'New conversation');
    links.appendChild(transcript);
    links.appendChild(document.createTextNode(' · '));
    links.appendChild(fresh);
    [head, status, log, typing, seen, csat, form, error, links].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(panel);
    root.appendChild(open);
    root.hidden = false;

    function isOpen() { return panel.style.display !== 'none'; }
    function setOpen(v) {
      panel.style.display = v ? 'flex' : 'none';
      root.classList.toggle('open', v);
      open.style.display = v ? 'none' : '';
      try { localStorage.setItem('marquee-support-open', v ? '1' : '0'); } catch (e) { /* private mode */ }
      if (v) { markRead(); input.focus(); }
    }
    function showError(t) { error.textContent = t; error.style.display = t ? '' : 'none'; }

    function add(m) {
      if (S.seen.has(m.id)) return;
      S.seen.add(m.id);
      S.lastId = Math.max(S.lastId, m.id);
      log.appendChild(messageNode(m, false));
      log.scrollTop = log.scrollHeight;
      if (m.author_kind === 'agent') { typing.textContent = ''; }
    }

    function renderConv() {
      const c = S.conv;
      if (!c) {
        status.textContent = 'Ask us anything: we usually answer within minutes.';
        transcript.href = '/support';
        seen.textContent = '';
        csat.style.display = 'none';
        return;
      }
      status.textContent = 'Conversation #' + c.id + ' · ' + c.status + (c.agent_name ? ' · with ' + c.agent_name : '');
      transcript.href = '/support/conversations/' + c.id + '/transcript';
      const mine = Array.prototype.filter.call(log.children, function (n) { return n.classList.contains('customer'); });
      const last = mine.length ? Number(mine[mine.length - 1].getAttribute('data-id')) : 0;
      seen.textContent = last && c.agent_read_id >= last ? 'Seen by support' : '';
      renderCsat(c);
    }

    function renderCsat(c) {
      if (!c.csat_due) {
        // Rated in this page: the thanks stays until the conversation changes.
        if (S.thanked && S.thanked.id === c.id) { csat.textContent = S.thanked.text; csat.style.display = ''; return; }
        csat.style.display = 'none'; csat.textContent = ''; return;
      }
      if (csat.style.display !== 'none') return;
      csat.textContent = '';
      csat.appendChild(el('p', {}, 'Resolved. How did we do?'));
      const comment = el('input', { id: 'support-csat-comment', maxlength: '2000', placeholder: 'Comment (optional)' });
      for (let s = 1; s <= 5; s++) {
        const b = el('button', { type: 'button', 'class': 'secondary csat-score', 'data-score': String(s) }, String(s));
        b.addEventListener('click', async function () {
          const r = await api('POST', '/api/v1/support/conversations/' + c.id + '/csat', { score: s, comment: comment.value });
          if (r.ok) {
            S.thanked = { id: c.id, text: 'Thank you! You rated this conversation ' + s + ' of 5.' };
            csat.textContent = S.thanked.text;
            S.conv.csat_due = false;
          } else { showError(errText(r)); }
        });
        csat.appendChild(b);
      }
      csat.appendChild(comment);
      csat.style.display = '';
    }

    async function markRead() {
      if (!S.conv || !isOpen() || S.lastId <= S.conv.customer_read_id) return;
      S.conv.customer_read_id = S.lastId;
      await api('POST', '/api/v1/support/conversations/' + S.conv.id + '/read', { message_id: S.lastId });
    }

    async function load() {
      const r = await api('GET', '/api/v1/support/conversations');
      if (!r.ok) return;
      S.conv = r.data.length ? r.data[0] : null;
      await resync();
    }

    async function resync() {
      if (!S.conv) { renderConv(); return; }
      const d = await api('GET', '/api/v1/support/conversations/' + S.conv.id);
      if (!d.ok) return;
      S.conv = d.data.conversation;
      d.data.messages.forEach(add);
      renderConv();
      markRead();
    }

    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      const body = input.value;
      const picked = file.files && file.files[0];
      if (!body.trim() && !picked) return;
      send.disabled = true;
      showError('');
      let r;
      if (picked && S.conv && !(S.conv.status === 'resolved' && S.fresh)) {
        r = await upload(S.conv.id, picked, body, false);
        if (r.ok) { add(r.data.message); file.value = ''; }
      } else if (picked && !body.trim()) {
        r = { ok: false, status: 400, data: { error: { message: 'Write a first message, then attach the file.' } } };
      } else if (!S.conv || S.conv.status === 'resolved' && S.fresh) {
        r = await api('POST', '/api/v1/support/conversations', { body: body });
        if (r.ok) { S.fresh = false; S.conv = r.data.conversation; if (r.data.message) add(r.data.message); renderConv(); }
      } else {
        r = await api('POST', '/api/v1/support/conversations/' + S.conv.id + '/messages', { body: body });
        if (r.ok) add(r.data);
      }
      send.disabled = false;
      if (r.ok) { input.value = ''; } else { showError(errText(r)); }
    });
    input.addEventListener('input', function () {
      if (!S.conv || Date.now() - S.lastTyping < 3000) return;
      S.lastTyping = Date.now();
      api('POST', '/api/v1/support/conversations/' + S.conv.id + '/typing', { typing: true });
    });
    fresh.addEventListener('click', function (ev) {
      ev.preventDefault();
      S.conv = null; S.fresh = true; S.seen.clear(); S.lastId = 0; log.textContent = '';
      renderConv();
    });
    open.addEventListener('click', function () { setOpen(true); });
    close.addEventListener('click', function () { setOpen(false); });

    const es = new EventSource('/api/v1/support/events');
    es.addEventListener('ready', function () { load(); });
    es.addEventListener('resync', function () { resync(); });
    es.addEventListener('message', function (ev) {
      const m = JSON.parse(ev.data);
      if (!S.conv || S.conv.id !== m.conversation_id) {
        if (S.fresh) return;
        load();
        return;
      }
      add(m);
      renderConv();
      markRead();
    });
    es.addEventListener('conversation', function (ev) {
      const c = JSON.parse(ev.data);
      if (S.conv && S.conv.id === c.id) { S.conv = c; renderConv(); }
    });
    es.addEventListener('typing', function (ev) {
      const t = JSON.parse(ev.data);
      if (!S.conv || S.conv.id !== t.conversation_id || t.side !== 'agent') return;
      typing.textContent = t.typing ? t.name + ' from Support is typing…' : '';
      clearTimeout(S.typingTimer);
      S.typingTimer = setTimeout(function () { typing.textContent = ''; }, 6000);
    });
    let wasOpen = false;
    try { wasOpen = localStorage.getItem('marquee-support-open') === '1'; } catch (e) { /* private mode */ }
    setOpen(wasOpen);
  }

  // ---- The agent's conversation view --------------------------------------
  function agentView(log) {
    const id = Number(log.getAttribute('data-conversation'));
    const S = { lastId: Number(log.getAttribute('data-last')) || 0, seen: new Set(), timer: null, lastTyping: 0, lastAgent: 0 };
    Array.prototype.forEach.call(log.children, function (n) {
      const mid = Number(n.getAttribute('data-id'));
      S.seen.add(mid);
      if (n.classList.contains('agent') && !n.classList.contains('internal')) S.lastAgent = Math.max(S.lastAgent, mid);
    });
    const typing = document.getElementById('customer-typing');
    const seenEl = document.getElementById('agent-seen');
    const form = document.getElementById('agent-reply');
    const body = document.getElementById('reply-body');
    const internal = document.getElementById('reply-internal');
    const error = document.getElementById('reply-error');

    function add(m) {
      if (S.seen.has(m.id)) return;
      S.seen.add(m.id);
      S.lastId = Math.max(S.lastId, m.id);
      if (m.author_kind === 'agent' && !m.internal) S.lastAgent = Math.max(S.lastAgent, m.id);
      log.appendChild(messageNode(m, true));
      if (m.author_kind === 'customer') { typing.hidden = true; }
      window.scrollTo(0, document.body.scrollHeight);
    }
    async function read() {
      if (S.lastId) await api('POST', '/api/v1/support/conversations/' + id + '/read', { message_id: S.lastId });
    }
    async function resync() {
      const r = await api('GET', '/api/v1/support/conversations/' + id + '/messages?after=' + S.lastId + '&limit=500');
      if (r.ok) r.data.forEach(add);
      read();
    }
    form.addEventListener('submit', async function (ev) {
      ev.preventDefault();
      error.hidden = true;
      const r = await api('POST', '/api/v1/staff/support/conversations/' + id + '/messages', { body: body.value, internal: internal.checked });
      if (r.ok) { add(r.data); body.value = ''; internal.checked = false; } else { error.textContent = errText(r); error.hidden = false; }
    });
    cannedMenu(body);
    body.addEventListener('input', function () {
      if (internal.checked || Date.now() - S.lastTyping < 3000) return;
      S.lastTyping = Date.now();
      api('POST', '/api/v1/support/conversations/' + id + '/typing', { typing: true });
    });
    const es = new EventSource('/api/v1/staff/support/events');
    es.addEventListener('ready', resync);
    es.addEventListener('resync', resync);
    es.addEventListener('message', function (ev) {
      const m = JSON.parse(ev.data);
      if (m.conversation_id !== id) return;
      add(m);
      read();
    });
    es.addEventListener('conversation', function (ev) {
      const c = JSON.parse(ev.data);
      if (c.id !== id) return;
      const st = document.getElementById('conv-status');
      if (st) st.textContent = c.status;
      seenEl.textContent = S.lastAgent && c.customer_read_id >= S.lastAgent ? 'Seen by the customer' : '';
    });
    es.addEventListener('typing', function (ev) {
      const t = JSON.parse(ev.data);
      if (t.conversation_id !== id || t.side !== 'customer') return;
      typing.textContent = t.name + ' is typing…';
      typing.hidden = !t.typing;
      clearTimeout(S.timer);
      S.timer = setTimeout(function () { typing.hidden = true; }, 6000);
    });
  }

  // ---- Canned answers in the composer ----------------------------------------
  // Typing "/" and a few letters at the start of a word lists the canned
  // answers whose short code or text match; ↑/↓ choose, Enter or Tab puts
  // the answer in place of the "/…" typed, Esc closes. A combobox in ARIA
  // terms: the textarea owns the listbox and names the active option.
  function cannedMenu(box) {
    const data = document.getElementById('canned-data');
    const menu = document.getElementById('canned-menu');
    if (!data || !menu) return;
    const all = Array.prototype.map.call(data.content.querySelectorAll('li'), function (li) {
      return { code: li.getAttribute('data-code'), body: li.getAttribute('data-body'), html: li.innerHTML };
    });
    let shown = [];
    let active = 0;
    let start = -1;
    function close() {
      menu.hidden = true;
      box.removeAttribute('aria-activedescendant');
      shown = [];
    }
    function paint() {
      menu.innerHTML = '';
      shown.forEach(function (c, i) {
        const li = document.createElement('li');
        li.id = 'canned-opt-' + i;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', i === active ? 'true' : 'false');
        li.innerHTML = c.html;
        li.addEventListener('mousedown', function (e) { e.preventDefault(); active = i; pick(); });
        menu.appendChild(li);
      });
      menu.hidden = shown.length === 0;
      if (shown.length) box.setAttribute('aria-activedescendant', 'canned-opt-' + active);
    }
    function pick() {
      const c = shown[active];
      if (!c || start < 0) return close();
      const end = box.selectionStart;
      box.value = box.value.slice(0, start) + c.body + box.value.slice(end);
      const at = start + c.body.length;
      box.setSelectionRange(at, at);
      close();
      box.dispatchEvent(new Event('input', { bubbles: true }));
    }
    box.addEventListener('input', function () {
      const upto = box.value.slice(0, box.selectionStart);
      const m = /(^|\s)\/([\w-]*)$/.exec(upto);
      if (!m) return close();
      start = upto.length - m[2].length - 1;
      const q = m[2].toLowerCase();
      shown = all.filter(function (c) {
        return c.code.toLowerCase().indexOf(q) === 0 || (q.length > 1 && c.body.toLowerCase().indexOf(q) >= 0);
      }).slice(0, 8);
      active = 0;
      paint();
    });
    box.addEventListener('keydown', function (e) {
      if (menu.hidden) return;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        active = (active + (e.key === 'ArrowDown' ? 1 : shown.length - 1)) % shown.length;
        paint();
      } else if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        pick();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        close();
      }
    });
    box.addEventListener('blur', function () { setTimeout(close, 150); });
  }

  // ---- The live inbox -------------------------------------------------------
  function inbox() {
    let t = null;
    const es = new EventSource('/api/v1/staff/support/events');
    function changed() {
      clearTimeout(t);
      t = setTimeout(function () { document.body.dispatchEvent(new Event('support-changed')); }, 250);
    }
    es.addEventListener('message', changed);
    es.addEventListener('conversation', changed);
    es.addEventListener('resync', changed);
  }

  function start() {
    const w = document.getElementById('support-widget');
    if (w) widget(w);
    const log = document.getElementById('agent-log');
    if (log) agentView(log);
    if (document.getElementById('support-inbox')) inbox();
    const p = document.getElementById('print-transcript');
    if (p) p.addEventListener('click', function () { window.print(); });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
