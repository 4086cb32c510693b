#!/usr/bin/env node
// Proves that a single-file HTML page renders in headless Chromium: serves FILE from a loopback
// HTTP server started here (one URL, the page itself), opens it with playwright-core driving
// Debian's Chromium, waits for `load` (plus a short settle), and fails on
//   - any console message of level error (or a failed console.assert), any uncaught page error,
//   - any request or WebSocket to anything but the page itself (data:, blob: and about: URLs
//     are allowed: they stay inside the page); such requests are aborted, never sent,
//   - an <svg> whose layout box or content box (getBBox) has zero width or height,
//   - fewer <svg> elements than --min-svgs, or an --expect-text missing from the page's text.
//
// Usage: node check_html.mjs FILE.html [--screenshot OUT.png] [--expect-text TEXT]...
//                            [--min-svgs N] [--width PX] [--scale F] [--settle-ms MS] [--timeout-ms MS]
//
// Exit 0 with one line on stdout: OK <file>: <n> svg(s) laid out, title "<title>".
// Exit 1 with the problems on stderr when a check fails; exit 2 on a usage or setup error.
//
// Environment: MAHAVISHNU_CHROMIUM (default /usr/bin/chromium); MAHAVISHNU_BROWSER_CACHE (where
// setup.sh installed playwright-core; default $HOME/.cache/mahavishnu-dr-browser).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE =
  'usage: check_html.mjs FILE.html [--screenshot OUT.png] [--expect-text TEXT]... ' +
  '[--min-svgs N] [--width PX] [--scale F] [--settle-ms MS] [--timeout-ms MS]';

function die(code, msg) {
  process.stderr.write(`check_html: ${msg}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = { file: null, screenshot: null, expect: [], minSvgs: 0, width: 1000, scale: 1, settleMs: 300, timeoutMs: 60000 };
  const num = (name, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) die(2, `${name} needs a number\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(2, `${a} needs a value\n${USAGE}`);
      return argv[++i];
    };
    switch (a) {
      case '--screenshot': o.screenshot = path.resolve(value()); break;
      case '--expect-text': o.expect.push(value()); break;
      case '--min-svgs': o.minSvgs = num(a, value()); break;
      case '--width': o.width = Math.max(200, Math.round(num(a, value()))); break;
      case '--scale': o.scale = num(a, value()) || 1; break;
      case '--settle-ms': o.settleMs = num(a, value()); break;
      case '--timeout-ms': o.timeoutMs = num(a, value()) || 60000; break;
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default:
        if (a.startsWith('--') || o.file !== null) die(2, `unexpected argument ${a}\n${USAGE}`);
        o.file = path.resolve(a);
    }
  }
  if (o.file === null) die(2, USAGE);
  return o;
}

function loadPlaywright() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const cache = process.env.MAHAVISHNU_BROWSER_CACHE || path.join(os.homedir(), '.cache', 'mahavishnu-dr-browser');
  const dirs = [path.join(cache, 'node'), here];
  for (const dir of dirs) {
    try {
      return createRequire(path.join(dir, 'package.json'))('playwright-core');
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  die(2, `playwright-core not found under ${dirs.join(' or ')}: run tests/browser/setup.sh (same MAHAVISHNU_BROWSER_CACHE)`);
}

const opts = parseArgs(process.argv.slice(2));
let html;
try {
  html = fs.readFileSync(opts.file);
} catch (e) {
  die(2, `cannot read ${opts.file}: ${e.message}`);
}
const executablePath = process.env.MAHAVISHNU_CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(executablePath)) {
  die(2, `no Chromium at ${executablePath}: install the Debian package chromium (or set MAHAVISHNU_CHROMIUM)`);
}
const { chromium } = loadPlaywright();

// Whatever happens, do not hang a test run.
setTimeout(() => die(2, `gave up after ${2 * opts.timeoutMs} ms`), 2 * opts.timeoutMs).unref();

// The page, and nothing else, from a loopback server on a free port.
const pagePath = '/' + encodeURIComponent(path.basename(opts.file));
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === pagePath) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const pageUrl = `http://127.0.0.1:${server.address().port}${pagePath}`;
const allowed = (u) => u === pageUrl || /^(data|blob|about):/i.test(u);

const problems = [];
const notes = [];
let browser;
let result;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: opts.timeoutMs,
    // playwright-core gives each launch a fresh temporary --user-data-dir and removes it after.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({
    viewport: { width: opts.width, height: 800 },
    deviceScaleFactor: opts.scale,
    serviceWorkers: 'block',
  });
  // Nothing leaves the page: every other request is recorded and aborted before it is sent.
  await context.route('**/*', (route) =>
    allowed(route.request().url()) ? route.continue() : route.abort('blockedbyclient'),
  );
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs);
  page.on('console', (m) => {
    const where = m.location()?.url ? ` at ${m.location().url}:${m.location().lineNumber}` : '';
    if (m.type() === 'error' || m.type() === 'assert') problems.push(`console.${m.type()}: ${m.text()}${where}`);
    else if (m.type() === 'warning') notes.push(`console.warning: ${m.text()}${where}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('crash', () => problems.push('the page crashed'));
  page.on('request', (r) => {
    if (!allowed(r.url())) problems.push(`request to ${r.url()} (${r.resourceType()}): the page must be self-contained`);
  });
  page.on('websocket', (ws) => problems.push(`WebSocket to ${ws.url()}: the page must be self-contained`));
  page.on('requestfailed', (r) => {
    if (r.url() === pageUrl) problems.push(`the page itself failed to load: ${r.failure()?.errorText}`);
  });

  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (!response || response.status() !== 200) problems.push(`page load answered ${response?.status()}`);
  await page.evaluate(() => (document.fonts ? document.fonts.ready.then(() => true) : true));
  await page.waitForTimeout(opts.settleMs);

  result = await page.evaluate(() => {
    const svgs = [...document.querySelectorAll('svg')].map((e, i) => {
      const r = e.getBoundingClientRect();
      let content = null;
      try {
        const b = e.getBBox();
        content = { w: b.width, h: b.height };
      } catch (err) {
        content = { error: String(err) };
      }
      const title = e.querySelector(':scope > title');
      const name = e.getAttribute('aria-label') || (title && title.textContent) || '';
      return { i, w: r.width, h: r.height, content, name: name.slice(0, 60) };
    });
    const parts = [document.body ? document.body.innerText : ''];
    for (const t of document.querySelectorAll('svg text')) parts.push(t.textContent);
    return { svgs, text: parts.join('\n').replace(/\s+/g, ' '), title: document.title };
  });
  for (const s of result.svgs) {
    const what = `svg #${s.i + 1}${s.name ? ` ("${s.name}")` : ''}`;
    if (!(s.w > 0 && s.h > 0)) problems.push(`${what} is not laid out: box ${s.w}x${s.h}`);
    else if (s.content.error) problems.push(`${what}: getBBox failed: ${s.content.error}`);
    else if (!(s.content.w > 0 && s.content.h > 0)) problems.push(`${what} draws nothing: content box ${s.content.w}x${s.content.h}`);
  }
  if (result.svgs.length < opts.minSvgs) problems.push(`${result.svgs.length} svg(s), expected at least ${opts.minSvgs}`);
  for (const t of opts.expect) {
    if (!result.text.includes(t.replace(/\s+/g, ' '))) problems.push(`text not found on the page: ${JSON.stringify(t)}`);
  }
  if (opts.screenshot) {
    fs.mkdirSync(path.dirname(opts.screenshot), { recursive: true });
    await page.screenshot({ path: opts.screenshot, fullPage: true });
  }
  await context.close();
} catch (e) {
  problems.push(`browser run failed: ${e && e.message ? e.message.split('\n')[0] : e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  server.close();
}

for (const n of notes) process.stderr.write(`check_html: note: ${n}\n`);
const file = path.relative(process.cwd(), opts.file) || opts.file;
if (problems.length > 0) {
  process.stderr.write(`FAIL ${file}: ${problems.length} problem(s)\n`);
  for (const p of problems) process.stderr.write(`  - ${p}\n`);
  process.exit(1);
}
const sizes = result.svgs.map((s) => `${Math.round(s.w)}x${Math.round(s.h)}`).join(', ');
process.stdout.write(
  `OK ${file}: ${result.svgs.length} svg(s) laid out${sizes ? ` (${sizes})` : ''}, title ${JSON.stringify(result.title)}` +
    (opts.screenshot ? `, screenshot ${opts.screenshot}` : '') +
    '\n',
);
