/** A real Mosquitto (the apt package) for the external-broker tests. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir, within } from './helpers.js';

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const a = s.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  await new Promise((r) => s.close(r));
  return port;
}

type Tap = { teardown(fn: () => unknown): void };

/** A real Mosquitto on a free loopback port, with a large queue (see docs/GATEWAY.md). */
export async function mosquitto(t: Tap): Promise<{ dir: string; port: number }> {
  const dir = tempDir(t);
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'log_dest stderr',
      'log_type all',
      'max_queued_messages 100000',
      'max_inflight_messages 0',
      '',
    ].join('\n'),
  );
  const broker = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => broker.kill('SIGKILL'));
  const running = new Promise<void>((resolve) => {
    createInterface({ input: broker.stderr! }).on('line', (l) => {
      if (process.env.DBG) console.error('MOSQ', l);
      if (/running/.test(l)) resolve();
    });
  });
  await within(10_000, 'mosquitto running', running);
  return { dir, port };
}
