/**
 * What the uplink, outage and erasure tests share: Trent's PKI, a software gateway
 * signer (the HSM path is sealer.test.ts), spools with sealed blocks, a notary
 * responder on a real aedes, and uplinks to it.
 */
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { softwareSigner } from '../../core/signer.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { trustNotary } from '../../gateway/notary-trust.js';
import { Sealer } from '../../gateway/sealer.js';
import { Spool } from '../../gateway/spool.js';
import { Uplink, type UplinkOptions } from '../../gateway/uplink.js';
import { TEST_KEY_A } from '../helpers/test-keys.js';
import { readingBytes } from './helpers.js';
import { NotaryResponder } from './notary-responder.js';
import { pki } from './pki.js';

type Tap = { teardown(fn: () => unknown): void };
export type Metrics = ReturnType<typeof gatewayMetrics>;

export async function uplinkKit(root: Tap) {
  const p = await pki(root);
  const log = pino({ level: process.env.DBG ? 'debug' : 'silent' });
  const notary = await trustNotary({
    certificate: p.notaryPem,
    root: p.rootPem,
    notaryId: p.notaryId,
  });
  const gatewaySigner = softwareSigner(TEST_KEY_A, new Uint8Array(32));
  const gatewayKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: Buffer.from(gatewaySigner.publicKey.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(gatewaySigner.publicKey.subarray(33)).toString('base64url'),
    },
    format: 'jwk',
  });
  let n = 0;

  const sealer = (spool: Spool, metrics: Metrics, maxReadings = 2) =>
    new Sealer({
      spool,
      gatewayId: p.gatewayId,
      signer: gatewaySigner,
      readers: [p.readerPublic],
      metrics,
      log,
      maxReadings,
      maxBytes: 1 << 20,
    });

  /** A spool with `blocks` sealed blocks of 2 readings each (device ox-1, seq 1, 2, ...). */
  async function sealedSpool(t: Tap, blocks: number) {
    const spool = await Spool.open(join(p.dir, `up${++n}.db`));
    t.teardown(() => spool.close());
    const metrics = gatewayMetrics();
    const s = sealer(spool, metrics);
    for (let i = 0; i < blocks; i++) {
      await spool.insertBatch(
        [1, 2].map((k) => ({
          deviceId: 'ox-1',
          seq: i * 2 + k,
          receivedAt: Date.now(),
          bytes: readingBytes('ox-1', i * 2 + k),
        })),
      );
      await s.sealOnce();
    }
    return { spool, metrics };
  }

  async function responder(t: Tap) {
    const r = new NotaryResponder({
      notaryId: p.notaryId,
      gatewayId: p.gatewayId,
      gatewayKey,
      signer: p.notarySigner,
      wrongSigner: softwareSigner(TEST_KEY_A, p.notarySigner.kid),
    });
    await r.start();
    t.teardown(() => r.stop());
    return r;
  }

  function uplink(
    t: Tap,
    spool: Spool,
    metrics: Metrics,
    port: number,
    extra: Partial<UplinkOptions> & { log?: Logger } = {},
  ) {
    const u = new Uplink({
      url: `mqtt://127.0.0.1:${port}`,
      clientId: `gw-${p.gatewayId}`,
      gatewayId: p.gatewayId,
      notaryId: p.notaryId,
      notary,
      spool,
      metrics,
      log,
      window: 2,
      retryMs: 50,
      answerTimeoutMs: 500,
      reconnectMs: 50,
      ...extra,
    });
    t.teardown(() => u.close());
    return u;
  }

  const receipted = async (spool: Spool) =>
    (
      await spool.db.get<{ n: number }>(
        'SELECT count(*) AS n FROM blocks WHERE receipt IS NOT NULL',
      )
    )?.n ?? 0;

  return {
    p,
    log,
    notary,
    gatewaySigner,
    gatewayKey,
    sealer,
    sealedSpool,
    responder,
    uplink,
    receipted,
  };
}
