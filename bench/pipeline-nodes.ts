/**
 * Target 3 of the end-to-end benchmark, set up as the demo does it (cli/demo-pki.ts,
 * cli/demo-nodes.ts): SoftHSM tokens, Trent and certificates in a temp directory, one
 * notary and one gateway each a `medchain` process of its own (so RSS is theirs),
 * every device registered in the gateway's database before it starts.
 */
import { join } from 'node:path';
import {
  freePort,
  gatewayConfig,
  type NodeSpec,
  notaryConfig,
  type RunningNode,
  scrape,
  startNode,
  stopNode,
} from '../cli/demo-nodes.js';
import { type DemoPki, provisionPki } from '../cli/demo-pki.js';
import { DeviceRegistry, newSecret, type ScryptParams } from '../gateway/registry.js';
import { Spool } from '../gateway/spool.js';
import { track } from './procs.js';

/**
 * Device secrets are hashed with a cheap scrypt here: a CONNECT costs one hash, and at
 * the gateway's default (N = 2^15) a few hundred devices would spend the setup time on
 * it. Connection setup is outside every measured window either way.
 */
const BENCH_SCRYPT: ScryptParams = { N: 1 << 10, r: 8, p: 1, keyLen: 32 };

export const BATCH = { maxReadings: 1000, maxDelayMs: 1000 };

export const GATEWAY_METRICS = [
  'medchain_gateway_readings_accepted_total',
  'medchain_gateway_blocks_sealed_total',
  'medchain_gateway_receipts_total',
  'medchain_gateway_hsm_sign_seconds_count',
  'medchain_gateway_spool_backlog_readings',
] as const;

export const NOTARY_METRICS = ['medchain_notary_entries', 'medchain_notary_sign_seconds_count'];

export interface PipelineNodes {
  readonly deviceUrl: string;
  readonly gatewayDb: string;
  readonly secrets: ReadonlyMap<string, string>;
  gatewayPid(): number;
  notaryPid(): number;
  gatewayMetrics(): Promise<Record<string, number>>;
  notaryMetrics(): Promise<Record<string, number>>;
  stopNotary(): Promise<void>;
  /** Stops both processes (gracefully: a --cpu-prof profile is written at exit). */
  stop(): Promise<void>;
  readonly pki: DemoPki;
}

export async function startPipeline(o: {
  dir: string;
  deviceIds: readonly string[];
  /** node flags for both processes, e.g. --cpu-prof. */
  nodeArgs?: readonly string[];
}): Promise<PipelineNodes> {
  const pki = await provisionPki(o.dir, {
    notaries: ['notary-1'],
    gateways: ['gw-1'],
    reader: 'reader-1',
  });
  const part = (id: string) => {
    const p = pki.participants.get(id);
    if (!p) throw new Error(`no participant ${id}`);
    return p;
  };
  const notary: NodeSpec = {
    p: part('notary-1'),
    mqttPort: await freePort(),
    httpPort: await freePort(),
  };
  const gw: NodeSpec = {
    p: part('gw-1'),
    mqttPort: await freePort(),
    httpPort: await freePort(),
    devicePort: await freePort(),
  };
  const gatewayDb = join(o.dir, 'gw-1.db');
  const secrets = new Map<string, string>();
  const spool = await Spool.open(gatewayDb);
  try {
    const registry = new DeviceRegistry(spool.db, BENCH_SCRYPT);
    for (const id of o.deviceIds) {
      secrets.set(id, await registry.add(id, newSecret(), 'generated'));
    }
  } finally {
    await spool.close();
  }
  const logs = join(o.dir, 'logs');
  const nodeArgs = o.nodeArgs ?? [];
  const nodes: RunningNode[] = [];
  try {
    const n = await startNode(
      'notary',
      'notary-1',
      notaryConfig(o.dir, pki, notary, [gw.p]),
      notary.httpPort,
      logs,
      60_000,
      nodeArgs,
    );
    track(n.child);
    nodes.push(n);
    const g = await startNode(
      'gateway',
      'gw-1',
      gatewayConfig(o.dir, pki, gw, notary, BATCH),
      gw.httpPort,
      logs,
      60_000,
      nodeArgs,
    );
    track(g.child);
    nodes.push(g);
  } catch (err) {
    for (const n of nodes) await stopNode(n, 5000);
    throw err;
  }
  const [notaryNode, gatewayNode] = nodes as [RunningNode, RunningNode];
  return {
    deviceUrl: `mqtt://127.0.0.1:${gw.devicePort}`,
    gatewayDb,
    secrets,
    pki,
    gatewayPid: () => gatewayNode.child.pid ?? 0,
    notaryPid: () => notaryNode.child.pid ?? 0,
    gatewayMetrics: () => scrape(gw.httpPort, GATEWAY_METRICS),
    notaryMetrics: () => scrape(notary.httpPort, NOTARY_METRICS),
    stopNotary: async () => {
      await stopNode(notaryNode, 10_000);
    },
    async stop() {
      await stopNode(gatewayNode, 20_000);
      await stopNode(notaryNode, 10_000);
    },
  };
}
