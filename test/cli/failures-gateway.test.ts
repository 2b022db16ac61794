/**
 * Every failure is a code and an exit (issue #16), the gateway: started through the
 * real CLI on a port already taken, a database it cannot open or that another process
 * holds locked, a token that does not exist, or without a config, it prints exactly one
 * `medchain: CODE: what to do` line, exits 2, and its whole process group (the HSM
 * signer child included) is gone.
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
const gateway = (t: Test, extra: Record<string, unknown>) =>
  runCli(t, ['gateway', '--config', kit.gatewayConfig(port, extra)], kit.dir);

t.test('gateway: device port in use', (t) =>
  failsWith(t, gateway(t, { devices: hosted(port) }), 'NET_ADDRESS_IN_USE'),
);
t.test('gateway: HTTP port in use', (t) =>
  failsWith(t, gateway(t, { http: hosted(port) }), 'NET_ADDRESS_IN_USE'),
);
t.test('gateway: database directory missing', (t) =>
  failsWith(t, gateway(t, { db: missingDir }), 'STORE_CANT_OPEN'),
);
t.test('gateway: database locked by another process', (t) =>
  failsWith(t, gateway(t, { db: locked }), 'STORE_BUSY'),
);
t.test('gateway: token missing', (t) =>
  failsWith(t, gateway(t, { hsm: { token: 'no-such-token', key: 'gw-1' } }), 'HSM_TOKEN_NOT_FOUND'),
);
t.test('gateway: no --config', (t) =>
  failsWith(t, runCli(t, ['gateway'], kit.dir), 'GATEWAY_CONFIG', /--config/),
);
