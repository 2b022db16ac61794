/**
 * The subscriber of the forwarding targets (bare aedes, Mosquitto), in a process of its
 * own: takes every device topic at QoS 1 and acknowledges each message, as the gateway
 * consumes an external broker. Answers { received } to a 'count' message over IPC.
 */
import mqtt from 'mqtt';

const url = process.argv[2];
if (url === undefined) throw new Error('usage: consumer.js mqtt://host:port');
let received = 0;
const client = mqtt.connect(url, {
  clientId: `bench-consumer-${process.pid}`,
  protocolVersion: 4,
  clean: true,
  reconnectPeriod: 0,
});
client.on('message', () => {
  received++;
});
client.on('error', (err) => {
  process.stderr.write(`consumer: ${err.message}\n`);
  process.exit(1);
});
client.once('connect', () => {
  client.subscribe('med/v1/dev/+/obs', { qos: 1 }, (err) => {
    if (err) throw err;
    process.send?.({ ready: true });
  });
});
process.on('message', (m) => {
  if (m === 'count') process.send?.({ received });
});
const stop = () => client.end(false, {}, () => process.exit(0));
process.once('SIGTERM', stop);
process.once('disconnect', stop);
