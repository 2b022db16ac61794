import { createHash } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { bodyAad, sealBlock, ZERO_HASH } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { openBody } from '../core/body.js';
import { softwareRecipient } from '../core/hpke.js';
import { leafHash, merkleRoot } from '../core/merkle.js';
import { MerkleBuilder } from '../core/merkle-builder.js';
import { encodeConsistencyProof, encodeInclusionProof } from '../core/merkle-cbor.js';
import { consistencyProof, inclusionProof } from '../core/merkle-proof.js';
import { encodeReading, type Reading } from '../core/reading.js';
import { softwareSigner } from '../core/signer.js';

export interface CoreBench {
  block: {
    readings: number;
    sealReadingsPerSec: number;
    verifyReadingsPerSec: number;
    openReadingsPerSec: number;
    blockBytes: number;
  };
  verifier: { verifyMBps: number; sha256MBps: number; ratio: number };
  merkle: { leaves: number; rootMs: number; builderMs: number };
  proofs: { inclusionBytesBlock: number; inclusionBytes100k: number; consistencyBytes: number };
}

const T0 = Date.UTC(2026, 10, 25);

function reading(i: number): Reading {
  return {
    deviceId: `ox-${i % 50}`,
    seq: i + 1,
    deviceTime: T0 + i * 1000,
    patient: `MRN-${i % 50}`,
    observations: [
      {
        kind: 'numeric',
        code: 150456,
        value: { mantissa: 950 + (i % 40), exponent: -1 },
        unit: '%',
      },
      {
        kind: 'numeric',
        code: 147842,
        value: { mantissa: 60 + (i % 50), exponent: 0 },
        unit: '/min',
      },
    ],
  };
}

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t0) / 1e9];
}

/**
 * Core formats: seal, verify and open a 1000-reading block; the verifier's MB/s
 * against raw SHA-256 on the same bytes; Merkle roots over 100k leaves; proof sizes.
 */
export async function benchCore(opts: { quick: boolean }): Promise<CoreBench> {
  const rounds = opts.quick ? 3 : 20;
  const n = 1000;
  const signer = softwareSigner(p256.utils.randomSecretKey(), new Uint8Array(32));
  const reader = { kid: 'reader-1', ...softwareRecipient(p256.utils.randomSecretKey()) };
  const readings = Array.from({ length: n }, (_, i) => ({
    reading: encodeReading(reading(i)),
    receivedAt: T0 + i,
  }));
  const seal = () =>
    sealBlock({
      gatewayId: 'gw-1',
      seq: 1,
      prev: ZERO_HASH,
      readings,
      readers: [{ kid: reader.kid, publicKey: reader.publicKey }],
      signer,
      sealedAt: T0,
    });
  await seal();
  const [blocks, sealSecs] = await timed(() => Promise.all(Array.from({ length: rounds }, seal)));
  const first = blocks[0]!;
  const verifyPasses = opts.quick ? 20 : 200;
  const verifyAll = () => {
    for (let p = 0; p < verifyPasses; p++) {
      for (const b of blocks)
        if (!verifyBlock(b.block, signer.publicKey).ok) throw new Error('verify');
    }
  };
  verifyAll(); // warm-up: let V8 optimise the verifier before timing it
  const [, verifySecs] = await timed(verifyAll);
  const [, openSecs] = await timed(async () => {
    for (const b of blocks) await openBody(b.block.body, reader, bodyAad('gw-1', 1));
  });
  const bytes = verifyPasses * blocks.reduce((s, b) => s + b.bytes.length, 0);
  const shaAll = () => {
    for (let p = 0; p < verifyPasses; p++) {
      for (const b of blocks) createHash('sha256').update(b.bytes).digest();
    }
  };
  shaAll();
  const [, shaSecs] = await timed(shaAll);

  const leaves = Array.from({ length: 100_000 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
  const [, rootSecs] = await timed(() => merkleRoot(leaves));
  const [, builderSecs] = await timed(() => {
    const b = new MerkleBuilder();
    for (const l of leaves) b.append(l);
    return b.root();
  });
  const blockLeaves = first.records.map((r) => leafHash(r.bytes));
  const incBlock = encodeInclusionProof({
    leafIndex: 500,
    treeSize: n,
    path: inclusionProof(blockLeaves, 500),
  });
  const inc100k = encodeInclusionProof({
    leafIndex: 77_777,
    treeSize: leaves.length,
    path: inclusionProof(leaves, 77_777),
  });
  const cons = encodeConsistencyProof({
    size1: 60_000,
    size2: leaves.length,
    path: consistencyProof(leaves, 60_000),
  });
  const verifyMBps = bytes / 1e6 / verifySecs;
  const sha256MBps = bytes / 1e6 / shaSecs;
  return {
    block: {
      readings: n,
      sealReadingsPerSec: Math.round((n * rounds) / sealSecs),
      verifyReadingsPerSec: Math.round((n * rounds * verifyPasses) / verifySecs),
      openReadingsPerSec: Math.round((n * rounds) / openSecs),
      blockBytes: first.bytes.length,
    },
    verifier: {
      verifyMBps: Math.round(verifyMBps),
      sha256MBps: Math.round(sha256MBps),
      ratio: Number((verifyMBps / sha256MBps).toFixed(2)),
    },
    merkle: {
      leaves: leaves.length,
      rootMs: Math.round(rootSecs * 1000),
      builderMs: Math.round(builderSecs * 1000),
    },
    proofs: {
      inclusionBytesBlock: incBlock.length,
      inclusionBytes100k: inc100k.length,
      consistencyBytes: cons.length,
    },
  };
}
