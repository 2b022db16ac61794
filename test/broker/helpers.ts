/** Shared fixtures of the notary tests: sealed blocks from a token-backed gateway signer. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p256 } from '@noble/curves/nist.js';
import { type SealedBlock, sealBlock, ZERO_HASH } from '../../core/block.js';
import { softwareRecipient } from '../../core/hpke.js';
import { encodeReading } from '../../core/reading.js';
import type { Signer } from '../../core/signer.js';

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
