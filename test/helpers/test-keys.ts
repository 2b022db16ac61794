/**
 * FIXED TEST KEYS. Public on purpose, never used outside tests and vectors:
 * deterministic signatures (RFC 6979) need a fixed key for vectors to
 * regenerate byte for byte. Each private scalar is SHA-256 of its label,
 * reproducible with `printf 'medchain test key A' | sha256sum`.
 */
import { createHash } from 'node:crypto';
import { softwareSigner } from '../../core/signer.js';

const scalar = (label: string) => Uint8Array.from(createHash('sha256').update(label).digest());

export const TEST_KEY_A = scalar('medchain test key A');
export const TEST_KEY_B = scalar('medchain test key B');
export const TEST_KEY_C = scalar('medchain test key C');

export const testSignerA = () => softwareSigner(TEST_KEY_A, new TextEncoder().encode('test-gw-1'));
export const testSignerB = () => softwareSigner(TEST_KEY_B, new TextEncoder().encode('test-gw-2'));
