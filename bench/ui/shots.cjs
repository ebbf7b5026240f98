// Full-page screenshots of every page, as each role, at each width, in
// headless Chromium (puppeteer-core from the npm registry, see run.sh).
//
//   node bench/ui/shots.cjs   (run.sh sets the environment)
//
// Env: UI_TOOLS (where puppeteer-core is installed), CHROME, BASE, PAGES
// (seed.py's JSON), SHOTS (output folder), WIDTHS ("400 1400"), PROFILE_DIR
// (a fresh folder for Chromium's profiles), ACCOUNTS (JSON {role: [email,
// password]}), CHROME_FLAGS (space separated).
//
// Writes SHOTS/<role>/<width>/<slug>.png and SHOTS/index.tsv (role, width,
// page, HTTP status, where it ended up, page height, px wider than the
// window, console errors), and prints a summary: pages that went elsewhere
// (a log-in redirect), that scroll sideways, or logged console errors.
// An htmx fragment (no `header.top`) is not a page and is not shot.
'use strict';
const path = require('path');
const fs = require('fs');
const puppeteer = require(path.join(process.env.UI_TOOLS, 'node_modules', 'puppeteer-core'));

const BASE = process.env.BASE;
const SHOTS = process.env.SHOTS;
const WIDTHS = (process.env.WIDTHS || '400 1400').split(/\s+/).filter(Boolean).map(Number);
const pages = JSON.parse(fs.readFileSync(process.env.PAGES, 'utf8')).pages;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const flags = (process.env.CHROME_FLAGS || '').split(/\s+/).filter(Boolean);
const ROLES = (process.env.ROLES || 'visitor viewer agent admin').split(/\s+/).filter(Boolean);

function slug(p) {
  const s = p.replace(/^\/+/, '').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'home';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Scrolls to the bottom until the page stops growing, so rows loaded when
// revealed (htmx `revealed`) are in the picture; then back to the top.
async function scrollAll(page) {
  let last = -1;
  for (let i = 0; i < 60; i++) {
    const h = await page.evaluate(() => {
      window.scrollTo(0, document.documentElement.scrollHeight);
      return document.documentElement.scrollHeight;
    });
    await sleep(400);
    if (h === last) {
      // Twice the same height: wait for requests in flight, look once more.
      await page.waitForNetworkIdle({ idleTime: 300, timeout: 3000 }).catch(() => {});
      const h2 = await page.evaluate(() => document.documentElement.scrollHeight);
      if (h2 === h) break;
    }
    last = h;
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await sleep(300);
}

async function logIn(page, email, password) {
  await page.goto(BASE + '/login', { waitUntil: 'load' });
  await page.type('input[name=email]', email);
  await page.type('input[name=password]', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#login-submit')]);
  const url = new URL(page.url());
  if (url.pathname === '/login') throw new Error(`log-in as ${email} failed`);
}

async function main() {
  const index = [['role', 'width', 'page', 'status', 'ended_at', 'height', 'overflow_px', 'console_errors', 'file'].join('\t')];
  const notes = [];
  let shots = 0;
  for (const role of ROLES) {
    const list = pages[role] || [];
    const userDataDir = fs.mkdtempSync(path.join(process.env.PROFILE_DIR, `${role}-`));
    const browser = await puppeteer.launch({
      executablePath: process.env.CHROME,
      headless: true,
      userDataDir,
      args: flags,
      defaultViewport: { width: WIDTHS[0], height: 900 },
    });
    try {
      const page = await browser.newPage();
      let errors = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      if (accounts[role]) await logIn(page, accounts[role][0], accounts[role][1]);
      for (const width of WIDTHS) {
        await page.setViewport({ width, height: 900 });
        const dir = path.join(SHOTS, role, String(width));
        fs.mkdirSync(dir, { recursive: true });
        for (const p of list) {
          errors = [];
          let status = 0;
          try {
            const resp = await page.goto(BASE + p, { waitUntil: 'load', timeout: 60000 });
            status = resp ? resp.status() : 0;
          } catch (e) {
            notes.push(`${role} ${p} @${width}: ${e.message}`);
            continue;
          }
          // Pages with a live stream (SSE) never go idle: a bounded wait.
          await page.waitForNetworkIdle({ idleTime: 500, timeout: 5000 }).catch(() => {});
          if (!(await page.$('header.top'))) {
            index.push([role, width, p, status, '', '', '', '', 'fragment: not shot'].join('\t'));
            continue;
          }
          if (p === '/' || p.startsWith('/?')) await scrollAll(page);
          const ended = new URL(page.url());
          const endedAt = ended.pathname + ended.search;
          const [height, sw] = await page.evaluate(() => [
            document.documentElement.scrollHeight,
            document.documentElement.scrollWidth,
          ]);
          const file = path.join(dir, slug(p) + '.png');
          await page.screenshot({ path: file, fullPage: true, captureBeyondViewport: true });
          shots++;
          // The document's own 404 (the not-found page) is not a console fault.
          const errs = errors.filter((e) => !(status === 404 && /Failed to load resource.*404/.test(e)));
          index.push([role, width, p, status, endedAt, height, Math.max(0, sw - width), errs.length, path.relative(SHOTS, file)].join('\t'));
          if (endedAt !== p) notes.push(`${role} ${p} @${width}: ended at ${endedAt} (HTTP ${status})`);
          if (sw > width) notes.push(`${role} ${p} @${width}: ${sw} px wide (scrolls sideways)`);
          for (const e of errs.slice(0, 3)) notes.push(`${role} ${p} @${width}: console: ${e.slice(0, 200)}`);
        }
      }
    } finally {
      await browser.close();
    }
  }
  fs.writeFileSync(path.join(SHOTS, 'index.tsv'), index.join('\n') + '\n');
  console.log(`${shots} screenshots in ${SHOTS} (index.tsv lists them)`);
  for (const n of notes) console.log('  ' + n);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
