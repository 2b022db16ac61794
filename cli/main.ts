#!/usr/bin/env node
import { Command } from 'commander';
import { MedchainError } from '../core/errors.js';
import { createLogger } from '../ops/log.js';
import { caCommand } from './ca.js';
import { demoCommand } from './demo.js';
import { exportCommand } from './export.js';
import { gatewayCommand } from './gateway.js';
import { hsmCommand } from './hsm.js';
import { notaryCommand } from './notary.js';
import { proveCommand } from './prove.js';
import { replicaCommand } from './replica.js';
import { simulateCommand } from './simulate.js';
import { verifyCommand } from './verify.js';
import { verifyProofCommand } from './verify-proof.js';

const log = createLogger({ name: 'medchain' });

const program = new Command('medchain')
  .description('Tamper-evident, private medical device telemetry: gateway, notary, CA and tools')
  .showHelpAfterError()
  // Lets a command take an option its subcommands also take (replica --db, replica export --db).
  .enablePositionalOptions()
  .exitOverride();

program.addCommand(demoCommand());
program.addCommand(hsmCommand());
program.addCommand(verifyCommand());
program.addCommand(verifyProofCommand());
program.addCommand(caCommand());
program.addCommand(gatewayCommand());
program.addCommand(notaryCommand());
program.addCommand(simulateCommand());
program.addCommand(proveCommand());
program.addCommand(exportCommand());
program.addCommand(replicaCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof MedchainError) {
    process.stderr.write(`medchain: ${err.code}: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof Error && 'exitCode' in err && typeof err.exitCode === 'number') {
    // commander already printed usage or help.
    process.exitCode = err.exitCode;
  } else {
    log.fatal({ err }, 'unexpected failure');
    process.exitCode = 1;
  }
}
