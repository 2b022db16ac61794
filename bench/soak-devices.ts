/**
 * The real devices of the soak: steady publishers (QoS 1, reconnecting like a device
 * does) and a prober that opens a fresh connection every interval to time its CONNACK.
 * Every sample is tagged with the phase it happened in.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { encodeReading } from '../core/reading.js';

export interface Sample {
  readonly phase: string;
  readonly ms: number;
}

export class SoakStats {
  phase = 'setup';
  readonly connack: Sample[] = [];
  readonly puback: Sample[] = [];
  /** Acknowledged readings: `device:seq`. */
  readonly acked = new Set<string>();
  connectFailures = 0;
  record(kind: 'connack' | 'puback', ms: number): void {
    this[kind].push({ phase: this.phase, ms });
  }
}

function readingOf(deviceId: string, seq: number): Uint8Array {
  return encodeReading({
    deviceId,
    seq,
    deviceTime: Date.now(),
    patient: 'MRN-SOAK',
    observations: [
      {
        kind: 'numeric',
        code: 150456,
        value: { mantissa: 90 + (seq % 10), exponent: 0 },
        unit: '%',
      },
    ],
  });
}

/** A device publishing one reading every `everyMs`, never more than `inflight` unacknowledged. */
export class SteadyDevice {
  readonly #client: MqttClient;
  readonly #timer: NodeJS.Timeout;
  #seq = 0;
  #inflight = 0;

  constructor(url: string, id: string, secret: string, everyMs: number, stats: SoakStats) {
    this.#client = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: id,
      username: id,
      password: secret,
      clean: false,
      reconnectPeriod: 250,
      connectTimeout: 30_000,
      keepalive: 30,
    });
    this.#client.on('error', () => {});
    this.#timer = setInterval(() => {
      if (!this.#client.connected || this.#inflight >= 20) return;
      const seq = ++this.#seq;
      const sent = Date.now();
      this.#inflight++;
      // mqtt.js keeps an unacknowledged QoS 1 message and resends it after a reconnect.
      this.#client.publish(
        `med/v1/dev/${id}/obs`,
        Buffer.from(readingOf(id, seq)),
        { qos: 1 },
        (err) => {
          this.#inflight--;
          if (err) return;
          stats.record('puback', Date.now() - sent);
          stats.acked.add(`${id}:${seq}`);
        },
      );
    }, everyMs);
  }

  get pending(): number {
    return this.#inflight;
  }

  stopPublishing(): void {
    clearInterval(this.#timer);
  }

  end(): Promise<void> {
    clearInterval(this.#timer);
    return this.#client.endAsync(true);
  }
}

/** Opens a new connection every `everyMs` and records how long its CONNACK took. */
export function startProber(
  url: string,
  id: string,
  secret: string,
  everyMs: number,
  stats: SoakStats,
): () => void {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const t0 = Date.now();
      try {
        const c = await mqtt.connectAsync(url, {
          protocolVersion: 4,
          clientId: id,
          username: id,
          password: secret,
          clean: true,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
        });
        stats.record('connack', Date.now() - t0);
        await c.endAsync(true);
      } catch {
        stats.connectFailures++;
        stats.record('connack', Date.now() - t0);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}
