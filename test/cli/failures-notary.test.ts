/**
 * Every failure is a code and an exit (issue #16), the notary: started through the
 * real CLI on a port already taken, a database it cannot open or that another process
 * holds locked, a token that does not exist, or without a config, it prints exactly one
 * `medchain: CODE: what to do` line, exits 2, and its whole process group (the HSM
 * signer child included) is gone. (Before: with its MQTT port taken it logged a fatal
 * line and kept running.)
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { failsWith, lockedDb, takenPort } from './failure-kit.js';
import { runCli, serviceKit } from './services.js';

const kit = await serviceKit(t);
const port = await takenPort(t);
const locked = await lockedDb(t, kit.dir);
const missingDir = join(kit.dir, 'no-such-dir', 'chain.db');
const hosted = (p: number) => ({ host: '127.0.0.1', port: p });
const notary = (t: Test, extra: Record<string, unknown>) =>
  runCli(t, ['notary', '--config', kit.notaryConfig(extra)], kit.dir);

t.test('notary: MQTT port in use', (t) =>
  failsWith(t, notary(t, { mqtt: hosted(port) }), 'NET_ADDRESS_IN_USE', /:\d+ is already/),
);
t.test('notary: HTTP port in use', (t) =>
  failsWith(t, notary(t, { http: hosted(port) }), 'NET_ADDRESS_IN_USE'),
);
t.test('notary: database directory missing', (t) =>
  failsWith(t, notary(t, { db: missingDir }), 'STORE_CANT_OPEN'),
);
t.test('notary: database locked by another process', (t) =>
  failsWith(t, notary(t, { db: locked }), 'STORE_BUSY'),
);
t.test('notary: token missing', (t) =>
  failsWith(
    t,
    notary(t, { token: { label: 'no-such-token', key: 'notary-1' } }),
    'HSM_TOKEN_NOT_FOUND',
  ),
);
t.test('notary: no --config', (t) =>
  failsWith(t, runCli(t, ['notary'], kit.dir), 'NOTARY_CONFIG', /--config/),
);
