import { EventEmitter, once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';

/**
 * A real aedes broker on 127.0.0.1 for the simulator tests. Every PUBLISH goes through
 * a hook that records it and, unless `hold` is set, authorises it at once (aedes sends
 * the PUBACK after authorizePublish calls back). Held messages get no PUBACK: that is a
 * broker that dies before acknowledging. Nothing here sleeps: tests wait on events.
 */

export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly clientId: string;
  readonly username: string | undefined;
}

export interface TestBroker {
  readonly port: number;
  readonly url: string;
  readonly aedes: Aedes;
  readonly received: Received[];
  /** Messages `refuse` refused (aedes closed the connection; no PUBACK). */
  readonly refused: Received[];
  /** Messages whose PUBACK is being withheld. */
  readonly held: Received[];
  /** While true, new PUBLISHes are recorded in `held` and never acknowledged. */
  hold: boolean;
  /** Called for every PUBLISH; return an Error to refuse it (aedes then closes the link). */
  refuse?: (r: Received) => Error | undefined;
  readonly events: EventEmitter<{ publish: [Received]; client: [Client] }>;
  /** Resolves when `pred` holds, re-checked after every PUBLISH; rejects after timeoutMs. */
  until(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A free port below the kernel's ephemeral range, for a broker that must come back on the
 * same port. A client reconnecting to a closed port inside the range can be handed that
 * very port as its own local port and connect to itself (TCP simultaneous open), which
 * then holds the port (EADDRINUSE) and answers the client's CONNECT with its own CONNECT.
 */
export async function restartablePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
  } catch {
    // not Linux: keep the IANA-ish default
  }
  const floor = Math.max(1024, Math.min(10_000, low - 1000));
  for (let i = 0; i < 100; i++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    const probe = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => probe.close(r));
      return port;
    }
  }
  throw new Error('no free port below the ephemeral range');
}

export interface BrokerOptions {
  port?: number;
  /** username → password; when given, CONNECT must match (as the gateway's will). */
  secrets?: Record<string, string>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<TestBroker> {
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  server.listen(opts.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  const usernames = new Map<Client, string | undefined>();
  const events = new EventEmitter<{ publish: [Received]; client: [Client] }>();
  const broker: TestBroker = {
    port: addr.port,
    url: `mqtt://127.0.0.1:${addr.port}`,
    aedes,
    received: [],
    refused: [],
    held: [],
    hold: false,
    events,
    until(pred, timeoutMs = 10_000, what = 'condition') {
      if (pred()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          events.off('publish', check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        const check = () => {
          if (!pred()) return;
          clearTimeout(t);
          events.off('publish', check);
          resolve();
        };
        events.on('publish', check);
      });
    },
    async close() {
      await new Promise<void>((r) => aedes.close(() => r()));
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  aedes.authenticate = (client, username, password, done) => {
    usernames.set(client, username);
    events.emit('client', client);
    if (opts.secrets === undefined) return done(null, true);
    const ok = username !== undefined && opts.secrets[username] === password?.toString();
    if (ok) return done(null, true);
    return done(Object.assign(new Error('bad credentials'), { returnCode: 4 as const }), false);
  };
  aedes.authorizePublish = (client, packet, callback) => {
    const r: Received = {
      topic: packet.topic,
      payload: Buffer.from(packet.payload as Buffer),
      clientId: client?.id ?? '',
      username: client === null ? undefined : usernames.get(client),
    };
    const refusal = broker.refuse?.(r);
    if (broker.hold) {
      broker.held.push(r);
      events.emit('publish', r);
      return; // never called back: no PUBACK
    }
    (refusal === undefined ? broker.received : broker.refused).push(r);
    // Call back first: a waiter woken by 'publish' may close the broker.
    callback(refusal ?? null);
    events.emit('publish', r);
  };
  return broker;
}
