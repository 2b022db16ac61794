/**
 * One MQTT 5 subscriber session on an existing broker, on mqtt-packet directly: many
 * QoS 1 PUBLISHes in flight at once, each PUBACK written only once its handler has
 * resolved (the reading is committed), in the order the PUBLISHes came
 * [MQTT-4.6.0-2]. mqtt.js cannot do this: it parses a connection's next PUBLISH only
 * after the previous PUBACK was written, so holding PUBACKs for the COMMIT left one
 * reading per transaction (docs/GATEWAY.md "Throughput").
 *
 * The broker bounds what is in flight by our Receive Maximum and its own window
 * (Mosquitto: max_inflight_messages). A handler that rejects gets no PUBACK, nor does
 * anything after it: the connection is dropped and re-opened after retryMs, and the
 * broker redelivers every unacknowledged message to the persistent session
 * [MQTT-4.4.0-1] (the spool counts any it already holds as duplicates).
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as mqttPacket from 'mqtt-packet';

export interface BrokerSessionOptions {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  clientId: string;
  filter: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: { cert?: string; key?: string; ca: string } | undefined;
  sessionExpirySeconds: number;
  /** Our Receive Maximum: PUBLISHes the broker may have unacknowledged with us. */
  receiveMaximum?: number | undefined;
  keepaliveSeconds?: number | undefined;
  /** Wait before reconnecting after a drop (default 1000 ms). */
  retryMs?: number | undefined;
  /** Resolves when the PUBACK may be sent; rejecting withholds it and drops the connection. */
  onMessage: (topic: string, payload: Buffer) => Promise<unknown>;
}

interface Ack {
  readonly messageId: number;
  done: boolean;
}

const OPTS = { protocolVersion: 5 } as const;

/** Events: 'connect' ({ sessionPresent }), 'subscribed', 'close', 'error' (Error). */
export class BrokerSession extends EventEmitter {
  readonly #o: BrokerSessionOptions;
  #socket: Socket | undefined;
  #acks: Ack[] = [];
  #inFlight = new Set<Promise<unknown>>();
  #connected = false;
  #subscribed = false;
  #closing = false;
  #retry: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  #pongDue = 0;

  constructor(o: BrokerSessionOptions) {
    super();
    this.#o = o;
    this.#open();
  }

  get connected(): boolean {
    return this.#connected;
  }

  get subscribed(): boolean {
    return this.#connected && this.#subscribed;
  }

  #open(): void {
    this.#retry = undefined;
    const u = new URL(this.#o.url);
    const secure = u.protocol === 'mqtts:';
    const port = Number(u.port || (secure ? 8883 : 1883));
    const host = u.hostname;
    const socket = secure
      ? tlsConnect({ host, port, servername: host, ...this.#o.tls, rejectUnauthorized: true })
      : netConnect({ host, port });
    socket.setNoDelay(true);
    this.#socket = socket;
    this.#acks = [];
    const parser = mqttPacket.parser(OPTS);
    parser.on('packet', (p) => this.#onPacket(socket, p));
    parser.on('error', (err: Error) => {
      this.emit('error', err);
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', (err) => this.emit('error', err));
    socket.on('close', () => this.#onClose(socket));
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      this.#send(socket, {
        cmd: 'connect',
        protocolVersion: 5,
        clientId: this.#o.clientId,
        clean: false,
        keepalive: this.#o.keepaliveSeconds ?? 60,
        ...(this.#o.username !== undefined ? { username: this.#o.username } : {}),
        ...(this.#o.password !== undefined ? { password: Buffer.from(this.#o.password) } : {}),
        properties: {
          // MQTT 5 ends a session at disconnect unless it has an expiry [MQTT-3.1.2-23].
          sessionExpiryInterval: this.#o.sessionExpirySeconds,
          receiveMaximum: this.#o.receiveMaximum ?? 1000,
        },
      });
    });
  }

  #send(socket: Socket, p: mqttPacket.Packet): void {
    if (!socket.destroyed) socket.write(mqttPacket.generate(p, OPTS));
  }

  #onPacket(socket: Socket, p: mqttPacket.Packet): void {
    if (socket !== this.#socket) return;
    switch (p.cmd) {
      case 'connack': {
        if (p.reasonCode !== undefined && p.reasonCode !== 0) {
          this.emit('error', new Error(`broker refused the connection: reason ${p.reasonCode}`));
          socket.destroy();
          return;
        }
        this.#connected = true;
        this.#startPing(socket);
        this.emit('connect', { sessionPresent: p.sessionPresent });
        this.#send(socket, {
          cmd: 'subscribe',
          messageId: 1,
          subscriptions: [{ topic: this.#o.filter, qos: 1 }],
        });
        return;
      }
      case 'suback': {
        const code = p.granted[0];
        if (typeof code === 'number' && code <= 2) {
          this.#subscribed = true;
          this.emit('subscribed');
        } else {
          this.emit('error', new Error(`subscribe to ${this.#o.filter} refused: ${String(code)}`));
        }
        return;
      }
      case 'publish':
        this.#onPublish(socket, p);
        return;
      case 'pingresp':
        this.#pongDue = 0;
        return;
      case 'disconnect':
        socket.destroy();
        return;
      default:
        return;
    }
  }

  #onPublish(socket: Socket, p: mqttPacket.IPublishPacket): void {
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    const handled = this.#o.onMessage(p.topic, payload);
    this.#inFlight.add(handled);
    const forget = () => this.#inFlight.delete(handled);
    if (p.qos === 0 || p.messageId === undefined) {
      handled.then(forget, forget);
      return;
    }
    const ack: Ack = { messageId: p.messageId, done: false };
    this.#acks.push(ack);
    handled.then(
      () => {
        forget();
        ack.done = true;
        this.#flushAcks(socket);
      },
      () => {
        forget();
        // No PUBACK for this one nor (order) for any after it: the broker redelivers.
        if (socket === this.#socket) socket.destroy();
      },
    );
  }

  /** PUBACKs for the settled head of the queue, in arrival order, in one write. */
  #flushAcks(socket: Socket): void {
    if (socket !== this.#socket || socket.destroyed) return;
    let n = 0;
    while (n < this.#acks.length && this.#acks[n]!.done) n++;
    if (n === 0) return;
    const head = this.#acks.splice(0, n);
    socket.cork();
    for (const a of head) this.#send(socket, { cmd: 'puback', messageId: a.messageId });
    process.nextTick(() => socket.uncork());
  }

  #startPing(socket: Socket): void {
    const ms = ((this.#o.keepaliveSeconds ?? 60) * 1000) / 2;
    clearInterval(this.#ping);
    this.#ping = setInterval(() => {
      if (this.#pongDue !== 0 && Date.now() > this.#pongDue) {
        socket.destroy(); // the broker went silent
        return;
      }
      this.#pongDue ||= Date.now() + ms * 2;
      this.#send(socket, { cmd: 'pingreq' });
    }, ms);
    this.#ping.unref();
  }

  #onClose(socket: Socket): void {
    if (socket !== this.#socket) return;
    clearInterval(this.#ping);
    this.#pongDue = 0;
    this.#connected = false;
    this.#subscribed = false;
    this.#acks = [];
    this.emit('close');
    if (!this.#closing) this.#retry = setTimeout(() => this.#open(), this.#o.retryMs ?? 1000);
  }

  /**
   * Waits (at most graceMs) for the readings in hand to settle and their PUBACKs to be
   * written, then disconnects keeping the session (the broker queues for it meanwhile).
   */
  async close(graceMs = 4000): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    const deadline = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.#inFlight]), deadline]);
    const socket = this.#socket;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.uncork();
        socket.end(mqttPacket.generate({ cmd: 'disconnect', reasonCode: 0 }, OPTS));
        setTimeout(() => socket.destroy(), 2000).unref();
      });
    }
    clearInterval(this.#ping);
  }
}
