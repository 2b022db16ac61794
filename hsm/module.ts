import { existsSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { fromPkcs11, HsmCode, HsmError } from './errors.js';

/** Debian's SoftHSM2 library (package softhsm2). */
export const DEFAULT_MODULE_PATH = '/usr/lib/softhsm/libsofthsm2.so';

/** The module path from an explicit option, then MEDCHAIN_PKCS11_MODULE, then the default. */
export function resolveModulePath(explicit?: string): string {
  return explicit ?? process.env.MEDCHAIN_PKCS11_MODULE ?? DEFAULT_MODULE_PATH;
}

export type Pkcs11 = pkcs11js.PKCS11;
export type Handle = Buffer;

export interface Pkcs11Module {
  readonly path: string;
  readonly p11: Pkcs11;
  /** Drops this holder's reference; the library is finalised when the last one goes. */
  release(): void;
}

interface Loaded {
  p11: Pkcs11;
  refs: number;
}

// A PKCS#11 library is initialised once per process (a second C_Initialize fails with
// CKR_CRYPTOKI_ALREADY_INITIALIZED), so every Token in the process shares one instance.
const loaded = new Map<string, Loaded>();

export function acquireModule(path: string = resolveModulePath()): Pkcs11Module {
  let entry = loaded.get(path);
  if (!entry) {
    if (!existsSync(path)) {
      throw new HsmError(
        HsmCode.ModuleNotFound,
        `PKCS#11 module not found at ${path}. Install SoftHSM2 (apt-get install softhsm2) or point --module / MEDCHAIN_PKCS11_MODULE at your token's library.`,
      );
    }
    const p11 = new pkcs11js.PKCS11();
    try {
      p11.load(path);
    } catch (err) {
      throw new HsmError(
        HsmCode.ModuleNotFound,
        `Cannot load PKCS#11 module ${path}: ${(err as Error).message}. Check it is a PKCS#11 library for this architecture.`,
        { cause: err },
      );
    }
    try {
      // OS locking: signs run on libuv's thread pool, several at once.
      p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (err) {
      p11.close();
      throw fromPkcs11(err, `initialising PKCS#11 module ${path}`);
    }
    entry = { p11, refs: 0 };
    loaded.set(path, entry);
  }
  entry.refs += 1;
  const held = entry;
  let released = false;
  return {
    path,
    p11: held.p11,
    release() {
      if (released) return;
      released = true;
      held.refs -= 1;
      if (held.refs === 0) {
        loaded.delete(path);
        try {
          held.p11.C_Finalize();
        } finally {
          held.p11.close();
        }
      }
    },
  };
}

export interface SlotToken {
  slot: Handle;
  label: string;
  serial: string;
  initialized: boolean;
  userPinLocked: boolean;
  userPinInitialized: boolean;
}

/** Every slot with a token present, labels trimmed of PKCS#11's space padding. */
export function listTokens(p11: Pkcs11): SlotToken[] {
  return p11.C_GetSlotList(true).map((slot) => {
    const info = p11.C_GetTokenInfo(slot);
    return {
      slot,
      label: info.label.trim(),
      serial: info.serialNumber.trim(),
      initialized: (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0,
      userPinLocked: (info.flags & pkcs11js.CKF_USER_PIN_LOCKED) !== 0,
      userPinInitialized: (info.flags & pkcs11js.CKF_USER_PIN_INITIALIZED) !== 0,
    };
  });
}

export function findToken(p11: Pkcs11, label: string, modulePath: string): SlotToken {
  const tokens = listTokens(p11);
  const found = tokens.find((t) => t.initialized && t.label === label);
  if (!found) {
    const have = tokens.filter((t) => t.initialized).map((t) => `'${t.label}'`);
    throw new HsmError(
      HsmCode.TokenNotFound,
      `No token labelled '${label}' in ${modulePath} (present: ${have.length ? have.join(', ') : 'none'}). Create it with 'medchain hsm init --token ${label}' or check SOFTHSM2_CONF.`,
    );
  }
  return found;
}
