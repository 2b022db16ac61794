/**
 * Target 1 of the end-to-end benchmark, in a process of its own: a bare aedes broker
 * (in-memory persistence, no hooks) that forwards QoS 1 to whoever subscribed. The
 * floor under the gateway, which is aedes plus validation, spool, seal and uplink.
 * Tells its parent the port over IPC; exits on SIGTERM or when the parent goes.
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';

const aedes = await Aedes.createBroker();
const sockets = new Set<Socket>();
const server = createServer((s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
  aedes.handle(s);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const stop = () => {
  for (const s of sockets) s.destroy();
  server.close();
  aedes.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('disconnect', stop);
process.send?.({ port: (server.address() as { port: number }).port });
