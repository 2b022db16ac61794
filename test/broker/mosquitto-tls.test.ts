/**
 * A standard MQTT client, Mosquitto's own `mosquitto_sub`, reaches a real notary over
 * TLS with host-name verification on (no --insecure): the notary's TLS certificate names
 * localhost and 127.0.0.1, and its client certificate from Trent admits it as gw-1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createCsr } from '../../ca/csr.js';
import { softwareDigestSigner } from '../../ca/keys.js';
import { verifyReceipt } from '../../core/receipt.js';
import { decodeAnswer, topics } from '../../core/submit.js';
import { createTestPki, type PkiParticipant } from '../helpers/pki.js';
import { BlockMaker, connectAs, startNotary } from './helpers.js';

const pki = await createTestPki(t);
const gw = await pki.participant('gateway', 'gw-1');
const gwSigner = await pki.signer(gw);

interface Sub {
  child: ChildProcess;
  subscribed: Promise<void>;
  done: Promise<{ code: number | null; out: string }>;
}

/** mosquitto_sub for one message on `topic`, payload printed as hex; bounded to 30 s. */
function mosquittoSub(
  t: Test,
  host: string,
  port: number,
  topic: string,
  extra: string[] = [],
): Sub {
  const args = [
    ...['-h', host, '-p', String(port), '-V', 'mqttv311', '-q', '1', '-d'],
    ...['--cafile', pki.rootPath, '--cert', gw.tls.path, '--key', gw.tls.keyPath],
    ...['-i', 'gw-1-sub', '-t', topic, '-C', '1', '-F', 'payload:%x', '-W', '30'],
    ...extra,
  ];
  // stdbuf: mosquitto_sub block-buffers a pipe, and the SUBACK line is what we wait on.
  const child = spawn('stdbuf', ['-oL', 'mosquitto_sub', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let onSub: () => void = () => {};
  const subscribed = new Promise<void>((resolve) => {
    onSub = resolve;
  });
  const collect = (chunk: Buffer) => {
    out += chunk.toString();
    if (/received SUBACK/i.test(out)) onSub();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const done = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, out })),
  );
  return { child, subscribed, done };
}

for (const host of ['localhost', '127.0.0.1']) {
  t.test(`mosquitto_sub -h ${host} --cafile root.pem gets a verifiable receipt`, async (t) => {
    const me = await pki.participant('notary', `nt-${host.replace(/\./g, '-')}`);
    const notary = await startNotary(t, pki, me, [gw]);
    const topic = topics.receipt(me.id, 'gw-1');
    const sub = mosquittoSub(t, host, notary.broker.port, topic);
    await Promise.race([sub.subscribed, sub.done.then((r) => Promise.reject(new Error(r.out)))]);
    const pub = await connectAs(t, pki, gw, notary.broker.port, 'gw-1-pub');
    const b = await new BlockMaker('gw-1', gwSigner).next();
    await pub.publishAsync(topics.submit(me.id, 'gw-1'), Buffer.from(b.bytes), { qos: 1 });
    const { code, out } = await sub.done;
    t.equal(code, 0, 'mosquitto_sub received one message and exited');
    const hex = /payload:([0-9a-f]+)/.exec(out)?.[1] ?? '';
    const a = decodeAnswer(new Uint8Array(Buffer.from(hex, 'hex')));
    t.ok(a.ok && a.value.kind === 'registered' && a.value.seq === b.header.seq, 'registered');
    if (a.ok && a.value.kind === 'registered') {
      const v = verifyReceipt(a.value.receipt, createPublicKey(me.signing.pem), me.signing.kid);
      t.ok(v.ok, 'the receipt mosquitto_sub printed verifies with the notary certificate');
    }
  });
}

/** The notary's TLS certificate replaced by one Trent issued without host names. */
async function withoutHosts(p: PkiParticipant): Promise<PkiParticipant> {
  await pki.ca.revoke(p.tls.serial, 'superseded');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = await createCsr({
    signer: softwareDigestSigner(privateKey),
    keyLabel: 'tls',
    spki: publicKey.export({ format: 'der', type: 'spki' }),
    role: p.role,
    id: p.id,
  });
  const cert = await pki.ca.issue({ role: p.role, id: p.id, csr, purpose: 'tls' });
  const keyPath = join(pki.dir, `${p.id}.nohost.key`);
  writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const pem = cert.certificate.toString('pem');
  return { ...p, tls: { ...p.tls, pem, keyPath, keyPem: '' } };
}

t.test('without host names in its certificate, mosquitto_sub refuses the notary', async (t) => {
  const me = await withoutHosts(await pki.participant('notary', 'nt-nohost'));
  const notary = await startNotary(t, pki, me, [gw]);
  const topic = topics.receipt(me.id, 'gw-1');
  const refused = await mosquittoSub(t, '127.0.0.1', notary.broker.port, topic).done;
  t.not(refused.code, 0, 'host name verification fails');
  t.match(refused.out, /certificate verify failed|tls|TLS|protocol error/i);
  // The control: the same connection without host-name checks is admitted and subscribes.
  const insecure = mosquittoSub(t, '127.0.0.1', notary.broker.port, topic, ['--insecure']);
  await Promise.race([
    insecure.subscribed,
    insecure.done.then((r) => Promise.reject(new Error(r.out))),
  ]);
  insecure.child.kill('SIGTERM');
  t.pass('admitted with --insecure: the host names were the difference');
});
