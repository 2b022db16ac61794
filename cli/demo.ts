import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { ChainStore } from '../broker/chain-store.js';
import { writeExport } from '../broker/export.js';
import { verifyExport } from '../broker/export-verify.js';
import { MedchainError } from '../core/errors.js';
import { DeviceRegistry, newSecret } from '../gateway/registry.js';
import { Spool } from '../gateway/spool.js';
import { type FleetHandle, planDevices, startFleet } from '../simulators/fleet.js';
import type { FleetStats } from '../simulators/stats.js';
import {
  freePort,
  gatewayConfig,
  type NodeSpec,
  notaryConfig,
  type RunningNode,
  scrape,
  startNode,
  stopNode,
} from './demo-nodes.js';
import { type DemoPki, provisionPki } from './demo-pki.js';

interface DemoFlags {
  duration: string;
  notaries: string;
  gateways: string;
  devices: string;
  keep?: string;
  json?: boolean;
}

function count(v: string, name: string, min: number, max: number): number {
  const n = Number.parseInt(v, 10);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new MedchainError('CLI_USAGE', `--${name}: a whole number from ${min} to ${max}`);
  }
  return n;
}

const GATEWAY_METRICS = [
  'medchain_gateway_readings_accepted_total',
  'medchain_gateway_readings_rejected_total',
  'medchain_gateway_blocks_sealed_total',
  'medchain_gateway_receipts_total',
] as const;

async function runDemo(o: DemoFlags): Promise<void> {
  const seconds = count(o.duration, 'duration', 1, 3600);
  const nNotaries = count(o.notaries, 'notaries', 1, 5);
  const nGateways = count(o.gateways, 'gateways', 1, 10);
  const perGateway = count(o.devices, 'devices', 1, 200);
  const say = (line: string) => {
    if (!o.json) process.stdout.write(`${line}\n`);
  };
  const dir = o.keep ? resolve(o.keep) : mkdtempSync(join(tmpdir(), 'medchain-demo-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'exports'), { recursive: true });

  const notaryIds = Array.from({ length: nNotaries }, (_, i) => `notary-${i + 1}`);
  const gatewayIds = Array.from({ length: nGateways }, (_, i) => `gw-${i + 1}`);
  say(`medchain demo in ${dir}`);
  say('  provisioning SoftHSM2 tokens, Trent and certificates ...');
  const pki: DemoPki = await provisionPki(dir, {
    notaries: ['regional', ...notaryIds],
    gateways: gatewayIds,
    reader: 'reader-1',
  });
  const part = (id: string) => {
    const p = pki.participants.get(id);
    if (!p) throw new MedchainError('DEMO_INTERNAL', `no participant ${id}`);
    return p;
  };
  const spec = async (id: string, device = false): Promise<NodeSpec> => ({
    p: part(id),
    mqttPort: await freePort(),
    httpPort: await freePort(),
    ...(device ? { devicePort: await freePort() } : {}),
  });
  const regional = await spec('regional');
  const notaries = await Promise.all(notaryIds.map((id) => spec(id)));
  const gateways = await Promise.all(gatewayIds.map((id) => spec(id, true)));
  const notaryOf = (i: number) => notaries[i % notaries.length] as NodeSpec;

  const nodes: RunningNode[] = [];
  const fleets: FleetHandle[] = [];
  const logs = join(dir, 'logs');
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    say('  starting the regional notary, institution notaries and gateways ...');
    const regionalCfg = notaryConfig(
      dir,
      pki,
      regional,
      notaries.map((n) => n.p),
    );
    nodes.push(await startNode('notary', 'regional', regionalCfg, regional.httpPort, logs));
    for (const [i, n] of notaries.entries()) {
      const mine = gateways.filter((_, g) => g % notaries.length === i).map((g) => g.p);
      const cfg = notaryConfig(dir, pki, n, mine, regional);
      nodes.push(await startNode('notary', n.p.id, cfg, n.httpPort, logs));
    }
    const devices = [];
    for (const [i, g] of gateways.entries()) {
      const plan = planDevices({ count: perGateway, idPrefix: `${g.p.id}-` }).map((d) => ({
        ...d,
        secret: newSecret(),
      }));
      const spool = await Spool.open(join(dir, `${g.p.id}.db`));
      try {
        const registry = new DeviceRegistry(spool.db);
        for (const d of plan) await registry.add(d.id, d.secret);
      } finally {
        await spool.close();
      }
      const cfg = gatewayConfig(dir, pki, g, notaryOf(i));
      nodes.push(await startNode('gateway', g.p.id, cfg, g.httpPort, logs));
      devices.push({ g, plan });
    }
    say(
      `  ${devices.reduce((s, d) => s + d.plan.length, 0)} simulated devices publishing for ${seconds} s (Ctrl-C ends early)`,
    );
    for (const [i, { g, plan }] of devices.entries()) {
      fleets.push(
        startFleet({
          url: `mqtt://127.0.0.1:${g.devicePort}`,
          devices: plan,
          seed: 1000 + i,
          faults: { garbage: 0.005, 'out-of-range': 0.005, 'unknown-code': 0.002 },
        }),
      );
    }

    const started = Date.now();
    const tty = !o.json && process.stdout.isTTY;
    while (!interrupted && Date.now() - started < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      const line = await progress(fleets, gateways, notaries, regional, started);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else say(`  ${line}`);
    }
    if (tty) process.stdout.write('\n');
    say('  stopping: devices, then gateways (seal and forward what is pending), then notaries ...');
    const fleetStats = await Promise.all(fleets.map((f) => f.stop()));
    const gwMetrics = await Promise.all(gateways.map((g) => scrape(g.httpPort, GATEWAY_METRICS)));
    for (const n of nodes.filter((x) => x.id.startsWith('gw-'))) await stopNode(n);
    // Let the institution notaries anchor their final heads before the regional stops.
    for (const n of nodes.filter((x) => x.id.startsWith('notary-'))) await stopNode(n);
    for (const n of nodes.filter((x) => x.id === 'regional')) await stopNode(n);

    say("  exporting and verifying every chain with Trent's root alone ...");
    const root = readFileSync(pki.rootPath, 'utf8');
    const chains = [];
    for (const n of [...notaries, regional]) {
      const file = join(dir, 'exports', `${n.p.id}.chain`);
      const store = await ChainStore.open(join(dir, `${n.p.id}.db`));
      let entries: number;
      try {
        entries = await writeExport(store, file);
      } finally {
        await store.close();
      }
      const v = await verifyExport(new Uint8Array(readFileSync(file)), {
        root,
        submitterRoles: n === regional ? ['notary'] : ['gateway'],
      });
      chains.push({
        notary: n.p.id,
        entries,
        export: file,
        verified: v.ok,
        ...(v.ok ? {} : { failure: v }),
      });
      say(
        `    ${n.p.id.padEnd(10)} ${String(entries).padStart(5)} entries  ${v.ok ? 'OK' : `FAILED ${JSON.stringify(v)}`}`,
      );
    }
    const total = sumFleet(fleetStats);
    const summary = {
      ok: chains.every((c) => c.verified) && total.acked > 0,
      dir: o.keep ? dir : null,
      durationS: Math.round((Date.now() - started) / 1000),
      devices: total.devices,
      readings: {
        published: total.published,
        acked: total.acked,
        accepted: sum(gwMetrics, 'medchain_gateway_readings_accepted_total'),
        rejected: sum(gwMetrics, 'medchain_gateway_readings_rejected_total'),
        rejectedByReason: total.rejectedByReason,
      },
      blocks: sum(gwMetrics, 'medchain_gateway_blocks_sealed_total'),
      receipts: sum(gwMetrics, 'medchain_gateway_receipts_total'),
      chains,
      anchors: chains.find((c) => c.notary === 'regional')?.entries ?? 0,
    };
    if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      say(
        `  readings: ${summary.readings.accepted} accepted, ${summary.readings.rejected} rejected ${JSON.stringify(summary.readings.rejectedByReason)}; blocks ${summary.blocks}, receipts ${summary.receipts}, regional anchors ${summary.anchors}`,
      );
      say(summary.ok ? 'demo OK' : 'demo FAILED');
      if (o.keep) say(`  kept in ${dir} (logs/, exports/, certs/, pins/, *.db, *.json)`);
    }
    if (!summary.ok) process.exitCode = 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await Promise.all(fleets.map((f) => f.stop()));
    await Promise.all(nodes.map((n) => stopNode(n, 5_000)));
    if (!o.keep) {
      pki.sandbox.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function sum(rows: readonly Record<string, number>[], name: string): number {
  return rows.reduce((s, r) => s + (r[name] ?? 0), 0);
}

function sumFleet(stats: readonly FleetStats[]) {
  const rejectedByReason: Record<string, number> = {};
  for (const s of stats) {
    for (const [k, v] of Object.entries(s.rejectedByReason))
      rejectedByReason[k] = (rejectedByReason[k] ?? 0) + v;
  }
  return {
    devices: stats.reduce((s, x) => s + x.devices, 0),
    published: stats.reduce((s, x) => s + x.published, 0),
    acked: stats.reduce((s, x) => s + x.acked, 0),
    rejectedByReason,
  };
}

async function progress(
  fleets: readonly FleetHandle[],
  gateways: readonly NodeSpec[],
  notaries: readonly NodeSpec[],
  regional: NodeSpec,
  started: number,
): Promise<string> {
  const fleet = sumFleet(fleets.map((f) => f.stats()));
  const gw = await Promise.all(gateways.map((g) => scrape(g.httpPort, GATEWAY_METRICS)));
  const heights = await Promise.all(
    [...notaries, regional].map(async (n) => {
      const m = await scrape(n.httpPort, ['medchain_notary_entries']);
      return `${n.p.id}=${m.medchain_notary_entries ?? 0}`;
    }),
  );
  const secs = Math.max(1, (Date.now() - started) / 1000);
  return `${Math.round(fleet.acked / secs)} readings/s  acked ${fleet.acked}  rejected ${sum(gw, 'medchain_gateway_readings_rejected_total')}  blocks ${sum(gw, 'medchain_gateway_blocks_sealed_total')}  receipts ${sum(gw, 'medchain_gateway_receipts_total')}  heights ${heights.join(' ')}`;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'run medchain on this machine: Trent, a regional notary, institution notaries, gateways and simulated devices on tokens it provisions',
    )
    .option('--duration <s>', 'seconds of simulated telemetry', '30')
    .option('--notaries <n>', 'institution notaries (each anchors into the regional one)', '2')
    .option('--gateways <n>', 'gateways (spread over the notaries)', '3')
    .option('--devices <n>', 'simulated devices per gateway', '5')
    .option(
      '--keep <dir>',
      'work in DIR and keep tokens, databases, certificates, logs and exports',
    )
    .option('--json', 'print the summary as JSON')
    .action((o: DemoFlags) => runDemo(o));
}
