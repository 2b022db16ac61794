import { once } from 'node:events';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import t from 'tap';
import { CrlFollower } from '../../broker/crl-follower.js';
import { publishCrl } from '../../ca/publish.js';
import { createTestPki } from '../helpers/pki.js';
import { connectAs, startNotary } from './helpers.js';

const pki = await createTestPki(t);
const me = await pki.participant('notary', 'notary-1');
const gw1 = await pki.participant('gateway', 'gw-1');

t.test('a CRL published by the CA on another broker reaches the notary', async (t) => {
  // The clinic's plain broker, where `medchain ca` publishes its CRL (ca/publish.ts).
  const bus = await Aedes.createBroker();
  const server = createServer(bus.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => bus.close(() => server.close(() => r()))));
  const addr = server.address();
  const url = `mqtt://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  const notary = await startNotary(t, pki, me, [gw1]);
  const installed = new Promise<void>((resolve) => {
    const follower = new CrlFollower({
      url,
      trust: notary.trust,
      clientId: 'notary-1-crl',
      onInstalled: () => {
        void notary.broker.recheckClients();
        resolve();
      },
    });
    t.teardown(() => follower.stop());
  });
  const gw = await connectAs(t, pki, gw1, notary.broker.port);
  const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()));
  await pki.revoke(gw1.tls.serial);
  await publishCrl(url, await pki.writeCrl());
  await installed;
  await closed;
  t.pass('the gateway whose TLS certificate was revoked is disconnected');
  await t.rejects(connectAs(t, pki, gw1, notary.broker.port, 'gw-1-b'), /Not authorized/i);
});
