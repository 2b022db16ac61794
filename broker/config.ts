/**
 * `medchain notary --config FILE`: a JSON file validated with zod, then environment
 * overrides, then one clear error listing every problem. Relative paths are resolved
 * against the config file's directory. The token PIN is never in the file: it comes
 * from token.pinFile or $MEDCHAIN_HSM_PIN (hsm/pin.ts).
 *
 * Environment overrides: MEDCHAIN_NOTARY_ID, MEDCHAIN_NOTARY_DB, MEDCHAIN_NOTARY_MQTT_PORT,
 * MEDCHAIN_NOTARY_HTTP_PORT, MEDCHAIN_NOTARY_UPSTREAM_URL, MEDCHAIN_LOG_LEVEL.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { BrokerCode, BrokerError } from './errors.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'a participant id (a-z 0-9 . _ -)');
const port = z.number().int().min(0).max(65535);
const role = z.enum(['gateway', 'notary', 'reader']);
const tlsFiles = z.strictObject({ key: z.string(), cert: z.string() });

export const NotaryConfigSchema = z.strictObject({
  notaryId: id,
  db: z.string(),
  token: z.strictObject({
    label: z.string().min(1).max(32),
    /** Label of the notary signing key on the token (default: notaryId). */
    key: z.string().optional(),
    pinFile: z.string().optional(),
    module: z.string().optional(),
  }),
  /** PEM of the notary's signing certificate (for the token key). */
  signingCert: z.string(),
  tls: tlsFiles,
  trust: z.strictObject({
    root: z.string(),
    /** CRL file (PEM or DER), re-read when it changes. */
    crl: z.string().optional(),
    skewMs: z.number().int().min(0).max(86_400_000).default(300_000),
    /** MQTT broker where the CA publishes its CRL retained (mqtt:// or mqtts://). */
    crlUrl: z
      .string()
      .regex(/^mqtts?:\/\//, 'an mqtt:// or mqtts:// URL')
      .optional(),
  }),
  /** PEM files or directories of submitters' signing certificates. */
  certificates: z.array(z.string()).default([]),
  mqtt: z.strictObject({ host: z.string().default('127.0.0.1'), port: port.default(8883) }),
  http: z
    .strictObject({ host: z.string().default('127.0.0.1'), port: port.default(8080) })
    .optional(),
  submitRoles: z.array(role).min(1).default(['gateway']),
  connectRoles: z.array(role).min(1).default(['gateway', 'notary', 'reader']),
  checkpoint: z
    .strictObject({
      everyEntries: z.number().int().min(1).default(1000),
      everyMs: z.number().int().min(100).default(10_000),
    })
    .default({ everyEntries: 1000, everyMs: 10_000 }),
  maxBlockBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 << 20)
    .default(16 << 20),
  maxBatch: z.number().int().min(1).max(10_000).default(256),
  upstream: z
    .strictObject({
      url: z.string().regex(/^mqtts:\/\//, 'an mqtts:// URL'),
      notaryId: id,
      everyMs: z.number().int().min(100).default(30_000),
      /** TLS key/cert for the upstream connection (default: tls). */
      tls: tlsFiles.optional(),
      /**
       * PEM of the upstream notary's signing certificate: anchor receipts are verified
       * with it, and it travels in this notary's exports so auditors can too.
       */
      signingCert: z.string(),
    })
    .optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export type NotaryConfig = z.infer<typeof NotaryConfigSchema>;

const ENV: [string, (raw: Record<string, unknown>, v: string) => void][] = [
  ['MEDCHAIN_NOTARY_ID', (r, v) => (r.notaryId = v)],
  ['MEDCHAIN_NOTARY_DB', (r, v) => (r.db = v)],
  ['MEDCHAIN_NOTARY_MQTT_PORT', (r, v) => (r.mqtt = { ...obj(r.mqtt), port: Number(v) })],
  ['MEDCHAIN_NOTARY_HTTP_PORT', (r, v) => (r.http = { ...obj(r.http), port: Number(v) })],
  ['MEDCHAIN_NOTARY_UPSTREAM_URL', (r, v) => (r.upstream = { ...obj(r.upstream), url: v })],
  ['MEDCHAIN_LOG_LEVEL', (r, v) => (r.logLevel = v)],
];

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

/** Parses and validates; throws NOTARY_CONFIG naming every bad field. */
export function parseNotaryConfig(
  text: string,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): NotaryConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BrokerError(BrokerCode.Config, `config is not JSON: ${(err as Error).message}`);
  }
  const r = { ...obj(raw) };
  for (const [name, apply] of ENV) {
    const v = env[name];
    if (v !== undefined && v !== '') apply(r, v);
  }
  const parsed = NotaryConfigSchema.safeParse(r);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`)
      .join('\n');
    throw new BrokerError(BrokerCode.Config, `invalid notary config:\n${problems}`);
  }
  const c = parsed.data;
  const p = (f: string) => resolve(baseDir, f);
  return {
    ...c,
    db: p(c.db),
    token: { ...c.token, ...(c.token.pinFile ? { pinFile: p(c.token.pinFile) } : {}) },
    signingCert: p(c.signingCert),
    tls: { key: p(c.tls.key), cert: p(c.tls.cert) },
    trust: { ...c.trust, root: p(c.trust.root), ...(c.trust.crl ? { crl: p(c.trust.crl) } : {}) },
    certificates: c.certificates.map(p),
    ...(c.upstream
      ? {
          upstream: {
            ...c.upstream,
            ...(c.upstream.tls
              ? { tls: { key: p(c.upstream.tls.key), cert: p(c.upstream.tls.cert) } }
              : {}),
            signingCert: p(c.upstream.signingCert),
          },
        }
      : {}),
  };
}

export function loadNotaryConfig(path: string, env: NodeJS.ProcessEnv = process.env): NotaryConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BrokerError(BrokerCode.Config, `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseNotaryConfig(text, dirname(resolve(path)), env);
}
