import pkcs11js from 'pkcs11js';
import {
  exportP256Point,
  P256_EC_PARAMS,
  P256_POINT_BYTES,
  type PublicKeyExport,
  unwrapEcPoint,
} from './ec.js';
import { fromPkcs11, HsmCode, HsmError } from './errors.js';
import { acquireModule, findToken, type Handle, type Pkcs11, type Pkcs11Module } from './module.js';
import { SessionPool } from './session-pool.js';

export type KeyUsage = 'sign' | 'derive';

export interface TokenOptions {
  /** Token label (CKA_LABEL of the token, as given to `hsm init`). */
  label: string;
  /** User PIN. Read it with readPin(); never log it. */
  pin: string;
  /** PKCS#11 library; default from resolveModulePath(). */
  modulePath?: string | undefined;
  /** Sessions lent to concurrent signs and derives (default 4). */
  sessions?: number | undefined;
}

export interface KeyInfo {
  label: string;
  usage: KeyUsage[];
  /** The security attributes an auditor asks about; all must read true/false as below. */
  onToken: boolean;
  sensitive: boolean;
  extractable: boolean;
  alwaysSensitive: boolean;
  neverExtractable: boolean;
  /** The private key's usage and lifecycle attributes as the token reports them. */
  attributes: KeyAttributes;
  publicKey: PublicKeyExport;
}

/**
 * What the token says about a private key; undefined when it does not know the
 * attribute (CKR_ATTRIBUTE_TYPE_INVALID, e.g. CKA_COPYABLE on a PKCS#11 v2.20 token).
 */
export interface KeyAttributes {
  sign: boolean | undefined;
  signRecover: boolean | undefined;
  derive: boolean | undefined;
  decrypt: boolean | undefined;
  unwrap: boolean | undefined;
  modifiable: boolean | undefined;
  copyable: boolean | undefined;
  destroyable: boolean | undefined;
}

const KEY_ATTRIBUTES: [keyof KeyAttributes, number][] = [
  ['sign', pkcs11js.CKA_SIGN],
  ['signRecover', pkcs11js.CKA_SIGN_RECOVER],
  ['derive', pkcs11js.CKA_DERIVE],
  ['decrypt', pkcs11js.CKA_DECRYPT],
  ['unwrap', pkcs11js.CKA_UNWRAP],
  ['modifiable', pkcs11js.CKA_MODIFIABLE],
  ['copyable', pkcs11js.CKA_COPYABLE],
  ['destroyable', pkcs11js.CKA_DESTROYABLE],
];

interface KeyHandles {
  priv: Handle;
  pub: Handle;
}

const DIGEST_BYTES = 32;
const SIGNATURE_BYTES = 64;
const LABEL_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export function assertKeyLabel(label: string): void {
  if (!LABEL_RE.test(label)) {
    throw new HsmError(
      HsmCode.BadInput,
      `key label '${label}': use 1-64 characters from A-Z a-z 0-9 . _ : -`,
    );
  }
}

function assertBytes(name: string, value: Uint8Array, length: number): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new HsmError(HsmCode.BadInput, `${name}: expected ${length} bytes`);
  }
}

/**
 * One logged-in PKCS#11 token. Private keys are generated on it as sensitive,
 * non-extractable token objects and are only ever referred to by label.
 */
export class Token {
  readonly label: string;
  readonly modulePath: string;
  readonly #module: Pkcs11Module;
  readonly #p11: Pkcs11;
  readonly #main: Handle;
  readonly #sessions: Handle[];
  readonly #pool: SessionPool;
  readonly #keys = new Map<string, KeyHandles>();
  #closed = false;

  private constructor(module: Pkcs11Module, label: string, main: Handle, sessions: Handle[]) {
    this.#module = module;
    this.#p11 = module.p11;
    this.modulePath = module.path;
    this.label = label;
    this.#main = main;
    this.#sessions = sessions;
    this.#pool = new SessionPool(sessions);
  }

  static open(opts: TokenOptions): Token {
    const module = acquireModule(opts.modulePath);
    const p11 = module.p11;
    const opened: Handle[] = [];
    try {
      const tok = findToken(p11, opts.label, module.path);
      if (tok.userPinLocked) {
        throw new HsmError(
          HsmCode.PinLocked,
          `Token '${opts.label}': the user PIN is locked. Its security officer must reset it before use.`,
        );
      }
      const flags = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;
      const main = p11.C_OpenSession(tok.slot, flags);
      opened.push(main);
      try {
        p11.C_Login(main, pkcs11js.CKU_USER, opts.pin);
      } catch (err) {
        // Another Token in this process already logged this application in.
        if (!String((err as Error).message).includes('CKR_USER_ALREADY_LOGGED_IN')) throw err;
      }
      const n = opts.sessions ?? 4;
      const pool: Handle[] = [];
      for (let i = 0; i < n; i++) {
        const s = p11.C_OpenSession(tok.slot, flags);
        opened.push(s);
        pool.push(s);
      }
      return new Token(module, opts.label, main, pool);
    } catch (err) {
      for (const s of opened) p11.C_CloseSession(s);
      module.release();
      throw fromPkcs11(err, `opening token '${opts.label}'`);
    }
  }

  #check(): void {
    if (this.#closed) {
      throw new HsmError(HsmCode.Closed, `Token '${this.label}' is closed; open it again.`);
    }
  }

  #find(cls: number, keyLabel: string): Handle | null {
    const p11 = this.#p11;
    p11.C_FindObjectsInit(this.#main, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
      { type: pkcs11js.CKA_LABEL, value: keyLabel },
    ]);
    try {
      return p11.C_FindObjects(this.#main);
    } finally {
      p11.C_FindObjectsFinal(this.#main);
    }
  }

  #handles(keyLabel: string): KeyHandles {
    this.#check();
    assertKeyLabel(keyLabel);
    const cached = this.#keys.get(keyLabel);
    if (cached) return cached;
    let priv: Handle | null;
    let pub: Handle | null;
    try {
      priv = this.#find(pkcs11js.CKO_PRIVATE_KEY, keyLabel);
      pub = this.#find(pkcs11js.CKO_PUBLIC_KEY, keyLabel);
    } catch (err) {
      throw fromPkcs11(err, `looking up key '${keyLabel}' on token '${this.label}'`);
    }
    if (!priv || !pub) {
      throw new HsmError(
        HsmCode.KeyNotFound,
        `No EC key pair labelled '${keyLabel}' on token '${this.label}'. Generate it with 'medchain hsm keygen --token ${this.label} --key ${keyLabel}'.`,
      );
    }
    const handles = { priv, pub };
    this.#keys.set(keyLabel, handles);
    return handles;
  }

  hasKey(keyLabel: string): boolean {
    try {
      this.#handles(keyLabel);
      return true;
    } catch (err) {
      if (err instanceof HsmError && err.code === HsmCode.KeyNotFound) return false;
      throw err;
    }
  }

  /** Generates a P-256 key pair on the token. The private half never leaves it. */
  generateKey(keyLabel: string, usage: KeyUsage = 'sign'): KeyInfo {
    this.#check();
    assertKeyLabel(keyLabel);
    if (this.hasKey(keyLabel)) {
      throw new HsmError(
        HsmCode.KeyExists,
        `Token '${this.label}' already holds a key labelled '${keyLabel}'; pick another label (keys are never overwritten).`,
      );
    }
    const id = Buffer.from(keyLabel, 'utf8');
    const sign = usage === 'sign';
    try {
      this.#p11.C_GenerateKeyPair(
        this.#main,
        { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: false },
          { type: pkcs11js.CKA_VERIFY, value: sign },
          { type: pkcs11js.CKA_ENCRYPT, value: false },
          { type: pkcs11js.CKA_WRAP, value: false },
          { type: pkcs11js.CKA_DERIVE, value: false },
          { type: pkcs11js.CKA_MODIFIABLE, value: false },
          { type: pkcs11js.CKA_EC_PARAMS, value: P256_EC_PARAMS },
          { type: pkcs11js.CKA_LABEL, value: keyLabel },
          { type: pkcs11js.CKA_ID, value: id },
        ],
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          // One job per key, stated rather than left to the token's defaults (SoftHSM's
          // are decrypt and unwrap true): a signing key signs, a reader key derives.
          { type: pkcs11js.CKA_SIGN, value: sign },
          { type: pkcs11js.CKA_SIGN_RECOVER, value: false },
          { type: pkcs11js.CKA_DERIVE, value: !sign },
          { type: pkcs11js.CKA_DECRYPT, value: false },
          { type: pkcs11js.CKA_UNWRAP, value: false },
          // Nobody, not even the user, can later widen those usages or clone the key
          // into an object with other attributes (PKCS#11 v2.40 §4.4: CKA_COPYABLE).
          { type: pkcs11js.CKA_MODIFIABLE, value: false },
          { type: pkcs11js.CKA_COPYABLE, value: false },
          { type: pkcs11js.CKA_LABEL, value: keyLabel },
          { type: pkcs11js.CKA_ID, value: id },
        ],
      );
    } catch (err) {
      throw fromPkcs11(err, `generating key '${keyLabel}' on token '${this.label}'`);
    }
    return this.keyInfo(keyLabel);
  }

  publicKey(keyLabel: string): PublicKeyExport {
    const { pub } = this.#handles(keyLabel);
    try {
      const [attr] = this.#p11.C_GetAttributeValue(this.#main, pub, [
        { type: pkcs11js.CKA_EC_POINT },
      ]);
      return exportP256Point(unwrap(attr?.value));
    } catch (err) {
      throw fromPkcs11(err, `reading public key '${keyLabel}' on token '${this.label}'`);
    }
  }

  keyInfo(keyLabel: string): KeyInfo {
    const { priv } = this.#handles(keyLabel);
    const attrs = [
      pkcs11js.CKA_TOKEN,
      pkcs11js.CKA_SENSITIVE,
      pkcs11js.CKA_EXTRACTABLE,
      pkcs11js.CKA_ALWAYS_SENSITIVE,
      pkcs11js.CKA_NEVER_EXTRACTABLE,
      pkcs11js.CKA_SIGN,
      pkcs11js.CKA_DERIVE,
    ];
    let values: boolean[];
    try {
      values = this.#p11
        .C_GetAttributeValue(
          this.#main,
          priv,
          attrs.map((type) => ({ type })),
        )
        .map((a) => Buffer.isBuffer(a.value) && a.value[0] === 1);
    } catch (err) {
      throw fromPkcs11(err, `reading attributes of key '${keyLabel}' on token '${this.label}'`);
    }
    const [onToken, sensitive, extractable, alwaysSensitive, neverExtractable, canSign, canDerive] =
      values;
    const usage: KeyUsage[] = [];
    if (canSign) usage.push('sign');
    if (canDerive) usage.push('derive');
    return {
      label: keyLabel,
      usage,
      onToken: onToken === true,
      sensitive: sensitive === true,
      extractable: extractable === true,
      alwaysSensitive: alwaysSensitive === true,
      neverExtractable: neverExtractable === true,
      attributes: this.#attributes(priv, keyLabel),
      publicKey: this.publicKey(keyLabel),
    };
  }

  /** One attribute per call: a token that does not know one must not hide the others. */
  #attributes(priv: Handle, keyLabel: string): KeyAttributes {
    const out = {} as KeyAttributes;
    for (const [name, type] of KEY_ATTRIBUTES) {
      try {
        const [a] = this.#p11.C_GetAttributeValue(this.#main, priv, [{ type }]);
        out[name] = Buffer.isBuffer(a?.value) ? a.value[0] === 1 : undefined;
      } catch (err) {
        if (String((err as Error)?.message).includes('CKR_ATTRIBUTE_TYPE_INVALID')) {
          out[name] = undefined;
          continue;
        }
        throw fromPkcs11(err, `reading attributes of key '${keyLabel}' on token '${this.label}'`);
      }
    }
    return out;
  }

  /** Labels of every EC private key on the token. */
  listKeys(): string[] {
    this.#check();
    const p11 = this.#p11;
    try {
      p11.C_FindObjectsInit(this.#main, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
      ]);
      let handles: Handle[];
      try {
        handles = p11.C_FindObjects(this.#main, 1000);
      } finally {
        p11.C_FindObjectsFinal(this.#main);
      }
      return handles
        .map((h) => {
          const [a] = p11.C_GetAttributeValue(this.#main, h, [{ type: pkcs11js.CKA_LABEL }]);
          return Buffer.isBuffer(a?.value) ? a.value.toString('utf8') : '';
        })
        .sort();
    } catch (err) {
      throw fromPkcs11(err, `listing keys on token '${this.label}'`);
    }
  }

  /** ECDSA P-256 over a 32-byte SHA-256 digest computed by the caller; returns r||s. Blocks. */
  signDigestSync(keyLabel: string, digest: Uint8Array): Uint8Array {
    assertBytes('digest', digest, DIGEST_BYTES);
    const { priv } = this.#handles(keyLabel);
    const s = this.#main;
    try {
      // CKM_ECDSA, not CKM_ECDSA_SHA256: SoftHSM2 2.6.1 refuses the latter.
      this.#p11.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, priv);
      const sig = this.#p11.C_Sign(s, Buffer.from(digest), Buffer.alloc(SIGNATURE_BYTES));
      return checkSignature(sig);
    } catch (err) {
      throw fromPkcs11(err, `signing with key '${keyLabel}' on token '${this.label}'`);
    }
  }

  /** As signDigestSync, but C_Sign runs on libuv's thread pool, one pooled session per sign. */
  async signDigest(keyLabel: string, digest: Uint8Array): Promise<Uint8Array> {
    assertBytes('digest', digest, DIGEST_BYTES);
    const { priv } = this.#handles(keyLabel);
    return this.#pool.use(async (s) => {
      try {
        this.#p11.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, priv);
        const sig = await this.#p11.C_SignAsync(
          s,
          Buffer.from(digest),
          Buffer.alloc(SIGNATURE_BYTES),
        );
        return checkSignature(sig);
      } catch (err) {
        throw fromPkcs11(err, `signing with key '${keyLabel}' on token '${this.label}'`);
      }
    });
  }

  /**
   * ECDH (CKM_ECDH1_DERIVE, CKD_NULL) between a derive key on the token and a peer's
   * uncompressed P-256 point. Returns the 32-byte shared secret Z, which HPKE's KDF
   * needs in the clear; the derived object is a session object destroyed at once.
   */
  async deriveSharedSecret(keyLabel: string, peerPoint: Uint8Array): Promise<Uint8Array> {
    assertBytes('peerPoint', peerPoint, P256_POINT_BYTES);
    const { priv } = this.#handles(keyLabel);
    const ecdh: pkcs11js.ECDH1 = {
      type: pkcs11js.CK_PARAMS_EC_DH,
      kdf: pkcs11js.CKD_NULL,
      publicData: Buffer.from(peerPoint),
    };
    return this.#pool.use(async (s) => {
      const p11 = this.#p11;
      let derived: Handle | undefined;
      try {
        derived = await p11.C_DeriveKeyAsync(
          s,
          {
            mechanism: pkcs11js.CKM_ECDH1_DERIVE,
            parameter: ecdh,
          },
          priv,
          [
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
            { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
            { type: pkcs11js.CKA_TOKEN, value: false },
            { type: pkcs11js.CKA_SENSITIVE, value: false },
            { type: pkcs11js.CKA_EXTRACTABLE, value: true },
            { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
          ],
        );
        const [attr] = p11.C_GetAttributeValue(s, derived, [{ type: pkcs11js.CKA_VALUE }]);
        if (!Buffer.isBuffer(attr?.value) || attr.value.length !== 32) {
          throw new HsmError(HsmCode.Pkcs11, 'ECDH derive returned no 32-byte secret');
        }
        return Uint8Array.from(attr.value);
      } catch (err) {
        throw fromPkcs11(err, `ECDH with key '${keyLabel}' on token '${this.label}'`);
      } finally {
        if (derived) p11.C_DestroyObject(s, derived);
      }
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.close();
    for (const s of [this.#main, ...this.#sessions]) {
      try {
        this.#p11.C_CloseSession(s);
      } catch {
        // The session is already gone with the token; nothing left to release.
      }
    }
    this.#module.release();
  }
}

function unwrap(value: unknown): Uint8Array {
  if (!Buffer.isBuffer(value)) throw new HsmError(HsmCode.Pkcs11, 'token returned no CKA_EC_POINT');
  return unwrapEcPoint(value);
}

function checkSignature(sig: Buffer): Uint8Array {
  if (sig.length !== SIGNATURE_BYTES) {
    throw new HsmError(HsmCode.Pkcs11, `token returned a ${sig.length}-byte ECDSA signature`);
  }
  return Uint8Array.from(sig);
}
