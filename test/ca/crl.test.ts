import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import t from 'tap';
import { CertificateAuthority } from '../../ca/authority.js';
import { createCrl, crlNumberOf, writeCrl } from '../../ca/crl.js';
import { CaCode } from '../../ca/errors.js';
import { CRL_TOPIC, publishCrl } from '../../ca/publish.js';
import { validateCertificate } from '../../ca/validate.js';
import { X509Crl } from '../../ca/x509.js';
import { Token } from '../../hsm/token.js';
import { initCa, openssl, participantCsr, tempDir, tokens } from '../helpers/ca.js';
import { USER_PIN } from '../helpers/softhsm.js';

const tok = tokens(t, ['trent', 'clinic']);
const clinic = tok.clinic!;
const dir = tempDir(t);
const dbPath = join(dir, 'ca.db');
const first = await initCa(tok.trent!, dbPath);
writeFileSync(join(dir, 'root.pem'), first.rootPem);
const keep = (
  await first.issue({
    csr: await participantCsr(clinic, 'gw', 'gateway', 'gw-keep'),
    role: 'gateway',
    id: 'gw-keep',
  })
).certificate;
const gone = (
  await first.issue({
    csr: await participantCsr(clinic, 'gw2', 'gateway', 'gw-gone'),
    role: 'gateway',
    id: 'gw-gone',
  })
).certificate;
writeFileSync(join(dir, 'keep.pem'), keep.toString('pem'));
writeFileSync(join(dir, 'gone.pem'), gone.toString('pem'));
await first.revoke(gone.serialNumber, 'keyCompromise');
const firstCrl = await createCrl(first);
await first.close();
tok.trent!.close();

t.test('issuance and revocation survive a restart of the CA (db and token reopened)', async (t) => {
  const token = Token.open({ label: 'trent', pin: USER_PIN, sessions: 1 });
  t.teardown(() => token.close());
  const ca = await CertificateAuthority.open({ dbPath, signer: token });
  t.teardown(() => ca.close());
  const list = await ca.list();
  t.same(
    list.map((c) => [c.role, c.id, c.revocation?.reason ?? null]),
    [
      ['ca', 'trent', null],
      ['gateway', 'gw-keep', null],
      ['gateway', 'gw-gone', 'keyCompromise'],
    ],
  );
  t.equal(ca.rootPem, first.rootPem, 'the same root');
  await t.rejects(
    ca.issue({
      csr: await participantCsr(clinic, 'gw3', 'gateway', 'gw-keep'),
      role: 'gateway',
      id: 'gw-keep',
    }),
    { code: CaCode.DuplicateId },
    'the duplicate check sees the issued certificate',
  );
  await t.rejects(ca.revoke(gone.serialNumber, 'superseded'), { code: CaCode.AlreadyRevoked });

  const crl = await createCrl(ca, { days: 2 });
  await writeCrl(join(dir, 'crl.pem'), crl);
  t.equal(crlNumberOf(firstCrl), 1);
  t.equal(crlNumberOf(crl), 2, 'the CRL Number continues after number 1, made before the restart');
  t.ok(crl.findRevoked(gone), 'the CRL made after the restart lists the revocation');
  t.notOk(crl.findRevoked(keep));

  const check = openssl(['crl', '-CAfile', 'root.pem', '-in', 'crl.pem', '-noout'], dir);
  t.equal(check.status, 0, check.out);
  t.match(check.out, /verify OK/);
  const text = openssl(['crl', '-in', 'crl.pem', '-noout', '-text'], dir).out;
  t.match(text, /Next Update:/);
  t.match(text, /Key Compromise/);
  t.match(text, new RegExp(gone.serialNumber, 'i'));

  const revoked = openssl(
    ['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'root.pem', 'gone.pem'],
    dir,
  );
  t.not(revoked.status, 0);
  t.match(revoked.out, /certificate revoked/);
  const fine = openssl(
    ['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'root.pem', 'keep.pem'],
    dir,
  );
  t.equal(fine.status, 0, fine.out);

  const v = await validateCertificate(gone, {
    root: ca.rootPem,
    crl: readFileSync(join(dir, 'crl.pem'), 'utf8'),
    role: 'gateway',
    at: new Date(),
    skewMs: 0,
  });
  t.match(v, { ok: false, reason: 'revoked' });
});

/** A real aedes broker on an ephemeral localhost port. */
async function broker(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => aedes.close(() => resolve()));
      }),
  );
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
  return `mqtt://127.0.0.1:${addr.port}`;
}

t.test('the CRL is published as a retained QoS 1 message that later subscribers get', async (t) => {
  const url = await broker(t);
  const token = Token.open({ label: 'trent', pin: USER_PIN, sessions: 1 });
  t.teardown(() => token.close());
  const ca = await CertificateAuthority.open({ dbPath, signer: token });
  t.teardown(() => ca.close());
  const crl = await createCrl(ca);
  await publishCrl(url, crl);

  // A broker that connects afterwards: retained, so it still receives the CRL.
  const sub = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => sub.endAsync(true));
  const got = new Promise<{ topic: string; payload: Buffer; retain: boolean }>((resolve) =>
    sub.once('message', (topic, payload, packet) =>
      resolve({ topic, payload, retain: packet.retain }),
    ),
  );
  await sub.subscribeAsync(CRL_TOPIC, { qos: 1 });
  let timer: NodeJS.Timeout | undefined;
  const msg = await Promise.race([
    got,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no retained CRL within 60 s')), 60_000);
    }),
  ]).finally(() => clearTimeout(timer));
  t.equal(msg.topic, CRL_TOPIC);
  t.equal(msg.retain, true, 'delivered as a retained message');
  t.same(Buffer.compare(msg.payload, Buffer.from(crl.rawData)), 0, 'DER bytes as signed');
  const received = new X509Crl(msg.payload);
  t.ok(await received.verify({ publicKey: ca.root.publicKey }), 'the received CRL verifies');
  t.ok(received.findRevoked(gone));
});

t.test(
  'publishing to a broker that is not there is CA_PUBLISH_FAILED, in bounded time',
  async (t) => {
    const token = Token.open({ label: 'trent', pin: USER_PIN, sessions: 1 });
    t.teardown(() => token.close());
    const ca = await CertificateAuthority.open({ dbPath, signer: token });
    t.teardown(() => ca.close());
    const crl = await createCrl(ca);
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const addr = closed.address();
    await new Promise((r) => closed.close(r));
    if (addr === null || typeof addr === 'string') throw new Error('no TCP address');
    await t.rejects(publishCrl(`mqtt://127.0.0.1:${addr.port}`, crl, { timeoutMs: 3000 }), {
      code: CaCode.PublishFailed,
    });
  },
);
