/**
 * The notary and its own certificates: a warning (log line, gauge, /readyz note) within
 * 30 days of expiry, and CA_CERT_EXPIRED instead of a start on an expired one.
 */
import t from 'tap';
import { CaCode } from '../../ca/errors.js';
import { createLogger } from '../../ops/log.js';
import { createTestPki } from '../helpers/pki.js';
import { startNotary } from './helpers.js';

const pki = await createTestPki(t);
const DAY = 86_400_000;

t.test('expiring within 30 days: warned, counted in the gauge, still ready', async (t) => {
  const me = await pki.participant('notary', 'nt-soon', { days: 12 });
  const lines: string[] = [];
  const log = createLogger({
    name: 'notary',
    level: 'warn',
    destination: { write: (l: string) => lines.push(l) },
  });
  const notary = await startNotary(t, pki, me, [], { log });
  t.ok(
    lines.some(
      (l) =>
        l.includes('certificate expires within 30 days') && l.includes('"certificate":"signing"'),
    ),
  );
  t.ok(
    lines.some((l) => l.includes('"certificate":"tls"')),
    'both certificates are watched',
  );
  const base = `http://127.0.0.1:${notary.http?.port}`;
  const ready = await fetch(`${base}/readyz`);
  t.equal(ready.status, 200);
  t.match(await ready.text(), /certificate signing expiring: notAfter \d{4}-/);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const secs = Number(
    /medchain_notary_certificate_expiry_seconds\{certificate="signing"\} (\S+)/.exec(metrics)?.[1],
  );
  t.ok(secs > 11 * 86_400 && secs <= 12 * 86_400, `about 12 days left (${secs} s)`);
});

t.test('expired: the notary does not start, CA_CERT_EXPIRED names the certificate', async (t) => {
  const me = await pki.participant('notary', 'nt-old', {
    notBefore: new Date(Date.now() - 40 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  await t.rejects(startNotary(t, pki, me, []), {
    code: CaCode.CertExpired,
    message:
      /notary 'nt-old': certificate signing \(expired .*\), tls \(expired .*medchain ca renew/,
  });
});
