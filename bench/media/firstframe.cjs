// Play to first frame on the real watch page, in headless Chromium
// (puppeteer-core, installed by run.sh from the npm registry as bench/ui does).
//
//   node bench/media/firstframe.cjs   (run.sh sets the environment)
//
// Env: UI_TOOLS (where puppeteer-core is), CHROME, CHROME_FLAGS (space
// separated), BASE, SETUP (setup.py's JSON: viewers and titles), KEYS
// ("direct hls": which titles), RUNS, FIRST_VIEWER (index of the first
// viewer to use; each measurement uses its own viewer so that no stream
// cap or resume position carries over).
//
// Two measurements per title and run, each in a fresh browser context
// (empty cache, no device registered yet), logged in with the viewer's
// session cookie:
//  - click: /watch/{id} is loaded and the <video> has its metadata
//    (preload="metadata"), then a real click on #play-start (puppeteer's
//    mouse: a user gesture). Time from the click event to the first video
//    frame presented after play() (`requestVideoFrameCallback` with the
//    video not paused: the picture the viewer sees change), and to the
//    `playing` event. Includes what the player does on Play: register
//    the browser as a device, POST /api/v1/playback/start, seek, play().
//  For the HLS title only frames from HLS count (hls.js: a blob: source);
//  a frame of the page's own link to the file before the switch is
//  reported apart (file_frame_ms).
//  - open: /watch/{id}?play=1 (the title page's Play: one click there, the
//    watch page starts by itself). Time from navigation start to the first
//    frame: the page, player.js, the device, playback/start and the media.
// Prints one JSON line per measurement.
'use strict';
const path = require('path');
const fs = require('fs');
const puppeteer = require(path.join(process.env.UI_TOOLS, 'node_modules', 'puppeteer-core'));

const BASE = process.env.BASE;
const setup = JSON.parse(fs.readFileSync(process.env.SETUP, 'utf8'));
const KEYS = (process.env.KEYS || 'direct').split(/\s+/).filter(Boolean);
const RUNS = Number(process.env.RUNS || 3);
const flags = (process.env.CHROME_FLAGS || '').split(/\s+/).filter(Boolean);
const TIMEOUT = Number(process.env.FRAME_TIMEOUT_MS || 30000);
let nextViewer = Number(process.env.FIRST_VIEWER || 0);

// Installed before any page script: hooks #video as soon as it exists.
// performance.now() counts from the navigation start.
function hook() {
  const t = (window.__ff = { frame: null, playing: null, click: null, error: null });
  document.addEventListener('click', () => { if (t.click === null) t.click = performance.now(); }, true);
  const attach = (v) => {
    if (!v || v.__ffHooked) return;
    v.__ffHooked = true;
    v.addEventListener('playing', () => { if (t.playing === null) t.playing = performance.now(); });
    v.addEventListener('error', () => {
      const e = v.error || {};
      t.error = `media error ${e.code}: ${e.message || ''}`;
    });
    const cb = (now, meta) => {
      // A frame shown before Play (the preview of preload="metadata") is
      // not the first frame of playback; for the HLS title, neither is a
      // frame of the page's own link to the file (played until
      // playback-info has switched the player to HLS).
      const hlsSrc = /^blob:|\.m3u8/.test(v.currentSrc || '');
      if (window.__ffWant === 'hls' && !hlsSrc && !v.paused && t.otherFrame === undefined) t.otherFrame = performance.now();
      if (v.paused || (t.click === null && !window.__ffOpen) || (window.__ffWant === 'hls' && !hlsSrc)) {
        v.requestVideoFrameCallback(cb);
        return;
      }
      t.frame = performance.now();
      t.mediaTime = meta.mediaTime;
      t.src = v.currentSrc;
    };
    if (v.requestVideoFrameCallback) v.requestVideoFrameCallback(cb);
    else t.error = 'no requestVideoFrameCallback';
  };
  new MutationObserver(() => attach(document.getElementById('video')))
    .observe(document, { childList: true, subtree: true });
  document.addEventListener('DOMContentLoaded', () => attach(document.getElementById('video')));
}

async function measure(browser, key, mode, run) {
  const title = setup.titles[key];
  const viewer = setup.viewers[nextViewer++ % setup.viewers.length];
  const ctx = await browser.createBrowserContext();
  const out = { key, mode, run, title_id: title.id, profile_id: viewer.profile_id };
  try {
    const page = await ctx.newPage();
    const u = new URL(BASE);
    await page.setCookie({ name: 'marquee_session', value: viewer.token, domain: u.hostname, path: '/', httpOnly: true });
    await page.evaluateOnNewDocument(hook);
    await page.evaluateOnNewDocument((want) => { window.__ffWant = want; }, key.startsWith('hls') ? 'hls' : key);
    if (mode === 'open') {
      await page.evaluateOnNewDocument(() => { window.__ffOpen = true; });
      await page.goto(`${BASE}/watch/${title.id}?play=1`, { waitUntil: 'domcontentloaded' });
    } else {
      await page.goto(`${BASE}/watch/${title.id}`, { waitUntil: 'load' });
      // Loaded: the metadata of the source the player settled on (for HLS,
      // hls.js attached after playback-info).
      await page.waitForFunction(() => {
        const v = document.getElementById('video');
        return v && v.readyState >= 1 && (window.__ffWant !== 'hls' || /^blob:|\.m3u8/.test(v.currentSrc || ''));
      }, { timeout: TIMEOUT });
      await new Promise((r) => setTimeout(r, 300));
      await page.click('#play-start');
    }
    await page.waitForFunction(() => window.__ff.frame !== null || window.__ff.error !== null, { timeout: TIMEOUT })
      .catch(() => {});
    // The `playing` event may come a little after the first frame.
    await page.waitForFunction(() => window.__ff.playing !== null || window.__ff.error !== null, { timeout: 5000 })
      .catch(() => {});
    const t = await page.evaluate(() => ({ ...window.__ff, status: document.getElementById('status').textContent }));
    const from = mode === 'open' ? 0 : t.click;
    out.first_frame_ms = t.frame === null ? null : +(t.frame - from).toFixed(1);
    out.playing_ms = t.playing === null ? null : +(t.playing - from).toFixed(1);
    out.media_time = t.mediaTime;
    out.src = t.src ? t.src.replace(/\?.*/, '?…') : null;
    if (t.otherFrame !== undefined) out.file_frame_ms = +(t.otherFrame - from).toFixed(1);
    out.error = t.error || (t.frame === null ? `no frame in ${TIMEOUT} ms; player status: ${t.status}` : null);
    // Stop, so the stream is not left open on the account.
    await page.evaluate(() => { const s = document.getElementById('stop'); if (s && !s.hidden) s.click(); });
    await new Promise((r) => setTimeout(r, 200));
  } catch (e) {
    out.error = String(e && e.message || e);
  } finally {
    await ctx.close().catch(() => {});
  }
  return out;
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROME,
    headless: true,
    args: flags,
    defaultViewport: { width: 1280, height: 900 },
  });
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const key of KEYS) {
        for (const mode of ['click', 'open']) {
          console.log(JSON.stringify(await measure(browser, key, mode, run)));
        }
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
