/** Shared fixtures of the notary tests: sealed blocks from a token-backed gateway signer. */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CertificateBook } from '../../broker/cert-book.js';
import { Notary, type NotaryOptions } from '../../broker/notary.js';
import { Trust } from '../../broker/trust.js';
import { type SealedBlock, sealBlock, ZERO_HASH } from '../../core/block.js';
import { softwareRecipient } from '../../core/hpke.js';
import { encodeReading } from '../../core/reading.js';
import type { Signer } from '../../core/signer.js';
import type { PkiParticipant, TestPki } from '../helpers/pki.js';

type Teardown = { teardown(fn: () => unknown): void };

export function tempDir(t: Teardown, prefix = 'medchain-notary-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const reader = softwareRecipient(p256.utils.randomSecretKey());

/** Seals blocks 1, 2, 3… of one gateway, each chained to the one before. */
export class BlockMaker {
  seq = 0;
  prev: Uint8Array = ZERO_HASH;
  readonly sealed: SealedBlock[] = [];
  constructor(
    readonly gatewayId: string,
    readonly signer: Signer,
  ) {}

  /** Seals a block at `seq` (default: next) after `prev` (default: the last sealed). */
  async seal(opts: { seq?: number; prev?: Uint8Array; salt?: number } = {}): Promise<SealedBlock> {
    const seq = opts.seq ?? this.seq + 1;
    const b = await sealBlock({
      gatewayId: this.gatewayId,
      seq,
      prev: opts.prev ?? this.prev,
      readings: [
        {
          reading: encodeReading({
            deviceId: 'ox-1',
            seq: seq * 10 + (opts.salt ?? 0),
            deviceTime: 1_764_000_000_000 + seq,
            patient: 'MRN-7',
            observations: [
              { kind: 'numeric', code: 150456, value: { mantissa: 970, exponent: -1 }, unit: '%' },
            ],
          }),
          receivedAt: 1_764_000_000_500 + seq,
        },
      ],
      readers: [{ kid: 'reader-1', publicKey: reader.publicKey }],
      signer: this.signer,
      sealedAt: 1_764_000_001_000 + seq,
    });
    return b;
  }

  /** Seals the next block and advances. */
  async next(): Promise<SealedBlock> {
    const b = await this.seal();
    this.seq = b.header.seq;
    this.prev = b.hash;
    this.sealed.push(b);
    return b;
  }
}

/** A notary on ephemeral ports with the given participants' signing certificates known. */
export async function startNotary(
  t: Teardown,
  pki: TestPki,
  me: PkiParticipant,
  known: PkiParticipant[],
  extra: Partial<NotaryOptions> & { dbPath?: string } = {},
): Promise<Notary> {
  const certs = new CertificateBook();
  for (const p of known) certs.add(p.signing.der);
  const notary = await Notary.start({
    notaryId: me.id,
    dbPath: extra.dbPath ?? join(tempDir(t), 'chain.db'),
    signer: await pki.signer(me),
    signingCert: me.signing.der,
    trust: new Trust({ root: pki.rootPem }),
    certs,
    tls: { key: readFileSync(me.tls.keyPath, 'utf8'), cert: me.tls.pem },
    mqtt: { port: 0 },
    http: { port: 0 },
    ...extra,
  });
  t.teardown(() => notary.stop());
  return notary;
}

/** An mqtt.js client (MQTT 3.1.1) with the participant's TLS key and certificate. */
export async function connectAs(
  t: Teardown,
  pki: TestPki,
  p: PkiParticipant,
  port: number,
  clientId: string = p.id,
  localAddress?: string,
): Promise<MqttClient> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${port}`, {
    ...(localAddress ? { localAddress } : {}),
    protocolVersion: 4,
    clientId,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    key: readFileSync(p.tls.keyPath),
    cert: p.tls.pem,
    ca: pki.rootPem,
    // The notary's certificate names it by URI SAN, not by host name.
    checkServerIdentity: () => undefined,
  } as IClientOptions);
  t.teardown(() => client.endAsync(true));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
  return client;
}

/** The next message on `topic`, or a rejection after `ms`. */
export function nextMessage(client: MqttClient, topic: string, ms = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', on);
      reject(new Error(`no message on ${topic} within ${ms} ms`));
    }, ms);
    const on = (tp: string, payload: Buffer) => {
      if (tp !== topic) return;
      clearTimeout(timer);
      client.off('message', on);
      resolve(payload);
    };
    client.on('message', on);
  });
}
