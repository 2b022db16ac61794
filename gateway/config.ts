/**
 * `medchain gateway --config FILE`: a JSON file validated with zod, then environment
 * overrides (MEDCHAIN_GATEWAY_*, table below), then validated again. Relative paths are
 * resolved against the config file's directory. A bad config is one clear error naming
 * the key: GATEWAY_CONFIG.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { GatewayCode, GatewayError } from './errors.js';

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
const port = z.number().int().min(0).max(65535);
const ms = z.number().int().min(1);
const path = z.string().min(1);

const readerSchema = z.union([
  z.strictObject({ kid: z.string().min(1).max(128), publicKey: path }),
  z.strictObject({ certificate: path, kid: z.string().min(1).max(128).optional() }),
]);

export const configSchema = z.strictObject({
  gatewayId: id,
  db: path,
  certificate: path,
  hsm: z.strictObject({
    token: z.string().min(1).max(32),
    key: z.string().min(1).max(64),
    pinFile: path.optional(),
    module: path.optional(),
  }),
  readers: z.array(readerSchema).min(1),
  /** Trent's root: validates the notary certificate (and reader certificates). */
  root: path,
  crl: path.optional(),
  devices: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(1883),
      tls: z
        .strictObject({
          host: z.string().default('0.0.0.0'),
          port,
          cert: path,
          key: path,
          ca: path.optional(),
          /** Also accept device client certificates issued by Trent (validated with `root`/`crl`). */
          deviceCertificates: z.boolean().default(false),
        })
        .optional(),
      /** MQTT over WebSocket (ws://, or wss:// with `tls`) for devices behind HTTP proxies. */
      ws: z
        .strictObject({
          host: z.string().default('127.0.0.1'),
          port,
          path: z
            .string()
            .regex(/^\/[^\s]*$/, 'an absolute HTTP path')
            .default('/mqtt'),
          tls: z
            .strictObject({
              cert: path,
              key: path,
              ca: path.optional(),
              deviceCertificates: z.boolean().default(false),
            })
            .optional(),
        })
        .optional(),
      /** Take readings from an existing broker (Mosquitto) instead of the embedded one. */
      external: z
        .strictObject({
          url: z.string().regex(/^mqtts?:\/\//, 'mqtt:// or mqtts://'),
          clientId: z.string().min(1).max(64).optional(),
          username: z.string().min(1).optional(),
          passwordFile: path.optional(),
          ca: path.optional(),
          cert: path.optional(),
          key: path.optional(),
          sessionExpirySeconds: z
            .number()
            .int()
            .min(60)
            .default(7 * 24 * 3600),
          /** Connections on one MQTT 5 shared subscription (group commit; see external-broker.ts). */
          subscribers: z.number().int().min(1).max(64).default(1),
          /** A shared subscription group named for several gateway processes (scale-out). */
          shareGroup: z
            .string()
            .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)')
            .optional(),
        })
        .optional(),
      maxPacketBytes: z.number().int().min(256).optional(),
      connectTimeoutMs: ms.default(10_000),
      drainTimeoutMs: ms.default(30_000),
      /** Device keepalive cap: 0 (none) or above it is set to it (0 here: no cap). */
      keepaliveLimitS: z.number().int().min(0).default(300),
      maxConnections: z.number().int().min(1).default(10_000),
      rejectLogIntervalMs: ms.default(60_000),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxPayloadBytes: z.number().int().min(64).optional(),
      maxObservations: z.number().int().min(1).optional(),
      maxSamples: z.number().int().min(1).optional(),
      maxClockSkewMs: z.number().int().min(0).optional(),
    })
    .prefault({}),
  spool: z
    .strictObject({
      maxBacklogReadings: z.number().int().min(1).default(1_000_000),
      maxBacklogBytes: z
        .number()
        .int()
        .min(1024)
        .default(1 << 30),
      retentionMs: z
        .number()
        .int()
        .min(0)
        .default(7 * 24 * 3600 * 1000),
      /** Keep sealed block bodies and salts this long after the receipt, then erase them. */
      bodyRetentionMs: z
        .number()
        .int()
        .min(0)
        .default(30 * 24 * 3600 * 1000),
      pruneIntervalMs: ms.default(60_000),
      maxCommitBatch: z.number().int().min(1).default(1000),
    })
    .prefault({}),
  batch: z
    .strictObject({
      maxReadings: z.number().int().min(1).max(100_000).default(1000),
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 << 20),
      maxDelayMs: ms.default(1000),
      /**
       * Sealing before intake: while this many readings wait unsealed, each commit (and
       * so each PUBACK) waits up to maxDelayMs for the sealer. 0 = 4 × maxReadings.
       */
      holdIntakeAbove: z.number().int().min(0).default(0),
      /**
       * /readyz says `sealer-stalled` once readings have waited unsealed this long with
       * no block sealed meanwhile (HSM hung, store failing). 0 = max(30 s, 10 × maxDelayMs).
       */
      stallMs: z.number().int().min(0).default(0),
    })
    .prefault({}),
  notary: z.strictObject({
    id,
    url: z.string().regex(/^mqtts?:\/\//, 'mqtt:// or mqtts://'),
    certificate: path,
    clientId: z.string().min(1).max(64).optional(),
    tls: z
      .strictObject({ cert: path, key: path, ca: path, servername: z.string().optional() })
      .optional(),
    window: z.number().int().min(1).max(1000).default(16),
    retryMs: ms.default(2000),
    answerTimeoutMs: ms.default(30_000),
    /** On shutdown, wait this long for receipts of what is pending. */
    drainOnShutdownMs: z.number().int().min(0).default(10_000),
  }),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(9464),
      /** Who may see /console (gateway/console-access.ts): loopback clients, or a bearer token. */
      console: z
        .strictObject({
          enabled: z.boolean().default(true),
          loopback: z.boolean().default(true),
          tokenFile: path.optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  log: z.strictObject({ level: z.string().default('info') }).prefault({}),
  /**
   * SIGTERM ends the process within this bound (docs/GATEWAY.md "Shutdown"): steps that
   * overrun are abandoned, as after a crash (everything acknowledged is on disk).
   */
  shutdown: z.strictObject({ timeoutMs: ms.default(30_000) }).prefault({}),
});

export type GatewayConfig = z.infer<typeof configSchema>;

type Kind = 'string' | 'int';
/** MEDCHAIN_GATEWAY_<NAME> → config path. */
export const ENV_OVERRIDES: Readonly<Record<string, [string[], Kind]>> = {
  ID: [['gatewayId'], 'string'],
  DB: [['db'], 'string'],
  DEVICES_HOST: [['devices', 'host'], 'string'],
  DEVICES_PORT: [['devices', 'port'], 'int'],
  DEVICES_WS_HOST: [['devices', 'ws', 'host'], 'string'],
  DEVICES_WS_PORT: [['devices', 'ws', 'port'], 'int'],
  DEVICES_EXTERNAL_URL: [['devices', 'external', 'url'], 'string'],
  DEVICES_EXTERNAL_SUBSCRIBERS: [['devices', 'external', 'subscribers'], 'int'],
  DEVICES_EXTERNAL_SHARE_GROUP: [['devices', 'external', 'shareGroup'], 'string'],
  HTTP_HOST: [['http', 'host'], 'string'],
  HTTP_PORT: [['http', 'port'], 'int'],
  NOTARY_URL: [['notary', 'url'], 'string'],
  HSM_TOKEN: [['hsm', 'token'], 'string'],
  HSM_KEY: [['hsm', 'key'], 'string'],
  HSM_PIN_FILE: [['hsm', 'pinFile'], 'string'],
  BATCH_MAX_READINGS: [['batch', 'maxReadings'], 'int'],
  BATCH_MAX_BYTES: [['batch', 'maxBytes'], 'int'],
  BATCH_MAX_DELAY_MS: [['batch', 'maxDelayMs'], 'int'],
  BATCH_HOLD_INTAKE_ABOVE: [['batch', 'holdIntakeAbove'], 'int'],
  BATCH_STALL_MS: [['batch', 'stallMs'], 'int'],
  SHUTDOWN_TIMEOUT_MS: [['shutdown', 'timeoutMs'], 'int'],
  SPOOL_MAX_BACKLOG_READINGS: [['spool', 'maxBacklogReadings'], 'int'],
  SPOOL_MAX_BACKLOG_BYTES: [['spool', 'maxBacklogBytes'], 'int'],
  SPOOL_RETENTION_MS: [['spool', 'retentionMs'], 'int'],
  SPOOL_BODY_RETENTION_MS: [['spool', 'bodyRetentionMs'], 'int'],
  LOG_LEVEL: [['log', 'level'], 'string'],
};
export const ENV_PREFIX = 'MEDCHAIN_GATEWAY_';

const PATH_KEYS: readonly string[][] = [
  ['db'],
  ['certificate'],
  ['root'],
  ['crl'],
  ['hsm', 'pinFile'],
  ['hsm', 'module'],
  ['devices', 'tls', 'cert'],
  ['devices', 'tls', 'key'],
  ['devices', 'tls', 'ca'],
  ['devices', 'ws', 'tls', 'cert'],
  ['devices', 'ws', 'tls', 'key'],
  ['devices', 'ws', 'tls', 'ca'],
  ['devices', 'external', 'passwordFile'],
  ['devices', 'external', 'ca'],
  ['devices', 'external', 'cert'],
  ['devices', 'external', 'key'],
  ['notary', 'certificate'],
  ['notary', 'tls', 'cert'],
  ['notary', 'tls', 'key'],
  ['notary', 'tls', 'ca'],
  ['http', 'console', 'tokenFile'],
];

function fail(file: string, message: string, cause?: unknown): never {
  throw new GatewayError(
    GatewayCode.Config,
    `${file}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function setPath(obj: Record<string, unknown>, keys: string[], value: unknown): void {
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    const next = o[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys.at(-1)!] = value;
}

/** Loads, overrides from `env`, validates. Throws GATEWAY_CONFIG with the key at fault. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(file, `cannot read the config as JSON: ${(err as Error).message}`, err);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(file, 'the config must be a JSON object');
  }
  const obj = raw as Record<string, unknown>;
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const o = ENV_OVERRIDES[name.slice(ENV_PREFIX.length)];
    if (!o) fail(file, `unknown environment override ${name} (see docs/GATEWAY.md)`);
    const [keys, kind] = o;
    if (kind === 'int') {
      if (!/^\d+$/.test(value)) fail(file, `${name}: expected a non-negative integer`);
      setPath(obj, keys, Number(value));
    } else {
      setPath(obj, keys, value);
    }
  }
  const parsed = configSchema.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map(String).join('.') || '(top level)';
    fail(file, `${where}: ${issue?.message ?? 'invalid'}`);
  }
  const cfg = parsed.data;
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  for (const keys of PATH_KEYS) {
    let o: Record<string, unknown> | undefined = cfg as unknown as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) o = o?.[k] as Record<string, unknown> | undefined;
    const last = keys.at(-1)!;
    if (o && typeof o[last] === 'string') o[last] = abs(o[last] as string);
  }
  for (const r of cfg.readers) {
    if ('publicKey' in r) r.publicKey = abs(r.publicKey);
    else r.certificate = abs(r.certificate);
  }
  return cfg;
}
