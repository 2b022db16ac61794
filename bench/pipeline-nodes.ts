/**
 * Target 3 of the end-to-end benchmark, set up as the demo does it (cli/demo-pki.ts,
 * cli/demo-nodes.ts): SoftHSM tokens, Trent and certificates in a temp directory, one
 * notary and one gateway each a `medchain` process of its own (so RSS is theirs),
 * every device registered in the gateway's database before it starts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
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
  /** Every gateway's database (several behind an external broker). */
  readonly gatewayDbs: readonly string[];
  gatewayPids(): number[];
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
  /**
   * Devices publish to this existing broker (mqtt://…) instead of the gateway's own;
   * the gateways (`gateways`, default 1) share its readings on `$share/site/…`.
   */
  externalBroker?: string;
  gateways?: number;
}): Promise<PipelineNodes> {
  const gwIds = Array.from({ length: o.gateways ?? 1 }, (_, i) => `gw-${i + 1}`);
  const pki = await provisionPki(o.dir, {
    notaries: ['notary-1'],
    gateways: gwIds,
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
  const gws: NodeSpec[] = [];
  for (const id of gwIds) {
    gws.push({
      p: part(id),
      mqttPort: await freePort(),
      httpPort: await freePort(),
      devicePort: await freePort(),
    });
  }
  const gatewayDbs = gwIds.map((id) => join(o.dir, `${id}.db`));
  const secrets = new Map<string, string>();
  // Behind an external broker the broker authenticates devices; the registry is the
  // embedded broker's.
  if (o.externalBroker === undefined) {
    const spool = await Spool.open(gatewayDbs[0]!);
    try {
      const registry = new DeviceRegistry(spool.db, BENCH_SCRYPT);
      for (const id of o.deviceIds)
        secrets.set(id, await registry.add(id, newSecret(), 'generated'));
    } finally {
      await spool.close();
    }
  }
  const logs = join(o.dir, 'logs');
  const nodeArgs = o.nodeArgs ?? [];
  const nodes: RunningNode[] = [];
  try {
    const n = await startNode(
      'notary',
      'notary-1',
      notaryConfig(
        o.dir,
        pki,
        notary,
        gws.map((g) => g.p),
      ),
      notary.httpPort,
      logs,
      60_000,
      nodeArgs,
    );
    track(n.child);
    nodes.push(n);
    for (const gw of gws) {
      const file = gatewayConfig(o.dir, pki, gw, notary, BATCH);
      if (o.externalBroker !== undefined) {
        const cfg = JSON.parse(readFileSync(file, 'utf8'));
        cfg.devices = {
          external: { url: o.externalBroker, clientId: gw.p.id, shareGroup: 'site' },
        };
        writeFileSync(file, JSON.stringify(cfg, null, 2));
      }
      const g = await startNode('gateway', gw.p.id, file, gw.httpPort, logs, 60_000, nodeArgs);
      track(g.child);
      nodes.push(g);
    }
  } catch (err) {
    for (const n of nodes) await stopNode(n, 5000);
    throw err;
  }
  const [notaryNode, gatewayNode, ...others] = nodes as [RunningNode, RunningNode];
  const gatewayNodes = [gatewayNode, ...others];
  const gw = gws[0]!;
  return {
    deviceUrl: o.externalBroker ?? `mqtt://127.0.0.1:${gw.devicePort}`,
    gatewayDb: gatewayDbs[0]!,
    gatewayDbs,
    gatewayPids: () => gatewayNodes.map((g) => g.child.pid ?? 0),
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
      await Promise.all(gatewayNodes.map((g) => stopNode(g, 20_000)));
      await stopNode(notaryNode, 10_000);
    },
  };
}
