/**
 * medchain notary --config FILE          run a notary until SIGINT/SIGTERM (graceful stop)
 * medchain notary export --db F --out F [--config FILE]  write the chain export (docs/FORMAT-export.md)
 * medchain notary erase --db F --height N --reason T   erase one block body (DESIGN §3.8)
 * (verifying an export is the auditor's `medchain verify`, cli/verify.ts)
 */
import { Command } from 'commander';
import { ChainStore } from '../broker/chain-store.js';
import { loadNotaryConfig } from '../broker/config.js';
import { BrokerCode, BrokerError } from '../broker/errors.js';
import { writeExport } from '../broker/export.js';
import { openNotarySigner, runNotary } from '../broker/run.js';
import { kidOfCertificate } from '../core/kid.js';
import { MedchainError } from '../errors/medchain-error.js';
import { DbLock } from '../ops/db-lock.js';
import { createLogger } from '../ops/log.js';

/** A catch handler that releases what was opened before rethrowing. */
function release(
  lock: DbLock | undefined,
  child?: { close(): Promise<void> },
): (err: unknown) => Promise<never> {
  return async (err) => {
    await child?.close();
    await lock?.release();
    throw err;
  };
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function notaryCommand(): Command {
  const cmd = new Command('notary')
    .description('the notary broker: verify, chain and receipt gateway blocks; proofs API')
    .option('--config <file>', 'notary config (JSON; see docs/OPERATIONS-notary.md)')
    .action(async (flags: { config?: string }) => {
      if (!flags.config) {
        throw new BrokerError(
          BrokerCode.Config,
          '--config FILE is required to run the notary (docs/OPERATIONS-notary.md)',
        );
      }
      const config = loadNotaryConfig(flags.config);
      const log = createLogger({ name: `notary:${config.notaryId}`, level: config.logLevel });
      const running = await runNotary(config, log);
      log.info(
        {
          mqtt: running.notary.broker.port,
          http: running.notary.http?.port,
          size: running.notary.store.size,
        },
        'notary ready',
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'stopping: draining submissions, last checkpoint');
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      await running.stop();
      log.info('notary stopped');
    });

  cmd
    .command('export')
    .description(
      'write the chain as one self-contained CBOR sequence file, ending at a signed checkpoint',
    )
    .option('--db <file>', "notary chain database (default: the config's db)")
    .requiredOption('--out <file>', 'output file (must not exist)')
    .option(
      '--config <file>',
      "the notary's config: open its token to sign a checkpoint at the current size (stopped notary only)",
    )
    .action(async (flags: { db?: string; out: string; config?: string }) => {
      // `notary --config` is also the parent's option, which commander gives to the parent.
      const configPath = flags.config ?? cmd.opts<{ config?: string }>().config;
      const config = configPath ? loadNotaryConfig(configPath) : undefined;
      const db = flags.db ?? config?.db;
      if (!db) throw new MedchainError('CLI_USAGE', 'give --db, or --config naming the db');
      const log = createLogger({ name: 'notary-export', level: config?.logLevel ?? 'warn' });
      // Signing a checkpoint writes to the chain: only with the notary stopped (STORE_IN_USE otherwise).
      const lock = config ? await DbLock.acquire(db, 'notary') : undefined;
      const token = config ? await openNotarySigner(config, log).catch(release(lock)) : undefined;
      const store = await ChainStore.open(db).catch(release(lock, token?.child));
      try {
        // A checkpoint signed here must find its certificate in the export.
        if (token) {
          const der = token.signingCert;
          await store.putCertificate(kidOfCertificate(der), der, Date.now());
        }
        const n = await writeExport(store, flags.out, token ? { signer: token.signer } : {});
        const left = store.size - n;
        print(
          `exported ${n} entries to ${flags.out}` +
            (left > 0
              ? ` (${left} later entries have no signed checkpoint yet: left out; give --config to sign one)`
              : ''),
        );
      } finally {
        await store.close();
        await token?.child.close();
        await lock?.release();
      }
    });

  cmd
    .command('erase')
    .description('erase the encrypted body of one block (logged; header, entry and chain stay)')
    .requiredOption('--db <file>', 'notary chain database')
    .requiredOption('--height <n>', 'chain height of the block')
    .requiredOption(
      '--reason <text>',
      'why (retention, erasure request id): kept in the erasure log',
    )
    .action(async (flags: { db: string; height: string; reason: string }) => {
      const height = Number(flags.height);
      const store = await ChainStore.open(flags.db);
      try {
        await store.eraseBody(height, flags.reason, Date.now());
        print(`erased the body of block ${height}`);
      } finally {
        await store.close();
      }
    });

  return cmd;
}
