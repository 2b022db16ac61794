/** Fixtures of the replica tests: waiting on events, a tampering HTTP proxy, forged checkpoints. */
import type { EventEmitter } from 'node:events';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { Replica, type ReplicaOptions } from '../../broker/replica.js';
import { signCheckpoint } from '../../core/receipt.js';
import type { Signer } from '../../core/signer.js';

type Teardown = { teardown(fn: () => unknown): void };

/** The first `event` whose argument satisfies `pred`, or a rejection after `ms`. */
export function waitFor<T>(
  e: EventEmitter,
  event: string,
  pred: (v: T) => boolean = () => true,
  ms = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      e.off(event, on);
      reject(new Error(`no matching '${event}' within ${ms} ms`));
    }, ms);
    const on = (v: T) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      e.off(event, on);
      resolve(v);
    };
    e.on(event, on);
  });
}

export async function startReplica(t: Teardown, o: ReplicaOptions): Promise<Replica> {
  const r = await Replica.start({ backoff: { minMs: 50, maxMs: 400 }, ...o });
  t.teardown(() => r.stop());
  return r;
}

/** A checkpoint signed with the notary's own token key, saying whatever the test wants. */
export function forgeCheckpoint(
  signer: Signer,
  notaryId: string,
  size: number,
  fill: number,
): Promise<Uint8Array> {
  return signCheckpoint(signer, {
    notaryId,
    size,
    head: new Uint8Array(32).fill(fill),
    logRoot: new Uint8Array(32).fill(fill + 1),
    time: Date.now(),
  });
}

export type FeedJson = {
  size: number;
  items: { height: number; entry: string; signedHeader: string; body: string; receipt: string }[];
};

/**
 * An HTTP proxy in front of a notary API that can rewrite /feed answers on the way (an
 * attacker in the path, or a notary serving altered data), and logs the paths asked.
 */
export async function tamperingProxy(
  t: Teardown,
  upstream: () => string,
): Promise<{
  url: string;
  paths: string[];
  tamper: ((f: FeedJson) => void) | undefined;
  server: Server;
}> {
  const state = {
    url: '',
    paths: [] as string[],
    tamper: undefined as ((f: FeedJson) => void) | undefined,
    server: undefined as unknown as Server,
  };
  state.server = createServer((req, res) => {
    const path = req.url ?? '/';
    state.paths.push(path);
    fetch(upstream() + path).then(
      async (r) => {
        let text = await r.text();
        if (r.status === 200 && path.startsWith('/feed') && state.tamper) {
          const j = JSON.parse(text) as FeedJson;
          state.tamper(j);
          text = JSON.stringify(j);
        }
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
      },
      () => res.writeHead(502).end(),
    );
  });
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  const a = state.server.address();
  state.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        state.server.closeAllConnections();
        state.server.close(() => resolve());
      }),
  );
  return state;
}

/** Flips one bit of a base64 field at `at` (negative: from the end). */
export function flip(b64: string, at: number): string {
  const b = Buffer.from(b64, 'base64');
  const i = at < 0 ? b.length + at : at;
  b[i]! ^= 0x01;
  return b.toString('base64');
}
