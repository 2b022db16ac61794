/**
 * The web consoles in a real headless browser (Debian's chromium through playwright-core)
 * against `medchain demo`: a regional notary, an institution notary and a gateway with
 * real chains, each its own process. The demo prints the console URLs; every page loads,
 * every console link on every page reached is followed and answers, the forms find by
 * height and by time, an unknown or tampered height shows an error page with a 4xx
 * status, and the demo still ends cleanly after the browsing.
 * MEDCHAIN_SCREENSHOTS=docs/console writes one PNG per page (the README's screenshots).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { browser } from '../helpers/browser.js';

t.setTimeout(600_000);
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);
const shots = process.env.MEDCHAIN_SCREENSHOTS
  ? resolve(process.env.MEDCHAIN_SCREENSHOTS)
  : mkdtempSync(join(tmpdir(), 'medchain-shots-'));
if (!process.env.MEDCHAIN_SCREENSHOTS)
  t.teardown(() => rmSync(shots, { recursive: true, force: true }));
mkdirSync(shots, { recursive: true });

/** Resolves with what `re` captures once the demo prints a matching line (bounded). */
function printed(
  child: ChildProcess,
  out: { text: string },
  re: RegExp,
  ms: number,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(out.text);
      if (!m) return false;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolve(m);
      return true;
    };
    const timer = setTimeout(
      () => reject(new Error(`demo did not print ${re} in ${ms} ms:\n${out.text}`)),
      ms,
    );
    child.stdout?.on('data', check);
    check();
  });
}

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const demo = spawn(
  process.execPath,
  [BIN, 'demo', '--duration', '900', '--notaries', '1', '--gateways', '1', '--devices', '4'],
  { env: { ...process.env, MEDCHAIN_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
);
const out = { text: '' };
let err = '';
demo.stdout.on('data', (c: Buffer) => {
  out.text += c.toString();
});
demo.stderr.on('data', (c: Buffer) => {
  err += c.toString();
});
const exited = new Promise<number | null>((r) => demo.once('exit', (code) => r(code)));
t.teardown(() => {
  if (demo.exitCode === null) demo.kill('SIGKILL');
});

const [, notaryUrl] = await printed(demo, out, /notary notary-1: (http:\S+\/console)\n/, 300_000);
const [, regionalUrl] = await printed(demo, out, /notary regional: (http:\S+\/console)\n/, 1000);
const [, gatewayUrl] = await printed(demo, out, /gateway gw-1: (http:\S+\/console)\n/, 1000);
const api = (url: string) => url!.replace(/\/console$/, '');
// Real chains: blocks registered and anchored into the regional chain.
await until(
  'an anchor covering height 2',
  240_000,
  async () => (await fetch(`${api(notaryUrl!)}/anchor?height=2`)).ok,
);
const ctx = await browser(t);

/** Opens `url`, expects `status`, saves a screenshot as NAME.png when named. */
async function open(
  t: Test,
  page: Page,
  url: string,
  status = 200,
  name?: string,
): Promise<string> {
  const res = await page.goto(url);
  t.equal(res?.status(), status, `${url} answers ${status}`);
  if (name) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  return page.content();
}

/** Clicks what `selector` finds and waits for the page it leads to. */
async function follow(page: Page, selector: string, url: RegExp): Promise<void> {
  await Promise.all([page.waitForURL(url, { waitUntil: 'load' }), page.click(selector)]);
}

/** Follows every /console link reachable from `start` (at most `max` pages); each must answer 200. */
async function crawl(t: Test, page: Page, start: string, max: number): Promise<Set<string>> {
  const origin = new URL(start).origin;
  const seen = new Set<string>([new URL(start).pathname]);
  const queue = [start];
  while (queue.length > 0 && seen.size <= max) {
    const url = queue.shift()!;
    const res = await page.goto(url);
    t.equal(res?.status(), 200, `link ${url.replace(origin, '')} answers 200`);
    const text = (await page.locator('body').textContent()) ?? '';
    t.notMatch(text, /\n\s+at \S+ \(|internal error/, `${url.replace(origin, '')}: no failure`);
    const hrefs = await page.$$eval('a[href^="/console"]', (as) =>
      as.map((a) => a.getAttribute('href') ?? ''),
    );
    for (const h of hrefs) {
      if (!seen.has(h) && seen.size < max) {
        seen.add(h);
        queue.push(origin + h);
      }
    }
  }
  return seen;
}

t.test('notary console: pages, links, readable entries, forms', async (t) => {
  const page = await ctx.newPage();
  let html = await open(t, page, notaryUrl!, 200, 'notary-overview');
  t.match(html, /medchain notary notary-1/);
  t.match(html, /anchored into the regional chain up to<\/th><td>height \d+/);

  await follow(page, 'header a[href="/console/entries"]', /\/console\/entries$/);
  t.match(await page.title(), /^Chain ·/);
  await page.screenshot({ path: join(shots, 'notary-chain.png'), fullPage: true });
  await follow(page, 'table a[href^="/console/entry/"] >> nth=0', /\/console\/entry\/\d+$/);
  t.match(await page.title(), /^Entry \d+ ·/);
  html = await page.content();
  t.match(html, /verifies with gateway gw-1/, 'header signature shown verified');
  t.match(html, /verifies with notary notary-1/, 'receipt signature shown verified');
  t.match(html, /the path leads to the root/, 'inclusion proof shown verified');
  t.match(html, /encrypted for the readers \(not shown\)/, 'the body is never shown');

  await page.goto(notaryUrl!);
  await page.fill('input[name=height]', '2');
  await follow(page, 'form[action="/console/entry/go"] button', /\/console\/entry\/2$/);
  t.match(await page.title(), /^Entry 2 ·/, 'find by height');
  await page.screenshot({ path: join(shots, 'notary-entry.png'), fullPage: true });
  await follow(
    page,
    'text=Regional anchor >> xpath=following-sibling::p[1]//a',
    /\/console\/anchors$/,
  );
  t.match(await page.title(), /^Anchors ·/, 'from the entry to its anchor');
  t.match(
    await page.content(),
    /<td>regional<\/td>/,
    'anchors name the regional notary and its height',
  );
  await page.screenshot({ path: join(shots, 'notary-anchors.png'), fullPage: true });

  await page.goto(notaryUrl!);
  await page.fill('input[name=at]', '2000-01-01T00:00:00Z');
  await follow(page, 'form[action="/console/time"] button', /\/console\/entries\?from=1$/);
  t.match(await page.title(), /^Chain ·/, 'find by time');

  await page.goto(`${notaryUrl}/gateway/gw-1`);
  t.match(await page.content(), /blocks registered/);
  await page.screenshot({ path: join(shots, 'notary-gateway.png'), fullPage: true });
  await open(t, page, `${notaryUrl}/gateways`, 200, 'notary-gateways');
  html = await open(t, page, `${notaryUrl}/checkpoints`, 200, 'notary-checkpoints');
  t.match(html, /verifies with notary notary-1/);
  html = await open(t, page, `${notaryUrl}/crls`, 200, 'notary-crls');
  t.match(html, /CRL of /, "Trent's CRL as the notary installed it");
  html = await open(t, page, `${notaryUrl}/equivocations`, 200, 'notary-equivocations');
  t.match(html, /none/, 'no evidence in an honest demo');

  const seen = await crawl(t, page, notaryUrl!, 40);
  t.ok(seen.size >= 12, `${seen.size} console pages reached by following links`);
});

t.test('notary console: unknown and tampered heights show an error page', async (t) => {
  const page = await ctx.newPage();
  for (const [path, status] of [
    ['/entry/999999', 404],
    ['/entry/0', 400],
    ['/entry/2abc', 400],
    ['/entry/%27%3Cscript%3E', 400],
    ['/entry/go?height=-1', 400],
    ['/gateway/gw-404', 404],
    ['/time?at=tomorrow', 400],
  ] as const) {
    const html = await open(
      t,
      page,
      `${notaryUrl}${path}`,
      status,
      path === '/entry/999999' ? 'notary-error' : undefined,
    );
    t.match(html, /<h1>4\d\d CONSOLE_/, `${path}: an error page`);
    t.notMatch(
      (await page.locator('body').textContent()) ?? '',
      /\n\s+at |Error:/,
      `${path}: no stack trace`,
    );
    t.equal(await page.locator('script').count(), 0, `${path}: nothing injected`);
  }
});

t.test('regional notary console: the institution anchors into it', async (t) => {
  const page = await ctx.newPage();
  const html = await open(t, page, `${regionalUrl}/gateways`, 200);
  t.match(html, /notary-1/, 'notary-1 submits to the regional chain');
  await crawl(t, page, regionalUrl!, 15);
});

t.test('gateway console: status, devices, certificates', async (t) => {
  const page = await ctx.newPage();
  let html = await open(t, page, gatewayUrl!, 200, 'gateway-status');
  t.match(html, /medchain gateway gw-1/);
  t.match(html, /Uplink to notary notary-1/);
  t.match(html, /class="ok">connected</, 'the uplink is up');
  t.match(html, /oldest unreceipted block/);
  t.match(html, /Rejections by reason/);
  await follow(page, 'header a[href="/console/devices"]', /\/console\/devices$/);
  html = await page.content();
  t.match(html, /<td>gw-1-[^<]+<\/td><td>\d{4}-/, 'devices with their registration');
  t.match(html, /last reading received/);
  t.notMatch(html, /MRN-|"patient"/, 'no reading content');
  await page.screenshot({ path: join(shots, 'gateway-devices.png'), fullPage: true });
  await follow(page, 'header a[href="/console/certificates"]', /\/console\/certificates$/);
  html = await page.content();
  for (const use of [
    'gateway signing',
    'Trent root',
    'notary notary-1 signing',
    'uplink TLS client',
    'reader',
  ]) {
    t.match(html, new RegExp(`<td>${use}`), `${use} certificate listed`);
  }
  t.match(html, /days left/);
  t.match(html, /next update/, "the CRL's next update");
  await page.screenshot({ path: join(shots, 'gateway-certificates.png'), fullPage: true });
  await open(t, page, `${gatewayUrl}/nothing`, 404);
  await crawl(t, page, gatewayUrl!, 5);
});

t.test('the demo ends cleanly after the browsing', async (t) => {
  demo.kill('SIGINT');
  const code = await Promise.race([
    exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 300_000).unref()),
  ]);
  t.equal(code, 0, err.slice(-2000));
  t.match(out.text, /demo OK/);
});
