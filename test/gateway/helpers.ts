import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeReading, type Reading } from '../../core/reading.js';

const T0 = Date.now();
type Teardown = { teardown(fn: () => unknown): void };

export function tempDir(t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-gw-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function reading(deviceId: string, seq: number, spo2 = 97): Reading {
  return {
    deviceId,
    seq,
    deviceTime: T0 + seq,
    patient: 'MRN-000123',
    observations: [
      { kind: 'numeric', code: 150456, value: { mantissa: spo2, exponent: 0 }, unit: '%' },
    ],
  };
}

export const readingBytes = (deviceId: string, seq: number, spo2 = 97) =>
  encodeReading(reading(deviceId, seq, spo2));

export function jsonReading(deviceId: string, seq: number): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      deviceId,
      seq,
      time: new Date().toISOString(),
      patient: 'MRN-000123',
      obs: [{ code: 'MDC_PULS_OXIM_SAT_O2', value: '97', unit: '%' }],
    }),
  );
}

/** Waits for `event` with a bound, so a broken feature fails the test instead of hanging it. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function onceWithin(emitter: object, event: string, ms = 30_000): Promise<unknown[]> {
  return within(ms, `event '${event}'`, once(emitter as NodeJS.EventEmitter, event));
}

/** Polls `check` (an observable condition, not a clock) until true, bounded. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const FAST_SCRYPT = { N: 1024, r: 8, p: 1, keyLen: 32 } as const;

/** The value of a counter (with labels) from a prom-client metric. */
export async function metricValue(
  m: { get(): Promise<{ values: { value: number; labels: object }[] }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await m.get();
  const hit = values.find((v) =>
    Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
  );
  return hit?.value ?? 0;
}

/** MQTT 3.1.1 UTF-8 string / binary data: two-byte length, then the bytes (§1.5.3). */
const mqttString = (b: Uint8Array) =>
  Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

/**
 * Sends one raw MQTT 3.1.1 CONNECT (bytes a client library refuses to produce, such as
 * an empty client id with CleanSession=0) and returns the CONNACK return code, or
 * 'closed' when the server hung up without one.
 */
export async function rawConnack(
  port: number,
  c: { clientId: string; clean: boolean; username: string; password: string },
  localAddress?: string,
): Promise<number | 'closed'> {
  const { connect } = await import('node:net');
  const flags = 0x80 | 0x40 | (c.clean ? 0x02 : 0);
  const body = Buffer.concat([
    mqttString(Buffer.from('MQTT')),
    Buffer.from([4, flags, 0, 30]),
    mqttString(Buffer.from(c.clientId)),
    mqttString(Buffer.from(c.username)),
    mqttString(Buffer.from(c.password)),
  ]);
  if (body.length > 127) throw new Error('rawConnack: keep it under 128 bytes');
  const sock = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  const result = new Promise<number | 'closed'>((resolve) => {
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      // CONNACK: 0x20 0x02 flags returnCode
      if (got.length >= 4) resolve(got[0] === 0x20 ? got[3]! : -1);
    });
    sock.on('close', () => resolve('closed'));
    sock.on('error', () => resolve('closed'));
  });
  sock.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
  try {
    return await within(30_000, 'CONNACK', result);
  } finally {
    sock.destroy();
  }
}

/**
 * A throwaway TLS server certificate for 127.0.0.1 (cert.pem, key.pem in `dir`), made
 * by openssl as an outside tool; device listeners in tests present it. Returns both PEMs.
 */
export function localServerCert(dir: string): { cert: string; key: string } {
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  return {
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
  };
}
