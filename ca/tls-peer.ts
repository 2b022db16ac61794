import type { PeerCertificate } from 'node:tls';
import type { Role } from './identity.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/**
 * For TLS clients' checkServerIdentity: the server's certificate (whose chain to
 * Trent TLS already checked) must name the expected participant in its SAN URI
 * urn:medchain:{role}:{id} and be a TLS certificate (extendedKeyUsage serverAuth).
 * medchain identities are not DNS names, so the host name is not what is checked.
 */
export function tlsPeerIdentity(cert: PeerCertificate, role: Role, id: string): Error | undefined {
  const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:'));
  if (!uris.includes(`URI:urn:medchain:${role}:${id}`)) {
    return new Error(`the TLS peer is not ${role} '${id}' (${uris.join(' ') || 'no URI SAN'})`);
  }
  if (!(cert.ext_key_usage ?? []).includes(SERVER_AUTH)) {
    return new Error('the TLS peer certificate is not a TLS server certificate (extendedKeyUsage)');
  }
  return undefined;
}
