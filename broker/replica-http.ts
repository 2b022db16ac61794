/**
 * The replica's own small HTTP face: GET /metrics (prom-client), /healthz (the process
 * is up), /readyz (200 only while following a notary with a verified copy: 503 while
 * catching up, retrying, refused or forked; both in ops/health.ts's JSON shape) and /status (JSON: state, size, notaryId,
 * last refusal).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { health, sendHealth } from '../ops/health.js';
import type { Replica } from './replica.js';

export async function startReplicaHttp(
  replica: Replica,
  port: number,
  host = '127.0.0.1',
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://replica').pathname;
    if (req.method !== 'GET') return void res.writeHead(405).end('GET only\n');
    const detail = { state: replica.state, size: replica.size };
    if (path === '/healthz') return sendHealth(res, health('replica', [], detail));
    if (path === '/readyz') {
      // The state names the reason: syncing, retrying, refused, forked, stopped.
      const following = replica.state === 'following';
      return sendHealth(res, health('replica', following ? [] : [replica.state], detail));
    }
    if (path === '/status') {
      const r = replica.lastRefusal;
      const body = {
        state: replica.state,
        notaryId: replica.notaryId ?? null,
        size: replica.size,
        refusal: r ? { code: r.code, check: r.check, height: r.height, message: r.message } : null,
      };
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(body));
    }
    if (path === '/metrics') {
      replica.metrics.registry.metrics().then(
        (text) =>
          res.writeHead(200, { 'content-type': replica.metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end('metrics failed\n'),
      );
      return;
    }
    res.writeHead(404).end('not found\n');
  });
  server.listen(port, host);
  await once(server, 'listening');
  return server;
}
