import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../ops/log.js';
import { CaCode, CaError } from './errors.js';
import { PemConverter, X509Crl } from './x509.js';

/** A CRL file larger than this is not Trent's (each revocation costs ~40 bytes). */
export const MAX_CRL_FILE_BYTES = 4 * 1024 * 1024;

export interface CrlServerOptions {
  /** The CRL file `medchain ca crl` writes (PEM or DER); read again at every request. */
  crlPath: string;
  /** Trent's root (PEM), served on /root.pem so a relying party can fetch it once. */
  rootPem?: string | undefined;
  host: string;
  port: number;
  log?: Logger | undefined;
}

export interface CrlServer {
  readonly url: string;
  close(): Promise<void>;
}

/** DER of the CRL file: PEM is unwrapped; either must parse as a CRL. */
export async function crlDer(path: string): Promise<Buffer> {
  const data = await readFile(path);
  if (data.length > MAX_CRL_FILE_BYTES) throw new Error(`over ${MAX_CRL_FILE_BYTES} bytes`);
  const der = data.includes('-----BEGIN')
    ? Buffer.from(PemConverter.decodeFirst(data.toString('utf8')))
    : data;
  new X509Crl(der);
  return der;
}

/**
 * The CRL Distribution Point that certificates name (`ca init --crl-url`): GET /crl
 * answers the current CRL as DER, `application/pkix-crl` (RFC 5280 §4.2.1.13, RFC 2585
 * §4). It serves a file and holds no key: signing stays on Trent's token
 * (`medchain ca crl`, run by cron before nextUpdate), and the CRL authenticates itself.
 */
export async function startCrlServer(o: CrlServerOptions): Promise<CrlServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/root.pem' && o.rootPem !== undefined) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(o.rootPem);
      return;
    }
    if (path !== '/crl') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /crl\n');
      return;
    }
    crlDer(o.crlPath).then(
      (der) => {
        res
          .writeHead(200, { 'content-type': 'application/pkix-crl', 'cache-control': 'no-cache' })
          .end(req.method === 'HEAD' ? undefined : der);
      },
      (err: Error) => {
        o.log?.error(
          { code: CaCode.BadInput, path: o.crlPath, err: err.message },
          'CRL unreadable',
        );
        res.writeHead(503, { 'content-type': 'text/plain' }).end('CRL unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new CaError(CaCode.BadInput, `cannot listen on ${o.host}:${o.port}: ${err.message}`)),
    );
    server.listen(o.port, o.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}/crl`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
