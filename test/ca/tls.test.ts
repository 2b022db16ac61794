import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import t from 'tap';
import { validateCertificate } from '../../ca/validate.js';
import { initCa, openssl, participantCsr, tempDir, tokens } from '../helpers/ca.js';

const tok = tokens(t, ['trent', 'clinic']);
const dir = tempDir(t);
const ca = await initCa(tok.trent!, join(dir, 'ca.db'));
t.teardown(() => ca.close());
writeFileSync(join(dir, 'root.pem'), ca.rootPem);

/** A software TLS key and its CSR, made by OpenSSL as an operator would. */
function tlsCsr(role: string, id: string): { key: string; csr: string } {
  const key = join(dir, `${id}.tls.key`);
  const csr = join(dir, `${id}.tls.csr`);
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  execFileSync('openssl', [
    'req',
    '-new',
    '-key',
    key,
    '-subj',
    `/O=medchain/OU=${role}/CN=${id}`,
    '-out',
    csr,
  ]);
  return { key: readFileSync(key, 'utf8'), csr: readFileSync(csr, 'utf8') };
}

const signing = (
  await ca.issue({
    role: 'gateway',
    id: 'gw-1',
    csr: await participantCsr(tok.clinic!, 'gw', 'gateway', 'gw-1'),
  })
).certificate;
const gwTls = tlsCsr('gateway', 'gw-1');
const gwTlsCert = (await ca.issue({ role: 'gateway', id: 'gw-1', csr: gwTls.csr, purpose: 'tls' }))
  .certificate;
const ntTls = tlsCsr('notary', 'notary-1');
const ntTlsCert = (
  await ca.issue({ role: 'notary', id: 'notary-1', csr: ntTls.csr, purpose: 'tls' })
).certificate;

const policy = {
  root: ca.rootPem,
  role: 'gateway' as const,
  id: 'gw-1',
  at: new Date(),
  skewMs: 60_000,
};

t.test('one participant holds a signing and a TLS certificate, never two of a kind', async (t) => {
  t.match(await validateCertificate(signing, policy), { ok: true });
  t.match(await validateCertificate(gwTlsCert, { ...policy, purpose: 'tls' }), {
    ok: true,
    id: 'gw-1',
  });
  t.match(
    await validateCertificate(gwTlsCert, policy),
    { ok: false, reason: 'key-usage' },
    'TLS cert as signing',
  );
  t.match(await validateCertificate(signing, { ...policy, purpose: 'tls' }), {
    ok: false,
    reason: 'key-usage',
  });
  await t.rejects(
    ca.issue({ role: 'gateway', id: 'gw-1', csr: tlsCsr('gateway', 'gw-1').csr, purpose: 'tls' }),
    {
      code: 'CA_DUPLICATE_ID',
    },
  );
  await t.rejects(
    ca.issue({ role: 'reader', id: 'r-1', readerSpki: new Uint8Array(91), purpose: 'tls' }),
    { code: 'CA_NO_PROOF_OF_POSSESSION' },
  );
  writeFileSync(join(dir, 'gw.tls.pem'), gwTlsCert.toString('pem'));
  const v = openssl(['verify', '-purpose', 'sslclient', '-CAfile', 'root.pem', 'gw.tls.pem'], dir);
  t.equal(v.status, 0, v.out);
});

t.test('the TLS certificates carry a mutually authenticated TLS 1.3 session', async (t) => {
  const server = createServer({
    key: ntTls.key,
    cert: ntTlsCert.toString('pem'),
    ca: ca.rootPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  const accepted = once(server, 'secureConnection') as Promise<[TLSSocket]>;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const client = connect({
    host: '127.0.0.1',
    port,
    key: gwTls.key,
    cert: gwTlsCert.toString('pem'),
    ca: ca.rootPem,
    servername: 'notary-1',
    checkServerIdentity: () => undefined,
  });
  await once(client, 'secureConnect');
  const [socket] = await accepted;
  t.ok(client.authorized, 'the client trusts the notary through Trent');
  t.match(socket.getPeerCertificate().subject, { CN: 'gw-1', OU: 'gateway' });
  client.end();
  socket.end();
});
