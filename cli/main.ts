#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { medchainVersion } from '../ops/build-info.js';
import { describeFailure } from '../ops/failure.js';
import { caCommand } from './ca.js';
import { demoCommand } from './demo.js';
import { exportCommand } from './export.js';
import { gatewayCommand } from './gateway.js';
import { hsmCommand } from './hsm.js';
import { notaryCommand } from './notary.js';
import {
  commanderExit,
  exitWithFailure,
  installProcessGuards,
  superviseCommands,
  usageFailure,
} from './process-guard.js';
import { proveCommand } from './prove.js';
import { replicaCommand } from './replica.js';
import { simulateCommand } from './simulate.js';
import { verifyCommand } from './verify.js';
import { verifyProofCommand } from './verify-proof.js';

installProcessGuards();

const program = new Command('medchain')
  .description('Tamper-evident, private medical device telemetry: gateway, notary, CA and tools')
  .version(medchainVersion())
  // Lets a command take an option its subcommands also take (replica --db, replica export --db).
  .enablePositionalOptions();

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

superviseCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const status = commanderExit(err);
  if (status !== undefined) process.exit(status);
  exitWithFailure(
    err instanceof CommanderError
      ? usageFailure(program, err, process.argv.slice(2))
      : describeFailure(err),
  );
}
