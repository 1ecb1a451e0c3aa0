// The sandbox's stand-in for Telegram's Mini App script (https://telegram.org/js/telegram-web-app.js),
// for the scanner page in the chat page's overlay (sandbox/scanner.py). It offers the part of
// Telegram.WebApp the scanner uses: showScanQrPopup reads QR codes from this device's camera
// (getUserMedia) or from the demo sticker, with the vendored jsQR decoder (static/vendor/);
// sendData and close talk to the chat page around it (postMessage, to its own origin only).
(() => {
  'use strict';

  const STICKER = '/static/demo-sticker.png';
  const SCAN_EVERY_MS = 150;
  const MAX_DATA_BYTES = 4096;
  const handlers = {};
  let popup = null;  // {box, status, stream, timer, last, callback}

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, '');
      else node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function emit(name, data) {
    for (const handler of handlers[name] || []) {
      try { handler.call(WebApp, data); } catch (error) { console.error(error); }
    }
  }

  function toPage(message) {
    window.parent.postMessage({ pinpoint: 'web-app', ...message }, location.origin);
  }

  function decode(canvas, source, width, height) {
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(source, 0, 0, width, height);
    const pixels = context.getImageData(0, 0, width, height);
    const code = window.jsQR(pixels.data, width, height);
    return code && code.data ? code.data : null;
  }

  function received(text) {
    if (!popup || !text || text === popup.last) return;  // one delivery per code in view
    popup.last = text;
    emit('qrTextReceived', { data: text });
    if (popup && popup.callback && popup.callback(text) === true) closeScanQrPopup();
  }

  function startCamera(video, canvas) {
    const say = (text) => { if (popup) popup.status.textContent = text; };
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say('No camera here (a camera needs https or this computer): use the demo sticker.');
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then((stream) => {
        if (!popup) { stream.getTracks().forEach((track) => track.stop()); return; }
        popup.stream = stream;
        video.srcObject = stream;
        video.play().catch(() => {});
        say('Point the camera at the QR code.');
        popup.timer = setInterval(() => {
          if (video.readyState >= 2 && video.videoWidth) {
            received(decode(canvas, video, video.videoWidth, video.videoHeight));
          }
        }, SCAN_EVERY_MS);
      })
      .catch((error) => say(`No camera (${error.name}): use the demo sticker.`));
  }

  function useSticker(canvas) {
    const image = new Image();
    image.onload = () => {
      const text = decode(canvas, image, image.naturalWidth, image.naturalHeight);
      if (!popup) return;
      if (!text) { popup.status.textContent = 'The demo sticker could not be read.'; return; }
      popup.last = '';
      received(text);
    };
    image.src = STICKER;
  }

  function showScanQrPopup(params = {}, callback = null) {
    if (popup) throw new Error('WebAppScanQrPopupOpened');
    const video = el('video', { autoplay: true, muted: true, playsinline: true });
    const canvas = document.createElement('canvas');
    const status = el('p', { class: 'tg-scan-status', role: 'status' }, 'Starting the camera…');
    const box = el('div', { class: 'tg-scan', role: 'dialog', 'aria-label': 'Scan QR code' },
      el('p', { class: 'tg-scan-text' }, String(params.text || '')),
      el('div', { class: 'tg-scan-view' }, video),
      status,
      el('button', { type: 'button', class: 'tg-scan-demo', onclick: () => useSticker(canvas) },
        '🏷 Use the demo sticker'),
      el('button', { type: 'button', class: 'tg-scan-close', onclick: () => closeScanQrPopup() },
        'Close'));
    popup = { box, status, stream: null, timer: 0, last: '', callback };
    document.body.append(box);
    startCamera(video, canvas);
  }

  function closeScanQrPopup() {
    if (!popup) return;
    const { box, stream, timer } = popup;
    popup = null;
    clearInterval(timer);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    box.remove();
    emit('scanQrPopupClosed', {});
  }

  const WebApp = {
    initData: '',
    initDataUnsafe: {},
    version: '8.0',
    platform: 'sandbox',
    colorScheme: window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light',
    themeParams: {},
    isExpanded: true,
    isVersionAtLeast(version) {
      const want = String(version).split('.').map(Number);
      const have = this.version.split('.').map(Number);
      for (let i = 0; i < Math.max(want.length, have.length); i += 1) {
        if ((have[i] || 0) !== (want[i] || 0)) return (have[i] || 0) > (want[i] || 0);
      }
      return true;
    },
    ready() {},
    expand() {},
    onEvent(name, handler) { (handlers[name] = handlers[name] || []).push(handler); },
    offEvent(name, handler) {
      handlers[name] = (handlers[name] || []).filter((known) => known !== handler);
    },
    showScanQrPopup,
    closeScanQrPopup,
    sendData(data) {
      const text = String(data);
      const bytes = new TextEncoder().encode(text).length;
      if (!bytes || bytes > MAX_DATA_BYTES) throw new Error('WebAppDataInvalid');
      toPage({ type: 'data', data: text });  // the page sends it and closes the Mini App
    },
    close() {
      closeScanQrPopup();
      toPage({ type: 'close' });
    },
  };

  window.Telegram = { WebApp };

  // The scan popup's look (a style sheet of its own: the page's policy allows no inline style).
  document.head.append(el('link', { rel: 'stylesheet', href: '/static/telegram-web-app.css' }));
})();
