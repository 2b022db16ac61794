/**
 * The ops kit against the real services: the notary's and the gateway's /metrics pass
 * `promtool check metrics`, carry the process, build and HSM signer metrics and the
 * certificate expiry gauge, and every metric the Grafana dashboard or the alert rules
 * name is one of the metrics the two services really expose.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { medchainVersion } from '../../ops/build-info.js';
import { runCli, serviceKit } from '../cli/services.js';

const DEPLOY = join(import.meta.dirname, '..', '..', 'deploy');
const kit = await serviceKit(t);

const notary = runCli(t, ['notary', '--config', kit.notaryConfig()], kit.dir);
const notaryReady = await notary.line('notary ready');
const gateway = runCli(
  t,
  ['gateway', '--config', kit.gatewayConfig(Number(notaryReady.mqtt))],
  kit.dir,
);
const gatewayReady = await gateway.line('gateway ready');
await gateway.line('uplink connected');

const scrape = async (port: unknown) => {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics on ${port}: HTTP ${res.status}`);
  return res.text();
};
const metrics = {
  notary: await scrape(notaryReady.http),
  gateway: await scrape(gatewayReady.httpPort),
};

/** Metric names a PromQL expression can use, from the # TYPE lines of an exposition. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

const sample = (text: string, re: RegExp): number => {
  const m = re.exec(text);
  return m ? Number(m[1]) : Number.NaN;
};

for (const [service, text] of Object.entries(metrics)) {
  t.test(`${service}: promtool check metrics`, async (t) => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    t.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    t.equal(`${r.stdout}${r.stderr}`, '', 'no lint findings');
    t.notMatch(text, /nodejs_active_\w+_total/, 'no misnamed prom-client gauge');
  });

  t.test(`${service}: process, build and HSM signer metrics`, async (t) => {
    t.match(text, /^process_cpu_seconds_total \d/m);
    t.match(text, /^process_resident_memory_bytes \d/m);
    t.match(text, /^nodejs_eventloop_lag_p99_seconds \d/m);
    t.match(
      text,
      `medchain_build_info{version="${medchainVersion()}",node="${process.version}"} 1`,
    );
    t.match(text, /^medchain_hsm_signer_up\{token="pki-parts"\} 1$/m);
    t.match(text, /^medchain_hsm_signer_restarts_total\{token="pki-parts"\} 0$/m);
    const pid = sample(text, /^medchain_hsm_signer_pid\{token="pki-parts"\} (\d+)$/m);
    t.ok(pid > 0, `signer pid ${pid}`);
    t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /signer-worker/, 'the pid is the signer');
    t.ok(
      sample(text, /^medchain_hsm_signer_resident_memory_bytes\{token="pki-parts"\} (\d+)$/m) >
        1 << 20,
      'signer RSS read from /proc',
    );
    t.ok(
      sample(text, /^medchain_hsm_signer_cpu_seconds_total\{token="pki-parts"\} ([\d.]+)$/m) > 0,
    );
  });
}

t.test('certificate expiry gauges: notAfter of each certificate the service uses', async (t) => {
  const own = new X509Certificate(readFileSync(join(kit.dir, 'gw-1.sign.pem')));
  const notAfter = Math.floor(new Date(own.validTo).getTime() / 1000);
  const serial = own.serialNumber.toLowerCase();
  t.match(
    metrics.gateway,
    `medchain_certificate_expiry_timestamp_seconds{usage="signing",role="gateway",id="gw-1",serial="${serial}"} ${notAfter}`,
  );
  for (const [service, usages] of [
    ['gateway', ['signing', 'root', 'peer', 'tls']],
    ['notary', ['signing', 'root', 'peer', 'tls']],
  ] as const) {
    for (const u of usages) {
      t.match(
        metrics[service],
        new RegExp(
          `^medchain_certificate_expiry_timestamp_seconds\\{usage="${u}",.*\\} \\d{10}$`,
          'm',
        ),
        `${service} watches a ${u} certificate`,
      );
    }
  }
  t.match(metrics.notary, /usage="peer",role="gateway",id="gw-1"/, 'the notary watches gw-1');
});

const exposed = new Set(['up', ...exposedNames(metrics.notary), ...exposedNames(metrics.gateway)]);
const namesIn = (text: string) =>
  new Set([
    ...[...text.matchAll(/\b(?:medchain|process|nodejs)_[a-z0-9_]+\b/g)].map((m) => m[0]),
    ...(/\bup\{/.test(text) ? ['up'] : []),
  ]);

t.test('every metric the Grafana dashboard queries exists', async (t) => {
  const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'medchain-dashboard.json'), 'utf8'));
  const exprs: string[] = [];
  for (const p of dash.panels as { targets?: { expr: string }[] }[]) {
    for (const target of p.targets ?? []) exprs.push(target.expr);
  }
  t.ok(exprs.length >= 20, `${exprs.length} queries`);
  const used = namesIn(exprs.join('\n'));
  t.ok(used.size >= 25, `${used.size} metrics used`);
  t.same(
    [...used].filter((n) => !exposed.has(n)),
    [],
    'no unknown metric',
  );
});

t.test('every metric the alert rules name exists', async (t) => {
  const used = namesIn(readFileSync(join(DEPLOY, 'prometheus', 'medchain-alerts.yml'), 'utf8'));
  t.ok(used.size >= 8, `${used.size} metrics used`);
  t.same(
    [...used].filter((n) => !exposed.has(n)),
    [],
    'no unknown metric',
  );
});
