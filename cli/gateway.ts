import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadConfig } from '../gateway/config.js';
import { type EraseTarget, eraseBlocks } from '../gateway/erasure.js';
import { GatewayCode, GatewayError } from '../gateway/errors.js';
import { Gateway } from '../gateway/gateway.js';
import { assertDeviceId, DeviceRegistry } from '../gateway/registry.js';
import { Spool } from '../gateway/spool.js';
import { describeFailure } from '../ops/failure.js';
import { createLogger } from '../ops/log.js';
import { exitWithFailure } from './process-guard.js';

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function withRegistry<T>(db: string, fn: (r: DeviceRegistry) => Promise<T>): Promise<T> {
  const spool = await Spool.open(db);
  try {
    return await fn(new DeviceRegistry(spool.db));
  } finally {
    await spool.close();
  }
}

function deviceCommand(): Command {
  const device = new Command('device').description('device registry: add, list, remove');
  device
    .command('add <id>')
    .description('register a device; its secret is printed once (or read from --secret-file)')
    .requiredOption('--db <file>', 'gateway database')
    .option('--secret-file <file>', 'file holding the secret to register (16-256 bytes)')
    .action(async (id: string, o: { db: string; secretFile?: string }) => {
      let given: string | undefined;
      if (o.secretFile) {
        try {
          given = readFileSync(o.secretFile, 'utf8').replace(/\r?\n$/, '');
        } catch (err) {
          throw new GatewayError(
            GatewayCode.Device,
            `cannot read ${o.secretFile}: ${(err as Error).message}`,
          );
        }
      }
      const secret = await withRegistry(o.db, (r) => r.add(id, given));
      print(`device '${id}' registered`);
      if (!given) {
        print(`secret (shown once; MQTT username '${id}', password this): ${secret}`);
      }
    });
  device
    .command('list')
    .description('list registered devices')
    .requiredOption('--db <file>', 'gateway database')
    .option('--json', 'print JSON')
    .action(async (o: { db: string; json?: boolean }) => {
      const list = await withRegistry(o.db, (r) => r.list());
      if (o.json) return print(JSON.stringify(list));
      for (const d of list) print(`${d.id}\tadded ${new Date(d.createdAt).toISOString()}`);
    });
  device
    .command('remove <id>')
    .description('remove a device (its open connection keeps working until it reconnects)')
    .requiredOption('--db <file>', 'gateway database')
    .action(async (id: string, o: { db: string }) => {
      if (!(await withRegistry(o.db, (r) => r.remove(id)))) {
        throw new GatewayError(GatewayCode.Device, `device '${id}' is not registered`);
      }
      print(`device '${id}' removed`);
    });
  return device;
}

function eraseCommand(): Command {
  return new Command('erase')
    .description(
      'erase receipted block bodies and salts (one block, or every block holding a device); header, receipt and chain stay',
    )
    .requiredOption('--db <file>', 'gateway database')
    .option('--block <seq>', 'the block sequence number')
    .option('--device <id>', 'every block holding readings of this device')
    .requiredOption('--reason <text>', 'why (kept with the erasure, for audit)')
    .action(async (o: { db: string; block?: string; device?: string; reason: string }) => {
      if ((o.block === undefined) === (o.device === undefined)) {
        throw new GatewayError(GatewayCode.Erase, 'give exactly one of --block SEQ or --device ID');
      }
      let target: EraseTarget;
      if (o.block !== undefined) {
        if (!/^[1-9]\d*$/.test(o.block)) {
          throw new GatewayError(
            GatewayCode.Erase,
            `--block: a block sequence number, not '${o.block}'`,
          );
        }
        target = { block: Number(o.block) };
      } else {
        target = { device: assertDeviceId(o.device ?? '') };
      }
      const spool = await Spool.open(o.db);
      try {
        const r = await eraseBlocks(spool, target, o.reason, Date.now());
        print(
          `erased ${r.blocks.length} block bodies (${r.blocks.join(', ') || 'none'}), ${r.readings} spooled readings; ${r.already} already erased`,
        );
      } finally {
        await spool.close();
      }
    });
}

export function gatewayCommand(): Command {
  const cmd = new Command('gateway')
    .description('run the clinic gateway (device broker, spool, sealing on the HSM, uplink)')
    .option('--config <file>', 'gateway config (JSON); MEDCHAIN_GATEWAY_* env vars override')
    .action(async (o: { config?: string }) => {
      if (!o.config) {
        throw new GatewayError(GatewayCode.Config, '--config FILE is required to run the gateway');
      }
      const cfg = loadConfig(o.config);
      const log = createLogger({ name: 'gateway', level: cfg.log.level });
      const gw = await Gateway.start(cfg, log);
      const boundMs = cfg.shutdown.timeoutMs;
      await new Promise<void>((resolve) => {
        let signals = 0;
        const stop = (signal: string) => {
          if (++signals > 1) {
            log.warn({ signal }, 'second signal: exiting now');
            exitWithFailure({
              code: GatewayCode.ShutdownIncomplete,
              message: `second ${signal}: exited before the stop finished; the spooled readings are sealed and forwarded at the next start`,
            });
          }
          log.info({ signal, boundMs }, 'signal received: shutting down');
          // The bound holds whatever hangs: what was not finished is as after a crash.
          setTimeout(() => {
            log.error({ boundMs }, 'shutdown did not finish within its bound: exiting');
            exitWithFailure({
              code: GatewayCode.ShutdownIncomplete,
              message: `the stop did not finish within shutdown.timeoutMs (${boundMs} ms); see the log for the step that hung; the spooled readings are sealed and forwarded at the next start`,
            });
          }, boundMs).unref();
          gw.close().then(resolve, (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            exitWithFailure(describeFailure(err));
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
      // Done: exit now rather than wait for handles a library may keep open.
      process.exit(process.exitCode ?? 0);
    });
  cmd.addCommand(deviceCommand());
  cmd.addCommand(eraseCommand());
  return cmd;
}
