/**
 * The notary console over HTTP against a real anchored notary (console-fixture.ts): each
 * page answers HTML with its content, bad and unknown parameters answer an error page
 * with a 4xx status and no stack trace, nothing is injected, no body is shown.
 * The same pages in a real browser: test/e2e/console-browser.test.ts.
 */
import t from 'tap';
import { anchoredNotary } from './console-fixture.js';

const { notary, gw2, base } = await anchoredNotary(t);

/** medchain_notary_console_errors_total{code} now. */
async function errors(code: string): Promise<number> {
  const m = notary.metrics.registry.getSingleMetric('medchain_notary_console_errors_total');
  const v = (await m?.get())?.values.find((x) => x.labels.code === code);
  return v?.value ?? 0;
}

async function get(path: string) {
  const r = await fetch(base + path, { redirect: 'manual' });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

t.test('pages answer HTML with the chain in readable form', async (t) => {
  const o = await get('/console');
  t.equal(o.status, 200);
  t.match(o.headers.get('content-type'), /^text\/html; charset=utf-8/);
  t.match(o.headers.get('content-security-policy'), /default-src 'none'/, 'no script, no fetch');
  t.match(o.text, /notary-1/);
  t.match(o.text, new RegExp(`chain size</th><td>${notary.store.size}<`));
  t.match(o.text, /anchored into the regional chain up to<\/th><td>height \d+/);

  const e = await get('/console/entry/5');
  t.equal(e.status, 200);
  t.match(
    e.text,
    /verifies with gateway gw-1/,
    'header signature checked with the stored certificate',
  );
  t.match(e.text, /verifies with notary notary-1/, 'receipt signature checked');
  t.match(e.text, /the path leads to the root/, 'inclusion proof checked against the current root');
  t.match(e.text, /covered by anchor/);
  const block = (await notary.store.block(5))!;
  const bodyB64 = Buffer.from(block.body).toString('base64');
  const bodyHex = Buffer.from(block.body).toString('hex');
  t.notOk(
    e.text.includes(bodyB64.slice(0, 40)) || e.text.includes(bodyHex.slice(0, 40)),
    'no body bytes',
  );
  t.match(e.text, /encrypted for the readers \(not shown\)/);

  const g = await get('/console/gateway/gw-1');
  t.equal(g.status, 200);
  t.match(g.text, /blocks registered<\/th><td>6</);
  t.match((await get('/console/entries?from=1')).text, /href="\/console\/entry\/12"/);
  t.match((await get('/console/gateways')).text, /gw-2/);
  t.match((await get('/console/checkpoints')).text, /verifies with notary notary-1/);
  t.match((await get('/console/anchors')).text, /<td>regional<\/td>/);
});

t.test('evidence and revocations', async (t) => {
  const q = await get('/console/equivocations');
  t.match(q.text, /<td>gw-1<\/td><td>3<\/td>/, 'the equivocation of gw-1 seq 3');
  t.match(q.text, /verifies with gateway gw-1/, 'the conflicting header is validly signed');
  const c = await get('/console/crls');
  t.match(
    c.text,
    new RegExp(
      `${gw2.signing.serial}</code></td><td>[^<]+</td><td>keyCompromise</td><td>gateway gw-2`,
    ),
  );
});

t.test('find by height and by time', async (t) => {
  const h = await get('/console/entry/go?height=7');
  t.equal(h.status, 303);
  t.equal(h.headers.get('location'), '/console/entry/7');
  const at = await get('/console/time?at=2000-01-01T00:00:00Z');
  t.equal(at.status, 303);
  t.equal(at.headers.get('location'), '/console/entries?from=1');
  const later = new Date(Date.now() + 86_400_000).toISOString();
  t.equal((await get(`/console/time?at=${later}`)).status, 404, 'nothing after tomorrow');
});

t.test('bad and unknown input: an error page, never a stack trace', async (t) => {
  const cases: [string, number, RegExp][] = [
    ['/console/entry/0', 400, /positive integer/],
    ['/console/entry/abc', 400, /positive integer/],
    ['/console/entry/1e3', 400, /positive integer/],
    ['/console/entry/-1', 400, /positive integer/],
    ['/console/entry/99999', 404, /no entry at height 99999/],
    ['/console/entry/99999999999999999999', 400, /positive integer/],
    ['/console/entry/%E0%A4%A', 400, /percent-encoding/],
    ['/console/entry/go?height=%3Cb%3E', 400, /positive integer/],
    ['/console/gateway/gw-9', 404, /no gateway &#39;gw-9&#39;/],
    ['/console/entries?from=500', 404, /no entry at height 500/],
    ['/console/entries?from=x', 400, /positive integer/],
    ['/console/time?at=yesterday', 400, /ISO 8601/],
    ['/console/nothing', 404, /no console page/],
  ];
  const before = [await errors('CONSOLE_BAD_REQUEST'), await errors('CONSOLE_NOT_FOUND')];
  for (const [path, status, re] of cases) {
    const r = await get(path);
    t.equal(r.status, status, path);
    t.match(r.text, re, `${path} says why`);
    t.match(r.headers.get('content-type'), /^text\/html/);
    t.notMatch(r.text, /\n\s+at |Error:/, `${path}: no stack trace`);
  }
  const n = (s: number) => cases.filter((c) => c[1] === s).length;
  t.equal(await errors('CONSOLE_BAD_REQUEST'), before[0]! + n(400), 'each 400 counted by code');
  t.equal(await errors('CONSOLE_NOT_FOUND'), before[1]! + n(404), 'each 404 counted by code');
});

t.test('what a URL carries is escaped, never markup', async (t) => {
  const r = await get('/console/gateway/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
  t.equal(r.status, 404);
  t.notMatch(r.text, /<script>/);
  t.match(r.text, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  const q = await get('/console/entries?from=%22%3E%3Cimg%20src=x%3E');
  t.equal(q.status, 400);
  t.notMatch(q.text, /<img/);
});

t.test('the console is read-only', async (t) => {
  const r = await fetch(`${base}/console`, { method: 'POST' });
  t.equal(r.status, 405);
});
