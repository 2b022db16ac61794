/**
 * A clean stop is what systemd does by default: SIGTERM to every process of the
 * service's group at once (KillMode=control-group), the HSM signer child included.
 * Both services then stop gracefully with status 0, write no error-level line (the
 * signer child used to die first and be logged as a crash), write no line with a
 * duplicate key, and leave no process behind.
 */
import t, { type Test } from 'tap';
import { exitWithin, groupAlive, type Proc, runCli, serviceKit, until } from './services.js';

const kit = await serviceKit(t);

async function stopsCleanly(t: Test, p: Proc, name: string): Promise<void> {
  process.kill(-(p.child.pid ?? 0), 'SIGTERM');
  const { code, signal } = await exitWithin(p);
  t.equal(code, 0, `${name} exits 0`);
  t.equal(signal, null);
  const json = p.lines.filter((l) => l.startsWith('{'));
  t.same(
    p.lines.filter((l) => !l.startsWith('{')),
    [],
    'every stderr line is a JSON log line',
  );
  const errors = json.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  t.same(errors, [], 'no error-level line');
  t.same(
    json.filter((l) => (l.match(/"pid":/g) ?? []).length > 1),
    [],
    'no line with a duplicate pid key',
  );
  t.ok(
    json.some((l) => l.includes('stopped')),
    `${name} logged its stop`,
  );
  await until('no process of the group is left', () => !groupAlive(p.child.pid));
}

t.test('SIGTERM to the process group: gateway, then notary', async (t) => {
  const notary = runCli(t, ['notary', '--config', kit.notaryConfig()], kit.dir);
  const ready = await notary.line('notary ready');
  const gateway = runCli(
    t,
    ['gateway', '--config', kit.gatewayConfig(Number(ready.mqtt))],
    kit.dir,
  );
  await gateway.line('gateway ready');
  await gateway.line('uplink connected');
  await stopsCleanly(t, gateway, 'gateway');
  await stopsCleanly(t, notary, 'notary');
});
