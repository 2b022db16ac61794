/**
 * What makes every `medchain` failure supervisable: one line `medchain: CODE: what to do`
 * on stderr, exit status 2, and the process really ends (a service whose start failed
 * may still hold a signer child, timers or sockets that would keep it alive; systemd
 * only restarts a process that exits). Usage errors get the same treatment; a reader
 * that closes our stdout early (`medchain ca list | head`) ends the command quietly.
 */
import { type Command, CommanderError } from 'commander';
import { describeFailure, type Failure, failureLine, OpsCode } from '../ops/failure.js';

/** Exit status of every failure a command reports (README, "CLI"). */
export const FAILURE_STATUS = 2;

/** Prints the failure line and ends the process now. */
export function exitWithFailure(f: Failure): never {
  process.stderr.write(failureLine(f));
  process.exit(FAILURE_STATUS);
}

/**
 * Commander errors become our failures, not its own output and process.exit(1):
 * every command in the tree throws instead of exiting and prints nothing itself.
 */
export function superviseCommands(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput({ writeErr: () => {}, outputError: () => {} });
  for (const sub of cmd.commands) superviseCommands(sub);
}

/** The command argv names (deepest subcommand) and its ancestors, for option lookups. */
function commandPath(root: Command, args: readonly string[]): Command[] {
  const path = [root];
  for (const a of args) {
    if (a === '--') break;
    if (a.startsWith('-')) continue;
    const next = path[path.length - 1]!.commands.find(
      (c) => c.name() === a || c.aliases().includes(a),
    );
    if (next) path.push(next);
  }
  return path;
}

/** The first option in argv that none of the commands on its path knows. */
function firstUnknownOption(path: readonly Command[], args: readonly string[]): string | undefined {
  const known = new Set(['-h', '--help', '-V', '--version']);
  for (const c of path) {
    for (const o of c.options) {
      if (o.long) known.add(o.long);
      if (o.short) known.add(o.short);
    }
  }
  for (const a of args) {
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    const flag = a.startsWith('--') ? a.split('=')[0]! : a.slice(0, 2);
    if (!known.has(flag)) return flag;
  }
  return undefined;
}

/**
 * A commander error as a failure naming the command's help. Commander reports a
 * missing required option before an unknown one; a mistyped option (`verify --rot`)
 * is the operator's real mistake, so it is named first.
 */
export function usageFailure(root: Command, err: CommanderError, args: readonly string[]): Failure {
  const path = commandPath(root, args);
  const names = path.map((c) => c.name()).join(' ');
  const unknown = firstUnknownOption(path, args);
  const what =
    unknown !== undefined
      ? `unknown option '${unknown}'`
      : err.code === 'commander.help'
        ? 'a command is needed'
        : err.message.replace(/^error: /, '');
  return { code: OpsCode.Usage, message: `${what} (see '${names} --help')` };
}

/** Exit status for a commander error that is no failure (help, version), else undefined. */
export function commanderExit(err: unknown): number | undefined {
  if (!(err instanceof CommanderError)) return undefined;
  return err.exitCode === 0 ? 0 : undefined;
}

/**
 * Runtime failures outside any awaited call (an 'error' event nobody handled, a
 * rejected promise nobody awaited) end a service with the same one line and status 2;
 * EPIPE on stdout means the reader has gone, so the command ends quietly.
 */
export function installProcessGuards(): void {
  process.stdout.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'EPIPE') process.exit(0);
    exitWithFailure(describeFailure(err));
  });
  process.on('uncaughtException', (err) => exitWithFailure(describeFailure(err)));
  process.on('unhandledRejection', (err) => exitWithFailure(describeFailure(err)));
}
