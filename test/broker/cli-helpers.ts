/** Running the `medchain` CLI from TypeScript sources under the test runner's loader. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { USER_PIN } from '../helpers/softhsm.js';

export const MAIN = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');
/** Read at each spawn: the SoftHSM fixture sets SOFTHSM2_CONF after this module loads. */
export const env = () => ({
  ...process.env,
  MEDCHAIN_HSM_PIN: USER_PIN,
  MEDCHAIN_LOG_LEVEL: 'info',
});

export function medchain(args: string[]) {
  return spawnSync(process.execPath, [...process.execArgv, MAIN, ...args], {
    env: env(),
    encoding: 'utf8',
  });
}

/** Like medchain(), without blocking this process's event loop while the child runs. */
export function medchainAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...process.execArgv, MAIN, ...args], {
    env: env(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stderr })));
}

/** Starts `medchain notary --config`; resolves with the process and its ports once ready. */
export function startCli(
  t: { teardown(fn: () => unknown): void },
  config: string,
): Promise<{ child: ChildProcess; mqtt: number; http: number; stderr: () => string }> {
  const child = spawn(process.execPath, [...process.execArgv, MAIN, 'notary', '--config', config], {
    env: env(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`notary not ready:\n${err}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`notary exited ${code}:\n${err}`)));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of err.split('\n')) {
        if (!line.includes('"notary ready"')) continue;
        const j = JSON.parse(line) as { mqtt: number; http: number };
        clearTimeout(timer);
        resolve({ child, mqtt: j.mqtt, http: j.http, stderr: () => err });
        return;
      }
    });
  });
}
