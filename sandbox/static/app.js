// Pinpoint sandbox: a small chat client for the project's Bot API emulator.
// No framework, no build step. Live updates arrive over Server-Sent Events
// (/api/chats/{chat}/events); actions are POSTs to /api/chats/{chat}/...
(() => {
  'use strict';

  const $ = (selector, root = document) => root.querySelector(selector);
  const state = {
    info: null,        // /api/people: bot, people, places, commands, sticker, demo
    person: null,      // who this tab is
    chat: null,        // {id, title, type}
    source: null,      // the EventSource of the open chat
    keyboardKey: '',   // the reply keyboard shown (JSON), to notice changes
    keyboard: null,
    keyboardHidden: false,
    locationMode: 'pin',
    pinned: true,      // the list is scrolled to its end: keep it there as content grows
    replyTo: null,     // {id, name, text}: the message the next text answers
    webApp: null,      // the label of the keyboard button whose Mini App is open
  };

  // -- helpers -----------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  async function api(path, options = {}) {
    const response = await fetch(path, options);
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
    return body;
  }

  function post(path, data) {
    return api(path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data),
    });
  }

  function chatPath(suffix = '') {
    return `/api/chats/${state.chat.id}${suffix}`;
  }

  function fileUrl(fileId, download = false) {
    const query = `?user=${state.person.id}${download ? '&download=1' : ''}`;
    return `${chatPath(`/files/${encodeURIComponent(fileId)}`)}${query}`;
  }

  function clock(seconds) {
    const date = new Date(seconds * 1000);
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function size(bytes) {
    if (!bytes) return '';
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  let toastTimer = 0;
  function toast(text, ms = 3500) {
    const box = $('#toast');
    box.textContent = text;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, ms);
  }

  function showAlert(text) {
    $('#alert-text').textContent = text;
    $('#alert-sheet').showModal();
  }

  async function act(work) {
    try { return await work(); } catch (error) { toast(error.message || String(error)); }
    return null;
  }

  // -- the person picker ---------------------------------------------------------------

  function chatLink(person, chat) {
    return `#user=${person.id}&chat=${chat.id}`;
  }

  function chatLabel(chat) {
    return chat.type === 'private' ? `Chat with ${state.info.bot.name}` : `${chat.title} (group)`;
  }

  function showPicker() {
    closeChat();
    document.title = 'Pinpoint sandbox';
    const list = $('#people');
    list.replaceChildren(...state.info.people.map((person) => el('li', { class: 'person' },
      el('div', { class: 'avatar', 'aria-hidden': 'true' }, person.first_name[0]),
      el('div', { class: 'about' },
        el('strong', {}, person.name, ' ', el('span', { class: `role ${person.role}` }, person.role)),
        el('p', {}, person.about),
        languageSelect(person),
        el('div', { class: 'links' }, person.chats.map((chat) => el('a', {
          class: 'button', href: chatLink(person, chat), 'data-person': person.id,
        }, chatLabel(chat))))))));
    $('#chat').hidden = true;
    $('#picker').hidden = false;
  }

  function languageSelect(person) {
    // Switching sends /language in the person's chat with the bot and presses the choice.
    const current = (person.language || 'en').split('-')[0];
    const select = el('select', { 'aria-label': `${person.first_name}'s language` },
      ...state.info.languages.map((l) => el('option', { value: l.code }, l.name)));
    select.value = current;
    select.addEventListener('change', async () => {
      const done = await act(() => post(`/api/people/${person.id}/language`, { language: select.value }));
      if (done) { person.language = select.value; toast(`${person.first_name} now reads ${select.selectedOptions[0].textContent}.`); }
      else select.value = person.language || current;
    });
    return el('label', { class: 'language' }, 'Language ', select);
  }

  // -- the chat ------------------------------------------------------------------------

  function route() {
    const params = new URLSearchParams(location.hash.slice(1));
    const person = state.info.people.find((p) => String(p.id) === params.get('user'));
    if (!person) { showPicker(); return; }
    const chat = person.chats.find((c) => String(c.id) === params.get('chat')) || person.chats[0];
    openChat(person, chat);
  }

  function closeChat() {
    if (state.source) state.source.close();
    state.source = null;
  }

  function openChat(person, chat) {
    closeChat();
    state.person = person;
    state.chat = chat;
    state.keyboardKey = '';
    state.keyboard = null;
    setReplyTo(null);
    const title = chat.type === 'private' ? state.info.bot.name : chat.title;
    document.title = `${person.first_name} · ${title} — Pinpoint sandbox`;
    $('#chat-title').textContent = title;
    $('#avatar').textContent = title[0];
    setSubtitle();
    const others = person.chats.filter((c) => c.id !== chat.id);
    const other = $('#switch-chat');
    other.hidden = !others.length;
    if (others.length) {
      other.href = chatLink(person, others[0]);
      other.title = `Switch to: ${chatLabel(others[0])}`;
      other.setAttribute('aria-label', other.title);
    }
    $('#commands').hidden = chat.type !== 'private';
    $('#messages').replaceChildren();
    $('#messages').dataset.empty = chat.type === 'private'
      ? `Nothing here yet. Send /start${person.role === 'installer' ? ', or /new to start a job' : ''}.`
      : 'Nothing here yet. Submitted jobs arrive here: press Verify or Reject on them.';
    renderKeyboard(null);
    $('#picker').hidden = true;
    $('#chat').hidden = false;
    connect();
  }

  function setSubtitle(extra) {
    const you = `you are ${state.person.name} (${state.person.role})`;
    $('#chat-sub').textContent = extra ? `${extra} · ${you}` : you;
  }

  function connect() {
    const source = new EventSource(`${chatPath('/events')}?user=${state.person.id}`);
    state.source = source;
    source.onmessage = (event) => handle(JSON.parse(event.data));
    source.onopen = () => { document.body.dataset.live = '1'; setSubtitle(); };
    source.onerror = () => { document.body.dataset.live = ''; setSubtitle('reconnecting…'); };
  }

  function handle(event) {
    if (event.type === 'chat') {
      const list = $('#messages');
      list.replaceChildren();
      for (const message of event.chat.messages) upsert(message, false);
      const last = event.chat.messages[event.chat.messages.length - 1];
      setReplyTo(last && asksMe(last) ? last : null);
      setKeyboard(event.chat.keyboard);
      scrollToEnd();
      document.body.dataset.ready = '1';
    } else if (event.type === 'message') {
      const stick = state.pinned || event.message.from.id === state.person.id;
      upsert(event.message, true);
      if (event.message.from.is_bot) {
        setKeyboard(event.keyboard);
        if (asksMe(event.message)) setReplyTo(event.message);
      }
      if (stick) scrollToEnd();
    }
  }

  function asksMe(m) {
    const ask = m.force_reply;
    return Boolean(ask) && (!ask.selective || ask.users.includes(state.person.id));
  }

  function setReplyTo(m) {
    state.replyTo = m ? { id: m.id, name: m.from.name, text: plainText(m) } : null;
    const bar = $('#replying');
    bar.hidden = !state.replyTo;
    if (state.replyTo) {
      $('#replying-text').textContent = `${state.replyTo.name}: ${state.replyTo.text}`;
      $('#text').focus();
    }
  }

  function plainText(m) {
    const box = document.createElement('div');
    box.innerHTML = m.html || '';
    const text = box.textContent || (m.photo ? 'photo' : m.location ? 'location' : '…');
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  }

  function nearEnd() {
    const list = $('#messages');
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToEnd() {
    const list = $('#messages');
    list.scrollTop = list.scrollHeight;
    state.pinned = true;
  }

  function keepPinned() {
    if (state.pinned) scrollToEnd();
  }

  // -- messages ------------------------------------------------------------------------

  function upsert(message, live) {
    const list = $('#messages');
    const old = list.querySelector(`[data-id="${message.id}"]`);
    const node = renderMessage(message);
    if (live && !old) node.classList.add('new');
    if (old) { old.replaceWith(node); return; }
    if (message.album) {
      const last = list.lastElementChild;
      if (last && last.classList.contains('album') && last.dataset.album === message.album) {
        last.append(node);
        return;
      }
      const album = el('div', { class: `album ${node.classList.contains('out') ? 'out' : 'in'}`, 'data-album': message.album });
      album.append(node);
      list.append(album);
      return;
    }
    list.append(node);
  }

  function renderMessage(m) {
    const mine = m.from.id === state.person.id;
    const node = el('div', { class: `msg ${mine ? 'out' : 'in'}`, 'data-id': m.id });
    const group = state.chat.type !== 'private';
    if (!mine && group) node.append(el('div', { class: 'sender' }, m.from.name));
    if (m.reply_to) {
      node.append(el('div', { class: 'quote' }, el('strong', {}, m.reply_to.name), m.reply_to.text));
    }
    if (m.photo) node.append(photoNode(m.photo));
    if (m.document) node.append(documentNode(m.document));
    if (m.location) node.append(locationNode(m.location, m.venue));
    if (m.other) node.append(el('div', { class: 'other' }, `[${m.other}]`));
    if (m.web_app_data) {
      node.append(el('div', { class: 'other' },
        `Data from the “${m.web_app_data.button_text}” button was transferred to the bot.`));
    }
    if (m.html) {
      const text = el('div', { class: 'text' });
      text.innerHTML = m.html;  // built and escaped by the server (sandbox/views.py)
      node.append(text);
    }
    node.append(el('div', { class: 'meta' },
      group ? el('button', { type: 'button', class: 'reply', onclick: () => setReplyTo(m) }, 'Reply') : null,
      m.edited ? 'edited ' : '', clock(m.date)));
    if (m.buttons && m.buttons.length) node.append(inlineKeyboard(m));
    return node;
  }

  function photoNode(photo) {
    const image = el('img', { src: fileUrl(photo.preview_id), alt: 'photo', onload: keepPinned });
    if (photo.width && photo.height) image.style.aspectRatio = `${photo.width} / ${photo.height}`;
    return el('a', { class: 'photo', href: fileUrl(photo.file_id), target: '_blank', rel: 'noopener' },
      image);
  }

  function documentNode(doc) {
    const isImage = (doc.mime_type || '').startsWith('image/');
    return el('a', { class: 'document', href: fileUrl(doc.file_id, true), download: doc.name },
      doc.thumb_id && isImage
        ? el('img', { src: fileUrl(doc.thumb_id), alt: '', class: 'thumb', onload: keepPinned })
        : el('span', { class: 'doc-icon', 'aria-hidden': 'true' }, '📄'),
      el('span', { class: 'doc-name' }, doc.name, el('small', {}, size(doc.size))));
  }

  function locationNode(loc, venue) {
    const lat = Number(loc.latitude).toFixed(6);
    const lon = Number(loc.longitude).toFixed(6);
    const accuracy = loc.horizontal_accuracy ? ` ±${Math.round(loc.horizontal_accuracy)} m` : '';
    const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=18/${lat}/${lon}`;
    return el('div', { class: 'location' },
      el('span', { class: 'pin', 'aria-hidden': 'true' }, '📍'),
      el('span', {},
        venue ? el('strong', {}, venue.title) : null,
        venue ? el('small', {}, venue.address) : null,
        el('span', { class: 'coords' }, `${lat}, ${lon}${accuracy}`),
        loc.live_period ? el('small', {}, 'live location') : null,
        el('a', { href: map, target: '_blank', rel: 'noopener' }, 'map ↗')));
  }

  function inlineKeyboard(m) {
    return el('div', { class: 'inline-keyboard' }, m.buttons.map((row) => el('div', { class: 'row' },
      row.map((button) => {
        if (button.url) {
          return el('a', { class: 'ib', href: button.url, target: '_blank', rel: 'noopener' }, `${button.text} ↗`);
        }
        if (button.copy_text) {
          return el('button', {
            type: 'button', class: 'ib',
            onclick: () => navigator.clipboard && navigator.clipboard.writeText(button.copy_text.text)
              .then(() => toast('Copied')),
          }, button.text);
        }
        return el('button', {
          type: 'button', class: 'ib', 'data-data': button.callback_data,
          onclick: (event) => press(m, button, event.currentTarget),
        }, button.text);
      }))));
  }

  async function press(m, button, node) {
    node.disabled = true;
    node.classList.add('busy');
    const answer = await act(() => post(chatPath('/press'), {
      user: state.person.id, message_id: m.id, data: button.callback_data,
    }));
    node.disabled = false;
    node.classList.remove('busy');
    if (answer && answer.text) {
      if (answer.show_alert) showAlert(answer.text); else toast(answer.text);
    } else if (answer && !answer.answered) {
      toast(`${state.info.bot.name} did not answer the button.`);
    }
  }

  // -- the reply keyboard ----------------------------------------------------------------

  function setKeyboard(keyboard) {
    const key = JSON.stringify(keyboard || null);
    if (key === state.keyboardKey) return;
    state.keyboardKey = key;
    state.keyboardHidden = false;
    renderKeyboard(keyboard);
  }

  function renderKeyboard(keyboard) {
    state.keyboard = keyboard;
    const box = $('#reply-keyboard');
    const shown = Boolean(keyboard) && !state.keyboardHidden;
    box.hidden = !shown;
    $('#keyboard-toggle').hidden = !keyboard;
    $('#keyboard-toggle').classList.toggle('on', shown);
    $('#text').placeholder = (keyboard && keyboard.placeholder) || 'Message';
    if (!keyboard) { box.replaceChildren(); return; }
    box.replaceChildren(...keyboard.rows.map((row) => el('div', { class: 'row' },
      row.map((button) => el('button', {
        type: 'button', class: 'rk', onclick: () => replyButton(button),
        'data-request': button.request_location ? 'location'
          : (button.request_contact ? 'contact' : (button.web_app ? 'web_app' : null)),
      }, button.text)))));
  }

  function usedKeyboard() {
    if (state.keyboard && state.keyboard.one_time) {
      state.keyboardHidden = true;
      renderKeyboard(state.keyboard);
    }
  }

  function replyButton(button) {
    if (button.request_location) { openLocation('gps'); return; }
    if (button.request_contact) { toast('Sharing a contact is not part of the sandbox.'); return; }
    if (button.web_app) { openWebApp(button); return; }
    sendText(button.text).then(usedKeyboard);
  }

  // -- Mini Apps: the page in an overlay, what it sends (sendData) posted as web_app_data ---

  function openWebApp(button) {
    let url = null;
    try { url = new URL(button.web_app.url, location.href); } catch (_) { /* not a URL */ }
    if (!url || url.origin !== location.origin) {
      showAlert('The sandbox opens only its own Mini Apps.');
      return;
    }
    state.webApp = button.text;
    $('#webapp-title').textContent = button.text;
    $('#webapp-frame').src = url.pathname + url.search;
    $('#webapp-sheet').showModal();
  }

  function closeWebApp() {
    state.webApp = null;
    $('#webapp-frame').src = 'about:blank';  // stops its camera
    if ($('#webapp-sheet').open) $('#webapp-sheet').close();
  }

  function fromWebApp(event) {
    if (event.origin !== location.origin || event.source !== $('#webapp-frame').contentWindow) return;
    const message = event.data || {};
    const button = state.webApp;
    if (message.pinpoint !== 'web-app' || !button) return;
    if (message.type === 'data') {
      closeWebApp();
      act(() => post(chatPath('/web_app_data'),
        { user: state.person.id, data: String(message.data), button_text: button }));
    } else if (message.type === 'close') {
      closeWebApp();
    }
  }

  // -- sending -----------------------------------------------------------------------------

  async function sendText(text, replying = false) {
    text = text.trim();
    if (!text) return;
    const body = { user: state.person.id, text };
    if (replying && state.replyTo) body.reply_to = state.replyTo.id;
    const sent = await act(() => post(chatPath('/messages'), body));
    if (sent && body.reply_to) setReplyTo(null);
  }

  async function upload(file, as) {
    if (!file) return;
    const form = new FormData();
    form.append('user', state.person.id);
    form.append('as', as);
    form.append('file', file, file.name || 'photo.jpg');
    toast(`Sending the ${as === 'document' ? 'file' : 'photo'}…`, 60000);
    const done = await act(() => api(chatPath('/upload'), { method: 'POST', body: form }));
    if (done) $('#toast').hidden = true;
  }

  function openLocation(mode) {
    state.locationMode = mode;
    const gps = mode === 'gps';
    $('#location-title').textContent = gps ? 'Share my location' : 'Send a location';
    $('#location-hint').textContent = gps
      ? 'Your phone\'s GPS fix: pick a demo site, type coordinates, or use this device.'
      : 'The pin: a demo site, or coordinates typed as on a map.';
    const device = $('#use-device');
    device.disabled = !(window.isSecureContext && navigator.geolocation);
    device.title = device.disabled ? 'Needs https or localhost: pick a site or type coordinates.' : '';
    $('#location-form').reset();
    $('#location-sheet').showModal();
  }

  function fillLocation(latitude, longitude, accuracy) {
    const form = $('#location-form');
    form.latitude.value = latitude;
    form.longitude.value = longitude;
    form.accuracy.value = accuracy === null || accuracy === undefined ? '' : accuracy;
  }

  function useDevice() {
    const device = $('#use-device');
    device.disabled = true;
    navigator.geolocation.getCurrentPosition((position) => {
      device.disabled = false;
      const c = position.coords;
      fillLocation(c.latitude.toFixed(6), c.longitude.toFixed(6), c.accuracy ? Math.round(c.accuracy) : '');
    }, (error) => {
      device.disabled = false;
      toast(`No location from this device: ${error.message}`);
    }, { enableHighAccuracy: true, timeout: 15000 });
  }

  async function sendLocation() {
    const form = $('#location-form');
    const number = (value) => value.trim().replace(',', '.');
    const body = {
      user: state.person.id,
      latitude: number(form.latitude.value),
      longitude: number(form.longitude.value),
      accuracy: number(form.accuracy.value) || null,
    };
    const done = await act(() => post(chatPath('/location'), body));
    if (done && state.locationMode === 'gps') usedKeyboard();
  }

  // -- sheets ------------------------------------------------------------------------------

  function renderCommands() {
    const commands = state.info.commands || [];
    $('#command-list').replaceChildren(...(commands.length ? commands : [{ command: 'start', description: '' }])
      .map((c) => el('button', {
        type: 'button', onclick: () => { $('#commands-sheet').close(); sendText(`/${c.command}`); },
      }, `/${c.command}`, el('small', {}, c.description))));
  }

  function valueButton(value) {
    return el('button', {
      type: 'button', class: 'value', onclick: () => {
        $('#demo-sheet').close();
        if (!$('#chat').hidden) { $('#text').value = value; $('#text').focus(); }
      },
    }, value);
  }

  function renderDemo() {
    const { sticker, demo } = state.info;
    const rows = [
      ['Installer ID for Ben to register', demo.newcomer_id],
      ['Sticker MAC', sticker.mac],
      ['Sticker password', sticker.password],
      ['SIM ICCID', demo.iccid],
    ];
    $('#demo-values').replaceChildren(
      el('p', {}, el('a', { href: sticker.href, download: 'demo-sticker.png' }, '🏷 Download the demo sticker'),
        ' and send it as a photo of the activation sticker.'),
      el('dl', {}, rows.map(([label, value]) => [el('dt', {}, label), el('dd', {}, valueButton(value))])),
      el('table', {},
        el('thead', {}, el('tr', {}, el('th', {}, 'Model'), el('th', {}, 'Min. firmware'), el('th', {}, 'Serial, e.g.'))),
        el('tbody', {}, demo.models.map((m) => el('tr', {},
          el('td', {}, m.name), el('td', {}, valueButton(m.min_firmware)), el('td', {}, valueButton(m.serial_example)))))));
  }

  async function renderDeliveries() {
    const list = $('#delivery-list');
    const deliveries = await act(() => api('/api/deliveries'));
    if (!deliveries) return;
    list.dataset.empty = 'Nothing yet: a submitted job pages support, a verified one sends its record.';
    list.replaceChildren(...deliveries.slice().reverse().map((d) => el('li', {},
      el('strong', {}, d.to), ' ', el('small', {}, `${clock(d.at)} · HTTP ${d.status}`),
      el('p', {}, d.summary),
      el('details', {}, el('summary', {}, 'what was sent'),
        el('pre', {}, JSON.stringify(d.body, null, 2))))));
  }

  // -- wiring ------------------------------------------------------------------------------

  function wire() {
    const text = $('#text');
    $('#composer').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = text.value;
      text.value = '';
      text.style.height = '';
      sendText(value, true);
    });
    $('#replying-cancel').addEventListener('click', () => setReplyTo(null));
    text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $('#composer').requestSubmit();
      }
    });
    text.addEventListener('input', () => {
      text.style.height = '';
      text.style.height = `${Math.min(text.scrollHeight, 140)}px`;
    });
    $('#attach').addEventListener('click', () => $('#attach-sheet').showModal());
    $('#commands').addEventListener('click', async () => {
      renderCommands();
      $('#commands-sheet').showModal();
      const commands = await act(() => api(`${chatPath('/commands')}?user=${state.person.id}`));
      if (commands) { state.info.commands = commands; renderCommands(); }
    });
    $('#keyboard-toggle').addEventListener('click', () => {
      state.keyboardHidden = !state.keyboardHidden;
      renderKeyboard(state.keyboard);
    });
    for (const button of document.querySelectorAll('[data-pick]')) {
      button.addEventListener('click', () => {
        $('#attach-sheet').close();
        const pick = button.dataset.pick;
        if (pick === 'location') openLocation('pin');
        else $(`#pick-${pick}`).click();
      });
    }
    for (const [id, as] of [['pick-camera', 'photo'], ['pick-photo', 'photo'], ['pick-file', 'document']]) {
      const input = document.getElementById(id);
      input.addEventListener('change', () => {
        const file = input.files[0];
        input.value = '';
        upload(file, as);
      });
    }
    $('#use-device').addEventListener('click', useDevice);
    $('#location-sheet').addEventListener('close', () => {
      if ($('#location-sheet').returnValue === 'send') sendLocation();
    });
    $('#places').replaceChildren(...state.info.places.map((place) => el('button', {
      type: 'button', class: 'place',
      onclick: () => fillLocation(place.latitude, place.longitude,
        state.locationMode === 'gps' ? place.accuracy : null),
    }, place.label)));
    for (const opener of document.querySelectorAll('[data-open="demo"]')) {
      opener.addEventListener('click', () => { renderDemo(); $('#demo-sheet').showModal(); });
    }
    for (const opener of document.querySelectorAll('[data-open="deliveries"]')) {
      opener.addEventListener('click', () => { $('#deliveries-sheet').showModal(); renderDeliveries(); });
    }
    $('#deliveries-refresh').addEventListener('click', renderDeliveries);
    $('#messages').addEventListener('scroll', () => { state.pinned = nearEnd(); }, { passive: true });
    window.addEventListener('resize', keepPinned);
    $('#messages').addEventListener('click', (event) => {
      const command = event.target.closest('.command');
      if (command && state.chat.type === 'private') sendText(command.textContent);
    });
    window.addEventListener('hashchange', route);
    window.addEventListener('message', fromWebApp);
    $('#webapp-close').addEventListener('click', closeWebApp);
    $('#webapp-sheet').addEventListener('close', () => { if (state.webApp) closeWebApp(); });
  }

  async function boot() {
    try {
      state.info = await api('/api/people');
    } catch (error) {
      document.body.textContent = `The sandbox server does not answer (${error.message}). Is it running?`;
      return;
    }
    wire();
    route();
  }

  boot();
})();
