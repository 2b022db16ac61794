import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { MedchainError } from '../errors/medchain-error.js';
import { createLogger } from '../ops/log.js';
import {
  CredentialsError,
  DEVICE_KINDS,
  type DeviceKind,
  type DeviceSpec,
  FAULTS,
  type FaultRates,
  type FleetStats,
  isDeviceKind,
  isFaultName,
  parseCredentials,
  planDevices,
  startFleet,
} from '../simulators/index.js';

interface SimulateFlags {
  gateway: string;
  devices?: string;
  kinds: string;
  credentials?: string;
  duration?: string;
  rate: string;
  format: 'cbor' | 'json';
  fault: string[];
  seed: string;
  mqttVersion: '4' | '5';
  prefix: string;
  interval: string;
  connectTimeout: string;
  json?: boolean;
}

const usage = (msg: string) => new MedchainError('CLI_USAGE', msg);

function positive(value: string, flag: string, { integer = false } = {}): number {
  const n = Number(value);
  if (
    value.trim() === '' ||
    !Number.isFinite(n) ||
    n <= 0 ||
    (integer && !Number.isSafeInteger(n))
  ) {
    throw usage(`${flag}: a positive ${integer ? 'whole ' : ''}number (got '${value}')`);
  }
  return n;
}

function parseFaults(specs: readonly string[]): FaultRates {
  const rates: FaultRates = {};
  for (const spec of specs) {
    const [name = '', rate = ''] = spec.split(':');
    const r = Number(rate);
    if (!isFaultName(name) || rate === '' || !(r >= 0 && r <= 1)) {
      throw usage(
        `--fault ${spec}: expected NAME:RATE, NAME one of ${FAULTS.join(', ')}, RATE 0..1`,
      );
    }
    rates[name] = r;
  }
  return rates;
}

function parseKinds(text: string): DeviceKind[] {
  const kinds = text.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!isDeviceKind(k)) throw usage(`--kinds: '${k}' is not one of ${DEVICE_KINDS.join(',')}`);
  }
  return kinds as DeviceKind[];
}

async function devicesFrom(o: SimulateFlags): Promise<DeviceSpec[]> {
  let creds: ReturnType<typeof parseCredentials> | undefined;
  if (o.credentials !== undefined) {
    let text: string;
    try {
      text = await readFile(o.credentials, 'utf8');
    } catch (err) {
      throw usage(`--credentials: cannot read ${o.credentials}: ${(err as Error).message}`);
    }
    try {
      creds = parseCredentials(text);
    } catch (err) {
      if (err instanceof CredentialsError)
        throw usage(`--credentials ${o.credentials}: ${err.message}`);
      throw err;
    }
  }
  if (o.devices === undefined) {
    if (creds === undefined) throw usage('give --devices N, or --credentials FILE listing them');
    try {
      return creds.devices();
    } catch (err) {
      throw usage(`--credentials ${o.credentials}: ${(err as Error).message}`);
    }
  }
  const specs = planDevices({
    count: positive(o.devices, '--devices', { integer: true }),
    kinds: parseKinds(o.kinds),
    idPrefix: o.prefix,
    credentials: creds?.secrets,
  });
  const missing = creds === undefined ? undefined : specs.find((s) => s.secret === undefined);
  if (missing !== undefined) {
    throw usage(`--credentials ${o.credentials} has no secret for device '${missing.id}'`);
  }
  return specs;
}

function line(s: FleetStats, final = false): string {
  const rej = Object.entries(s.rejectedByReason).map(([k, v]) => `${k}=${v}`);
  return [
    `${(s.elapsedMs / 1000).toFixed(1)}s`,
    final ? `devices ${s.devices}` : `devices ${s.connectedDevices}/${s.devices} connected`,
    `published ${s.published}`,
    `acked ${s.acked} (${s.ackedPerSec}/s)`,
    `inflight ${s.inflight}`,
    `latency p50 ${s.latency.p50Ms} ms p99 ${s.latency.p99Ms} ms`,
    ...(s.rejected > 0 ? [`rejected ${s.rejected} [${rej.join(' ')}]`] : []),
    ...(s.abandoned > 0 ? [`abandoned ${s.abandoned}`] : []),
    ...(s.resent > 0 ? [`resent ${s.resent}`] : []),
    ...(s.errors > 0 ? [`errors ${s.errors}`] : []),
  ].join('  ');
}

async function runSimulate(o: SimulateFlags): Promise<void> {
  let url: URL;
  try {
    url = new URL(o.gateway);
  } catch {
    throw usage(`--gateway: not a URL: '${o.gateway}' (e.g. mqtt://127.0.0.1:1883)`);
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw usage(
      `--gateway: unsupported scheme '${url.protocol}' (mqtt://, mqtts://, ws://, wss://)`,
    );
  }
  const devices = await devicesFrom(o);
  const faults = parseFaults(o.fault);
  const durationMs =
    o.duration === undefined ? undefined : positive(o.duration, '--duration') * 1000;
  const seed = Number(o.seed);
  if (!Number.isSafeInteger(seed)) throw usage(`--seed: a whole number (got '${o.seed}')`);
  const json = o.json === true;
  const out = (text: string) => process.stdout.write(`${text}\n`);
  const log = createLogger({ name: 'medchain-simulate' });

  const fleet = startFleet({
    url: o.gateway,
    devices,
    rateMultiplier: positive(o.rate, '--rate'),
    format: o.format,
    faults,
    seed,
    protocolVersion: o.mqttVersion === '5' ? 5 : 4,
    statsIntervalMs: positive(o.interval, '--interval') * 1000,
    onStats: (s) => out(json ? JSON.stringify({ event: 'stats', ...s }) : line(s)),
    log,
    ...(durationMs === undefined ? {} : { durationMs }),
  });
  const stopOnSignal = () => void fleet.stop();
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const connected = await fleet.connected(positive(o.connectTimeout, '--connect-timeout') * 1000);
    if (connected === 0) {
      const s = await fleet.stop();
      const why = fleet.devices.map((d) => d.stats().lastError).find((e) => e !== undefined);
      throw new MedchainError(
        'SIM_CONNECT',
        `no device could connect to ${o.gateway}${why ? ` (${why})` : ''}; check the address and the credentials (${s.errors} connection errors)`,
      );
    }
    if (connected < devices.length) {
      log.warn({ connected, devices: devices.length }, 'not every device connected yet');
    }
    const s = await fleet.done;
    if (json) out(JSON.stringify({ event: 'summary', ...s }));
    else {
      out(`summary: ${line(s, true)}`);
      const faultsSeen = Object.entries(s.byFault).map(
        ([f, c]) =>
          `${f} sent=${c.sent} acked=${c.acked} rejected=${c.rejected} abandoned=${c.abandoned}`,
      );
      for (const f of faultsSeen) out(`  fault ${f}`);
    }
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('simulated bedside devices publishing readings to a gateway over MQTT (QoS 1)')
    .requiredOption('--gateway <url>', 'device broker of the gateway, e.g. mqtt://127.0.0.1:1883')
    .option('--devices <n>', 'number of devices, generated bed by bed over --kinds')
    .option('--kinds <list>', 'device kinds in turn', DEVICE_KINDS.join(','))
    .option(
      '--credentials <file>',
      'JSON {"device-id": "secret" | {"secret","kind","patient"}}; without --devices, the devices to run',
    )
    .option('--duration <s>', 'stop after this many seconds (default: until Ctrl-C)')
    .option('--rate <x>', 'rate multiplier: 2 sends every reading twice as often', '1')
    .addOption(
      new Option('--format <format>', 'payload encoding').choices(['cbor', 'json']).default('cbor'),
    )
    .option(
      '--fault <name:rate>',
      `fault per reading at RATE 0..1, repeatable; NAME: ${FAULTS.join(', ')}`,
      collect,
      [],
    )
    .option('--seed <n>', 'seed of every signal and fault draw', '1')
    .addOption(
      new Option('--mqtt-version <v>', 'MQTT protocol version (4 = 3.1.1)')
        .choices(['4', '5'])
        .default('4'),
    )
    .option('--prefix <p>', 'prefix of generated device and patient ids', '')
    .option('--interval <s>', 'seconds between progress lines', '5')
    .option('--connect-timeout <s>', 'seconds to wait for the first connections', '10')
    .option('--json', 'progress and summary as JSON lines ({"event":"stats"|"summary",...})')
    .action((o: SimulateFlags) => runSimulate(o));
}
