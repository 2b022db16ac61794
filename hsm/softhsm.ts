import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { fromPkcs11, HsmCode, HsmError } from './errors.js';
import { acquireModule, listTokens } from './module.js';

export interface InitTokenOptions {
  label: string;
  soPin: string;
  userPin: string;
  modulePath?: string | undefined;
}

/**
 * Initialises a token in the first free slot and sets its user PIN, through
 * PKCS#11 itself (C_InitToken, then C_InitPIN as the security officer), so the
 * same code works for SoftHSM2 and for any token whose module allows it.
 */
export function initToken(opts: InitTokenOptions): { label: string; serial: string } {
  if (opts.label.length === 0 || Buffer.byteLength(opts.label) > 32) {
    throw new HsmError(
      HsmCode.BadInput,
      'token label: 1 to 32 bytes (PKCS#11 CK_TOKEN_INFO.label)',
    );
  }
  const module = acquireModule(opts.modulePath);
  const p11 = module.p11;
  try {
    const tokens = listTokens(p11);
    if (tokens.some((t) => t.initialized && t.label === opts.label)) {
      throw new HsmError(
        HsmCode.TokenExists,
        `A token labelled '${opts.label}' already exists in ${module.path}; tokens are never re-initialised by medchain (that would destroy their keys).`,
      );
    }
    const free = tokens.find((t) => !t.initialized);
    if (!free) {
      throw new HsmError(
        HsmCode.NoFreeSlot,
        `No uninitialised token slot in ${module.path}. Insert a blank token (or check SOFTHSM2_CONF's directories.tokendir is writable).`,
      );
    }
    try {
      p11.C_InitToken(free.slot, opts.soPin, opts.label.padEnd(32, ' '));
    } catch (err) {
      throw fromPkcs11(err, `initialising token '${opts.label}'`);
    }
    // SoftHSM2 renumbers slots after C_InitToken: find the token again by label.
    const tok = listTokens(p11).find((t) => t.initialized && t.label === opts.label);
    if (!tok) {
      throw new HsmError(HsmCode.TokenNotFound, `token '${opts.label}' vanished after init`);
    }
    const s = p11.C_OpenSession(tok.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      p11.C_Login(s, pkcs11js.CKU_SO, opts.soPin);
      p11.C_InitPIN(s, opts.userPin);
      p11.C_Logout(s);
    } catch (err) {
      throw fromPkcs11(err, `setting the user PIN of token '${opts.label}'`);
    } finally {
      p11.C_CloseSession(s);
    }
    return { label: opts.label, serial: tok.serial };
  } finally {
    module.release();
  }
}

export interface SoftHsmSandbox {
  /** Directory holding softhsm2.conf and tokens/. */
  dir: string;
  confPath: string;
  /** Environment for processes that should see this sandbox's tokens. */
  env: { SOFTHSM2_CONF: string };
  /** Removes the directory (tokens and keys included). */
  cleanup(): void;
}

/**
 * A private SoftHSM2 token directory with its own configuration, for tests and
 * the demo. SoftHSM reads SOFTHSM2_CONF at C_Initialize, so a process must use
 * one sandbox (or none) for its whole life; `useInProcess` sets it for this one.
 */
export function createSoftHsmSandbox(
  opts: { dir?: string; useInProcess?: boolean } = {},
): SoftHsmSandbox {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'medchain-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const confPath = join(dir, 'softhsm2.conf');
  writeFileSync(
    confPath,
    [
      `directories.tokendir = ${tokens}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      'slots.removable = false',
      'slots.mechanisms = ALL',
      'library.reset_on_fork = false',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (opts.useInProcess) process.env.SOFTHSM2_CONF = confPath;
  return {
    dir,
    confPath,
    env: { SOFTHSM2_CONF: confPath },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
