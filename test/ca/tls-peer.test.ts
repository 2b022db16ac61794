import type { PeerCertificate } from 'node:tls';
import t from 'tap';
import { tlsPeerIdentity } from '../../ca/tls-peer.js';

const peer = (san: string, eku: string[]) =>
  ({ subjectaltname: san, ext_key_usage: eku }) as unknown as PeerCertificate;
const SERVER = '1.3.6.1.5.5.7.3.1';

t.test('a TLS server is accepted only as the participant its certificate names', async (t) => {
  t.equal(tlsPeerIdentity(peer('URI:urn:medchain:notary:n1', [SERVER]), 'notary', 'n1'), undefined);
  t.match(
    tlsPeerIdentity(peer('URI:urn:medchain:notary:n2', [SERVER]), 'notary', 'n1'),
    /not notary 'n1'/,
  );
  t.match(
    tlsPeerIdentity(peer('URI:urn:medchain:gateway:n1', [SERVER]), 'notary', 'n1'),
    /not notary/,
  );
  t.match(tlsPeerIdentity(peer('IP Address:127.0.0.1', [SERVER]), 'notary', 'n1'), /no URI SAN/);
  t.match(
    tlsPeerIdentity(peer('URI:urn:medchain:notary:n1', []), 'notary', 'n1'),
    /extendedKeyUsage/,
  );
  t.match(
    tlsPeerIdentity(peer('URI:urn:medchain:notary:n1x', [SERVER]), 'notary', 'n1'),
    /not notary/,
    'no prefix match',
  );
});
