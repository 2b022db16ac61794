import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import mqtt, { type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import type { SimDevice } from './device.js';
import { DeviceEmitter, type EmitterOptions } from './emitter.js';
import type { FaultName, OutMessage } from './faults.js';
import { LatencyHistogram } from './histogram.js';
import { type Counters, type DeviceStats, emptyCounters, type FaultCounts } from './stats.js';

/**
 * A simulated device as an MQTT client, like any real one (DESIGN §5): QoS 1, a
 * persistent session (clean: false, stable clientId), username = device id, password =
 * device secret. mqtt.js keeps every unacknowledged QoS 1 PUBLISH in its outgoing store,
 * queues new ones there while offline, and on every reconnect re-sends the whole store
 * (whether or not the broker kept the session) before anything new: that is how no seq
 * is lost over a broker restart (test/simulators/restart.test.ts).
 */

/** Where a device reports connection trouble; a pino logger fits (ops/log.ts). */
export interface SimLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface DeviceClientOptions extends EmitterOptions {
  readonly url: string;
  /** 4 = MQTT 3.1.1 (default; what aedes speaks), 5 for brokers such as Mosquitto. */
  readonly protocolVersion?: 4 | 5;
  /** Default: the device id, stable (the broker finds the session again) and what the gateway requires. */
  readonly clientId?: string;
  readonly reconnectPeriodMs?: number;
  readonly connectTimeoutMs?: number;
  readonly keepaliveS?: number;
  /** true (default): timers follow the device's schedule. false: only step()/inject(). */
  readonly auto?: boolean;
  /**
   * With auto: true (default), measure from the first CONNACK on, not from construction,
   * so a fleet's connection storm does not become a backlog that skews latency. false: a
   * device that measures from power-on and sends what it kept once the network is up.
   */
  readonly startOnConnect?: boolean;
  /** Unanswered messages before new ones wait in the device's own buffer. Default 1000. */
  readonly maxInflight?: number;
  /** Buffered readings before the oldest are dropped (counted). Default 100,000. */
  readonly maxBacklog?: number;
  /**
   * Sends of a faulty message after which, when the link drops again, it is given up.
   * A gateway may answer a bad message by closing the connection (aedes does when
   * authorizePublish fails); without this, the re-sent message would close every new
   * connection for ever. Valid readings are never given up. Default 2.
   */
  readonly maxFaultAttempts?: number;
  readonly log?: SimLogger;
}

interface Pending {
  readonly msg: OutMessage;
  /** performance.now() of the first publish: latency includes any time spent offline. */
  readonly t0: number;
  messageId?: number;
  sends: number;
  giveUp?: boolean;
}

export interface DeviceClientEvents {
  /** Handed to MQTT for the first time (sent now, or stored while offline). */
  publish: [msg: OutMessage];
  ack: [msg: OutMessage, latencyMs: number];
  reject: [msg: OutMessage, reason: string];
  settled: [];
  connect: [];
  offline: [];
}

/** Reason text of a negative MQTT 5 PUBACK. */
function reasonOf(err: Error & { code?: unknown }, packet: Packet | undefined): string {
  const props = (packet as { properties?: { reasonString?: string } } | undefined)?.properties;
  return props?.reasonString ?? `${err.message} (${String(err.code)})`;
}

export class DeviceClient extends EventEmitter<DeviceClientEvents> {
  readonly device: SimDevice;
  readonly emitter: DeviceEmitter;
  readonly mqtt: MqttClient;
  readonly latency = new LatencyHistogram();
  private readonly opts: DeviceClientOptions;
  private readonly counters: Counters = emptyCounters();
  private readonly byFault: Partial<Record<FaultName, FaultCounts>> = {};
  private readonly rejectedByReason: Record<string, number> = {};
  private readonly open = new Set<Pending>();
  private readonly byId = new Map<number, Pending>();
  private readonly backlog: OutMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** No more scheduled readings (stop() began). */
  private halted = false;
  /** Disconnected for good: nothing is published or re-published. */
  private stopped = false;
  private lastSeq = 0;
  private lastError: string | undefined;

  constructor(device: SimDevice, opts: DeviceClientOptions) {
    super();
    this.device = device;
    this.opts = opts;
    this.emitter = new DeviceEmitter(device, opts);
    const options: IClientOptions = {
      protocolVersion: opts.protocolVersion ?? 4,
      // The gateway binds a session to its device: client id = device id (gateway/device-auth.ts).
      clientId: opts.clientId ?? device.id,
      clean: false,
      username: device.id,
      reconnectPeriod: opts.reconnectPeriodMs ?? 1000,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      keepalive: opts.keepaliveS ?? 30,
      // Devices publish at QoS 1 only: nothing to queue at QoS 0.
      queueQoSZero: false,
      ...(device.spec.secret === undefined ? {} : { password: device.spec.secret }),
      ...(opts.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    };
    this.mqtt = mqtt.connect(opts.url, options);
    this.mqtt.on('connect', () => {
      opts.log?.debug({ device: device.id }, 'connected');
      this.emit('connect');
      this.drain();
    });
    this.mqtt.on('close', () => this.onClose());
    this.mqtt.on('offline', () => this.emit('offline'));
    this.mqtt.on('error', (err) => {
      this.counters.errors++;
      this.lastError = err.message;
      // The first error of a device is worth a warning; its reconnect attempts are not.
      const level = this.counters.errors === 1 ? 'warn' : 'debug';
      opts.log?.[level]({ device: device.id, err: err.message }, 'connection error');
    });
    // Counted on CONNACK: after a reconnect, mqtt.js emits 'connect' only once its store
    // is re-sent, which a link that drops again never reaches.
    this.mqtt.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'connack' && (p.returnCode ?? p.reasonCode ?? 0) === 0)
        this.counters.connects++;
    });
    this.mqtt.on('packetsend', (p: Packet) => {
      if (p.cmd !== 'publish' || p.messageId === undefined) return;
      const pending = this.byId.get(p.messageId);
      if (pending === undefined) return;
      pending.sends++;
      if (pending.sends > 1) this.counters.resent++;
    });
    if (opts.auto ?? true) {
      if (opts.startOnConnect ?? true) {
        this.mqtt.once('connect', () => {
          const now = device.clock();
          if (device.nextSeq === 1) device.startAt(now);
          else device.skipUntil(now);
          this.schedule();
        });
      } else this.schedule();
    }
  }

  get id(): string {
    return this.device.id;
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  /** Publishes the next scheduled reading now (with its drawn faults); returns the count. */
  step(): number {
    return this.send(this.emitter.step());
  }

  /** Publishes one fault now (see DeviceEmitter.inject). */
  inject(fault: FaultName): OutMessage[] {
    const msgs = this.emitter.inject(fault);
    this.send(msgs);
    return msgs;
  }

  /** Publishes messages, or buffers them while maxInflight are unanswered. */
  send(msgs: readonly OutMessage[]): number {
    if (this.stopped) return 0;
    const max = this.opts.maxInflight ?? 1000;
    for (const m of msgs) {
      if (this.open.size < max && this.backlog.length === 0) this.publish(m, performance.now());
      else {
        this.backlog.push(m);
        if (this.backlog.length > (this.opts.maxBacklog ?? 100_000)) {
          this.backlog.shift();
          this.counters.dropped++;
        }
      }
    }
    return msgs.length;
  }

  private faultCounts(m: OutMessage): FaultCounts | undefined {
    if (m.fault === undefined) return undefined;
    let c = this.byFault[m.fault];
    if (c === undefined) {
      c = { sent: 0, acked: 0, rejected: 0, abandoned: 0 };
      this.byFault[m.fault] = c;
    }
    return c;
  }

  private publish(msg: OutMessage, t0: number, retry = false): void {
    const p: Pending = { msg, t0, sends: 0 };
    this.open.add(p);
    if (!retry) {
      this.counters.published++;
      const fc = this.faultCounts(msg);
      if (fc !== undefined) fc.sent++;
      if (msg.seq !== undefined && msg.fault !== 'replay') {
        this.lastSeq = Math.max(this.lastSeq, msg.seq);
      }
    }
    const payload = Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.length);
    this.mqtt.publish(
      msg.topic,
      payload,
      {
        qos: 1,
        // Called right after mqtt.js allocated the packet id and stored the packet.
        cbStorePut: () => {
          const id = this.mqtt.getLastMessageId();
          p.messageId = id;
          this.byId.set(id, p);
        },
      },
      (err, packet) => this.settle(p, err, packet),
    );
    if (!retry) this.emit('publish', msg);
  }

  private settle(p: Pending, err: (Error & { code?: unknown }) | undefined, packet?: Packet) {
    if (!this.open.delete(p)) return;
    if (p.messageId !== undefined && this.byId.get(p.messageId) === p)
      this.byId.delete(p.messageId);
    const fc = this.faultCounts(p.msg);
    if (err === undefined || err === null) {
      this.counters.acked++;
      if (fc !== undefined) fc.acked++;
      const ms = performance.now() - p.t0;
      this.latency.record(ms);
      this.emit('ack', p.msg, ms);
    } else if (typeof err.code === 'number' && err.code >= 0x80) {
      const reason = reasonOf(err, packet);
      this.counters.rejected++;
      if (fc !== undefined) fc.rejected++;
      this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
      this.emit('reject', p.msg, reason);
    } else if (p.giveUp) {
      this.counters.abandoned++;
      if (fc !== undefined) fc.abandoned++;
    } else if (!this.stopped) {
      // Not stored by mqtt.js (it was waiting behind the re-send of its store when the
      // link dropped): publish it again. Deferred: we are inside mqtt.js's close handling.
      this.open.add(p);
      setImmediate(() => {
        this.open.delete(p);
        this.publish(p.msg, p.t0, true);
      });
      return;
    }
    this.drain();
  }

  private onClose(): void {
    const max = this.opts.maxFaultAttempts ?? 2;
    for (const p of this.open) {
      if (p.msg.fault !== undefined && p.sends >= max && p.messageId !== undefined) {
        p.giveUp = true;
        this.mqtt.removeOutgoingMessage(p.messageId);
      }
    }
  }

  private drain(): void {
    const max = this.opts.maxInflight ?? 1000;
    while (this.backlog.length > 0 && this.open.size < max && !this.stopped) {
      this.publish(this.backlog.shift()!, performance.now());
    }
    if (this.open.size === 0 && this.backlog.length === 0) this.emit('settled');
  }

  private schedule(): void {
    if (this.halted) return;
    const wait = Math.max(0, this.device.nextDueMs() - this.device.clock());
    this.timer = setTimeout(() => {
      this.send(this.emitter.due());
      this.schedule();
    }, wait);
  }

  /** Resolves when every published message is answered and the buffer is empty. */
  settled(timeoutMs = 10_000): Promise<void> {
    if (this.open.size === 0 && this.backlog.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off('settled', done);
        reject(
          new Error(`${this.id}: ${this.open.size} messages unanswered after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        this.off('settled', done);
        resolve();
      };
      this.on('settled', done);
    });
  }

  stats(): DeviceStats {
    return {
      ...this.counters,
      inflight: this.open.size,
      backlog: this.backlog.length,
      skipped: this.device.skipped,
      id: this.id,
      connected: this.mqtt.connected,
      lastSeq: this.lastSeq,
      rejectedByReason: { ...this.rejectedByReason },
      byFault: structuredClone(this.byFault),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  /** Stops the schedule, waits up to drainMs for answers, then disconnects cleanly. */
  async stop(drainMs = 5000): Promise<DeviceStats> {
    this.halted = true;
    clearTimeout(this.timer);
    if (this.mqtt.connected && drainMs > 0) await this.settled(drainMs).catch(() => undefined);
    this.stopped = true;
    await this.mqtt.endAsync(!this.mqtt.connected).catch(() => undefined);
    return this.stats();
  }
}
