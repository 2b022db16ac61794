import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { ReadingLimits } from '../../core/reading-schema.js';
import { DeviceBroker } from '../../gateway/device-broker.js';
import { Intake } from '../../gateway/intake.js';
import { gatewayMetrics } from '../../gateway/metrics.js';
import { DeviceRegistry } from '../../gateway/registry.js';
import { Spool } from '../../gateway/spool.js';
import type { AuthLimiterOptions } from '../../ops/auth-limiter.js';
import { FAST_SCRYPT, tempDir } from './helpers.js';

type Teardown = { teardown(fn: () => unknown): void };

export interface Harness {
  spool: Spool;
  intake: Intake;
  broker: DeviceBroker;
  metrics: ReturnType<typeof gatewayMetrics>;
  registry: DeviceRegistry;
  url: string;
  secrets: Record<string, string>;
  connect(device: string, extra?: IClientOptions): Promise<MqttClient>;
  count(): Promise<number>;
}

export async function deviceBroker(
  t: Teardown,
  opts: {
    devices?: string[];
    limits?: Partial<ReadingLimits>;
    maxBacklogReadings?: number;
    maxPacketBytes?: number;
    connectTimeoutMs?: number;
    /** Also listen for MQTT over WebSocket (plain ws://, path /mqtt). */
    ws?: boolean;
    authLimits?: AuthLimiterOptions;
    maxConnections?: number;
    keepaliveLimitS?: number;
  } = {},
): Promise<Harness> {
  const dir = tempDir(t);
  const spool = await Spool.open(join(dir, 'gw.db'));
  const metrics = gatewayMetrics();
  const registry = new DeviceRegistry(spool.db, FAST_SCRYPT);
  const secrets: Record<string, string> = {};
  for (const d of opts.devices ?? ['ox-1', 'ox-2']) secrets[d] = await registry.add(d);
  const intake = new Intake(spool, {
    maxBacklogReadings: opts.maxBacklogReadings ?? 1_000_000,
    maxBacklogBytes: 1 << 30,
  });
  const broker = await DeviceBroker.start({
    host: '127.0.0.1',
    port: 0,
    registry,
    intake,
    metrics,
    log: pino({ level: 'silent' }),
    limits: opts.limits,
    maxPacketBytes: opts.maxPacketBytes,
    connectTimeoutMs: opts.connectTimeoutMs,
    ws: opts.ws ? { host: '127.0.0.1', port: 0 } : undefined,
    // Every test client comes from 127.0.0.1: only the flood tests want the default limits.
    authLimits: opts.authLimits ?? { failuresPerAddress: 1000 },
    maxConnections: opts.maxConnections,
    keepaliveLimitS: opts.keepaliveLimitS,
  });
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    for (const c of clients) c.end(true);
    await broker.close();
    await intake.close();
    await spool.close();
  });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  return {
    spool,
    intake,
    broker,
    metrics,
    registry,
    url,
    secrets,
    async connect(device, extra = {}) {
      const c = await mqtt.connectAsync(url, {
        protocolVersion: 4,
        clientId: device,
        username: device,
        password: secrets[device] ?? 'not-a-registered-secret',
        clean: false,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        ...extra,
      });
      clients.push(c);
      return c;
    },
    async count() {
      const row = await spool.db.get<{ n: number }>('SELECT count(*) AS n FROM readings');
      return row?.n ?? 0;
    },
  };
}
