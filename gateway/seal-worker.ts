/**
 * The worker thread that seals blocks (gateway/seal-thread.ts starts it): HPKE
 * encryption of the body, the records' Merkle root and every hash run here, off the
 * gateway's main loop, which keeps taking readings meanwhile. The key never comes
 * here: the header's digest goes back to the main thread, which has it signed on the
 * HSM (its child process) and answers with the signature.
 */
import { parentPort } from 'node:worker_threads';
import { sealBlock } from '../core/block.js';
import { ES256, type Signer } from '../core/signer.js';
import type { FromSealWorker, ToSealWorker } from './seal-thread.js';

const port = parentPort;
if (port === null) throw new Error('seal-worker.js runs as a worker thread');

const signing = new Map<number, { resolve: (s: Uint8Array) => void; reject: (e: Error) => void }>();
const send = (m: FromSealWorker) => port.postMessage(m);

port.on('message', (m: ToSealWorker) => {
  if (m.op === 'signed' || m.op === 'signFailed') {
    const w = signing.get(m.id);
    signing.delete(m.id);
    if (m.op === 'signed') w?.resolve(m.signature);
    else w?.reject(new Error(m.message));
    return;
  }
  const signer: Signer = {
    alg: ES256,
    kid: m.kid,
    signDigest: (digest) =>
      new Promise((resolve, reject) => {
        signing.set(m.id, { resolve, reject });
        send({ op: 'sign', id: m.id, digest });
      }),
  };
  sealBlock({ ...m.input, signer }).then(
    (s) =>
      send({
        op: 'sealed',
        id: m.id,
        out: {
          header: s.header,
          bytes: s.bytes,
          hash: s.hash,
          salts: Buffer.concat(s.records.map((r) => r.salt)),
        },
      }),
    (err: unknown) =>
      send({
        op: 'failed',
        id: m.id,
        message: err instanceof Error ? err.message : String(err),
      }),
  );
});
