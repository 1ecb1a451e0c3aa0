// The sticker scanner, a Telegram Mini App opened by the bot's "📷 Scan the sticker" keyboard
// button. It opens Telegram's own QR scanner, keeps scanning until a code looks like the
// network's sticker URL (its host and path, both given in this page's query by the
// bot), and hands that text to the bot with sendData (which closes the page). The bot checks
// it again exactly like a code read from a photo.
(() => {
  'use strict';

  const MAX_DATA_BYTES = 4096;  // what sendData accepts
  const DESKTOP = ['tdesktop', 'web', 'weba', 'webk', 'unknown'];  // no camera scanner there
  const query = new URLSearchParams(location.search);
  const host = (query.get('host') || '').replace(/\.$/, '').toLowerCase();
  const path = '/' + (query.get('path') || '').replace(/^\/+|\/+$/g, '').toLowerCase();
  const popupText = query.get('text') || 'Point the camera at the QR code on the sticker';
  const app = window.Telegram && window.Telegram.WebApp;
  const status = document.getElementById('status');
  const again = document.getElementById('scan');

  function say(text) { status.textContent = text; }

  // Only the network's sticker URL: its host and path, a query, no user name or password.
  function looksLikeSticker(text) {
    const trimmed = String(text || '').trim();
    if (!host || new TextEncoder().encode(trimmed).length > MAX_DATA_BYTES) return false;
    let url;
    try { url = new URL(trimmed); } catch (_) { return false; }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
    if (url.username || url.password || url.port) return false;
    if (url.hostname.replace(/\.$/, '') !== host) return false;
    let got;
    try { got = decodeURIComponent(url.pathname); } catch (_) { return false; }
    return got.replace(/\/+$/, '').toLowerCase() === path.replace(/\/+$/, '') && url.search.length > 1;
  }

  function scan() {
    again.hidden = true;
    say('Point the camera at the QR code on the activation sticker. No camera opened? Close '
        + 'this, then send a photo of the sticker or type the MAC.');
    app.showScanQrPopup({ text: popupText }, (text) => {
      if (looksLikeSticker(text)) {
        say('Sticker read: sending it to the bot…');
        app.sendData(String(text).trim());
        return true;  // closes the popup
      }
      say('That code is not the activation sticker: keep scanning, or close and type the MAC.');
      return false;  // keep scanning
    });
  }

  document.getElementById('close').addEventListener('click', () => {
    if (app) app.close(); else window.close();
  });
  again.addEventListener('click', scan);

  if (!app || !app.isVersionAtLeast('6.4') || DESKTOP.includes(app.platform)) {
    say('Live scanning needs the Telegram app on a phone. Close this and send a photo of the '
        + 'sticker, or type the MAC.');
    return;
  }
  if (!host) {
    say('Open this page with the bot\'s "📷 Scan the sticker" button.');
    return;
  }
  app.ready();
  app.expand();
  app.onEvent('scanQrPopupClosed', () => { again.hidden = false; });
  scan();
})();
