/**
 * Certificate expiry as an operator meets it: the built CLI gateway warns (log line,
 * gauge, /readyz detail) when its certificate expires within 30 days, refuses to start
 * on an expired one with CA_CERT_EXPIRED (exit 2), and `medchain ca renew` makes a
 * fresh certificate for the same token key in one command.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { certificateExpiry } from '../../ca/expiry.js';
import { X509Certificate } from '../../ca/x509.js';
import { USER_PIN } from '../helpers/softhsm.js';
import { within } from './helpers.js';
import { NotaryResponder } from './notary-responder.js';
import { pki } from './pki.js';

const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');
if (!existsSync(BIN)) throw new Error(`${BIN} missing: run 'npm run build' first (npm test does)`);

const p = await pki(t);
const dir = p.dir;
const env = { ...process.env, MEDCHAIN_HSM_PIN: USER_PIN, MEDCHAIN_LOG_LEVEL: 'info' };
writeFileSync(join(dir, 'root.pem'), p.rootPem);
writeFileSync(join(dir, 'notary.pem'), p.notaryPem);
const gwSerial = new X509Certificate(p.gwPem).serialNumber;
const readerPem = createPublicKey({
  key: {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.from(p.reader.publicKey.subarray(1, 33)).toString('base64url'),
    y: Buffer.from(p.reader.publicKey.subarray(33)).toString('base64url'),
  },
  format: 'jwk',
}).export({ format: 'pem', type: 'spki' });
writeFileSync(join(dir, 'reader.pem'), readerPem);

const responder = new NotaryResponder({
  notaryId: p.notaryId,
  gatewayId: p.gatewayId,
  gatewayKey: p.gwPublicKey,
  signer: p.notarySigner,
  wrongSigner: p.notarySigner,
});
await responder.start();
t.teardown(() => responder.stop());

function config(name: string, certificate: string): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      gatewayId: p.gatewayId,
      db: `${name}.db`,
      certificate,
      root: 'root.pem',
      hsm: { token: 'clinic', key: 'gw' },
      readers: [{ kid: p.reader.kid, publicKey: 'reader.pem' }],
      devices: { port: 0 },
      http: { port: 0 },
      notary: {
        id: p.notaryId,
        url: `mqtt://127.0.0.1:${responder.port}`,
        certificate: 'notary.pem',
      },
    }),
  );
  return file;
}

/** Runs the gateway until it logs 'gateway ready' (→ its lines and HTTP port) or exits. */
function runGateway(t: { teardown(fn: () => unknown): void }, file: string) {
  const child = spawn(process.execPath, [BIN, 'gateway', '--config', file], {
    env,
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
  return new Promise<
    | { ready: true; httpPort: number; lines: string[] }
    | { ready: false; code: number | null; lines: string[] }
  >((resolve) => {
    const timer = setInterval(() => {
      const line = lines.find((l) => l.includes('"gateway ready"'));
      if (line) {
        clearInterval(timer);
        resolve({
          ready: true,
          httpPort: (JSON.parse(line) as { httpPort: number }).httpPort,
          lines,
        });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      resolve({ ready: false, code, lines });
    });
  });
}

const medchain = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { env, cwd: dir, encoding: 'utf8' });

t.test(
  'ca renew: one command, same key, a fresh validity; the old one is not revoked',
  async (t) => {
    const r = medchain(
      'ca',
      'renew',
      '--db',
      'ca.db',
      '--token',
      'trent',
      '--serial',
      gwSerial,
      '--days',
      '400',
      '--out',
      'renewed.pem',
    );
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /renewed gateway 'gw-1'/);
    const renewed = new X509Certificate(readFileSync(join(dir, 'renewed.pem'), 'utf8'));
    const old = new X509Certificate(p.gwPem);
    t.same(
      Buffer.from(renewed.publicKey.rawData),
      Buffer.from(old.publicKey.rawData),
      'the same token key',
    );
    t.not(renewed.serialNumber, old.serialNumber);
    t.ok(renewed.notAfter.getTime() > old.notAfter.getTime(), 'valid for longer');
    t.equal(certificateExpiry('signing', renewed).state, 'ok');
    const list = JSON.parse(medchain('ca', 'list', '--db', 'ca.db', '--json').stdout) as {
      serial: string;
      revocation?: unknown;
    }[];
    t.notOk(
      list.find((c) => c.serial === gwSerial.toLowerCase())?.revocation,
      'the old certificate stays unrevoked',
    );
    for (const [args, code] of [
      [['--serial', 'ffff'], /CA_SERIAL_UNKNOWN/],
      [['--serial', gwSerial, '--days', 'x'], /CA_BAD_VALIDITY/],
    ] as const) {
      const bad = medchain(
        'ca',
        'renew',
        '--db',
        'ca.db',
        '--token',
        'trent',
        '--out',
        'bad.pem',
        ...args,
      );
      t.equal(bad.status, 2);
      t.match(bad.stderr, code);
    }
    t.notOk(existsSync(join(dir, 'bad.pem')));
  },
);

t.test(
  'a certificate expiring within 30 days: log line, gauge and /readyz, still ready',
  async (t) => {
    const soon = await p.ca.renew(gwSerial, { days: 10 });
    writeFileSync(join(dir, 'soon.pem'), soon.certificate.toString('pem'));
    const g = await within(60_000, 'gateway start', runGateway(t, config('soon', 'soon.pem')));
    if (!g.ready) return t.fail(`gateway did not start: ${g.lines.join('\n')}`);
    t.ok(
      g.lines.some(
        (l) =>
          l.includes('certificate expires within 30 days') && l.includes('"certificate":"signing"'),
      ),
      'one warning line names the certificate',
    );
    const ready = await fetch(`http://127.0.0.1:${g.httpPort}/readyz`);
    t.equal(ready.status, 200, 'a warning does not take the gateway out of service');
    t.match(await ready.json(), {
      detail: { certificates: [{ certificate: 'signing', state: 'expiring' }] },
    });
    const metrics = await (await fetch(`http://127.0.0.1:${g.httpPort}/metrics`)).text();
    const secs = Number(
      /medchain_gateway_certificate_expiry_seconds\{certificate="signing"\} (\S+)/.exec(
        metrics,
      )?.[1],
    );
    t.ok(secs > 9 * 86_400 && secs <= 10 * 86_400, `gauge says about 10 days (${secs} s)`);
  },
);

t.test(
  'an expired certificate: the gateway refuses to start, CA_CERT_EXPIRED, exit 2',
  async (t) => {
    const past = new Date(Date.now() - 40 * 86_400_000);
    const expired = await p.ca.renew(gwSerial, { days: 10, now: past });
    writeFileSync(join(dir, 'expired.pem'), expired.certificate.toString('pem'));
    const g = await within(60_000, 'gateway exit', runGateway(t, config('expired', 'expired.pem')));
    t.equal(g.ready, false, 'it does not start');
    if (g.ready) return;
    t.equal(g.code, 2);
    t.ok(
      g.lines.some((l) => /CA_CERT_EXPIRED: gateway 'gw-1': certificate signing \(expired/.test(l)),
      g.lines.join('\n'),
    );
    t.ok(
      g.lines.some((l) => l.includes('medchain ca renew')),
      'and says how to renew',
    );
  },
);
