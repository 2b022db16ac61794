/**
 * The attackers of the soak, all against 127.0.0.1 from other loopback source
 * addresses (127.0.0.2 and up) so that per-address limits see them apart from the
 * devices. Each runs until its stop function is called, bounded by its own count.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const str = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

function connectPacket(id: string, user: string, password: string): Buffer {
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, 0xc2, 0, 30]),
    str(id),
    str(user),
    str(password),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const source = (i: number) => `127.0.0.${2 + (i % 200)}`;

function open(port: number, i: number): Socket {
  const s = connect({ port, host: '127.0.0.1', localAddress: source(i) });
  s.on('error', () => {});
  s.setTimeout(30_000, () => s.destroy());
  return s;
}

/** Keeps `concurrent` bad CONNECTs (wrong passwords, unknown ids) in flight. */
export function connectFlood(port: number, concurrent: number, maxTotal = 200_000) {
  let stopped = false;
  let sent = 0;
  const one = (i: number) => {
    if (stopped || sent >= maxTotal) return;
    sent++;
    const s = open(port, i);
    s.once('connect', () =>
      s.write(connectPacket(`bad-${sent}`, `dev-${sent % 100}`, `wrong-${sent}`)),
    );
    s.once('data', () => s.destroy());
    s.once('close', () => setImmediate(() => one(i)));
  };
  for (let i = 0; i < concurrent; i++) one(i);
  return {
    stop: () => {
      stopped = true;
    },
    sent: () => sent,
  };
}

/** Sockets that send a CONNECT one byte at a time, slowly. */
export function slowLoris(port: number, sockets: number, byteEveryMs = 1000) {
  let stopped = false;
  const all = new Set<Socket>();
  const one = (i: number) => {
    if (stopped) return;
    const s = open(port, i);
    all.add(s);
    const bytes = connectPacket(`slow-${i}`, `slow-${i}`, 'x'.repeat(40));
    let at = 0;
    const timer = setInterval(() => {
      if (at < bytes.length) s.write(bytes.subarray(at, ++at));
    }, byteEveryMs);
    s.once('close', () => {
      clearInterval(timer);
      all.delete(s);
      setTimeout(() => one(i), 100);
    });
  };
  for (let i = 0; i < sockets; i++) one(i);
  return {
    stop: () => {
      stopped = true;
      for (const s of all) s.destroy();
    },
  };
}

/**
 * A fuzzer-style stream: mutations of valid packets (a CONNECT, a PUBLISH) with random
 * bytes flipped, truncated or extended, and pure random bytes, each on a new connection.
 */
export function fuzzer(port: number, concurrent: number, maxTotal = 200_000) {
  let stopped = false;
  let sent = 0;
  const seeds = [
    connectPacket('fuzz', 'fuzz', 'not-a-secret-at-all'),
    Buffer.concat([
      connectPacket('fuzz', 'fuzz', 'nope'),
      Buffer.from([0x32, 12]),
      str('med/v1/x'),
      Buffer.from([0, 1, 0x41]),
    ]),
    Buffer.from([0x82, 8, 0, 1, 0, 3, 0x23, 0x2f, 0x23, 0]),
  ];
  const mutate = (): Buffer => {
    const pick = sent % 4;
    if (pick === 3) return randomBytes(1 + (sent % 64));
    const b = Buffer.from(seeds[pick]!);
    for (let k = 0; k <= sent % 4; k++) b[(sent * 7 + k * 13) % b.length] = randomBytes(1)[0]!;
    return sent % 5 === 0
      ? b.subarray(0, Math.max(1, b.length - 3))
      : Buffer.concat([b, randomBytes(sent % 8)]);
  };
  const one = (i: number) => {
    if (stopped || sent >= maxTotal) return;
    sent++;
    const s = open(port, i);
    s.once('connect', () => {
      s.write(mutate());
      setTimeout(() => s.destroy(), 200);
    });
    s.once('close', () => setImmediate(() => one(i)));
  };
  for (let i = 0; i < concurrent; i++) one(i);
  return {
    stop: () => {
      stopped = true;
    },
    sent: () => sent,
  };
}

/**
 * Run as a process of its own (`node soak-attacks.js KIND N PORT`), so the attack's
 * event loop is not the one that times the real devices: it runs until SIGTERM, then
 * prints how many connections it made.
 */
if (process.argv[1]?.endsWith('soak-attacks.js')) {
  const [kind, n, port] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const attack =
    kind === 'flood'
      ? connectFlood(port, n)
      : kind === 'fuzz'
        ? fuzzer(port, n)
        : { ...slowLoris(port, n), sent: () => n };
  process.once('SIGTERM', () => {
    attack.stop();
    process.stdout.write(`${attack.sent()}\n`);
    process.exit(0);
  });
}
