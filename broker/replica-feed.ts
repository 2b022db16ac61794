/**
 * The live half of following: an MQTT 3.1.1 client on the notary's broker (TLS with a
 * client certificate from Trent; the server must be notary {notaryId}, ca/tls-peer.ts)
 * subscribed to the chain feed, the retained checkpoint and Trent's retained CRL; and the
 * feed message format. It only hands messages on: the replica verifies everything and
 * repairs any gap over HTTP (QoS 1 to a clean session is no durable log: what is missed
 * while disconnected, or lost in a notary restart, is fetched by range).
 */
import type { PeerCertificate } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { CRL_TOPIC } from '../ca/publish.js';
import { tlsPeerIdentity } from '../ca/tls-peer.js';
import { type DetValue, decodeDet } from '../core/det-cbor.js';
import { decodeEntry } from '../core/entry.js';
import { topics } from '../core/submit.js';
import type { Logger } from '../ops/log.js';
import type { FeedItem } from './replica-source.js';

export interface FeedTls {
  readonly key: string;
  readonly cert: string;
  /** Trent's root (PEM): the server's chain is checked against it. */
  readonly ca: string;
}

export interface ReplicaFeedOptions {
  readonly url: string;
  readonly notaryId: string;
  /** Must be the TLS certificate's id or start with `{id}-` (the notary's admission rule). */
  readonly clientId: string;
  readonly tls?: FeedTls | undefined;
  /** A chain feed item as published (the replica decodes and verifies it). */
  readonly onItem: (payload: Uint8Array) => void;
  readonly onCheckpoint: (signed: Uint8Array) => void;
  readonly onCrl: (crl: Uint8Array) => void;
  /** After each (re)connect: whatever was published meanwhile must be fetched. */
  readonly onConnect: () => void;
  readonly log?: Logger | undefined;
}

export class ReplicaFeed {
  readonly client: MqttClient;

  constructor(o: ReplicaFeedOptions) {
    const chain = topics.chain(o.notaryId);
    const checkpoint = topics.checkpoint(o.notaryId);
    this.client = mqtt.connect(o.url, {
      protocolVersion: 4,
      clientId: o.clientId,
      clean: true,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      ...(o.tls
        ? {
            ...o.tls,
            checkServerIdentity: (_host: string, cert: PeerCertificate) =>
              tlsPeerIdentity(cert, 'notary', o.notaryId),
          }
        : {}),
    } as IClientOptions);
    this.client.on('connect', () => {
      this.client.subscribe([chain, checkpoint, CRL_TOPIC], { qos: 1 }, (err) => {
        if (err) o.log?.warn({ err: err.message }, 'replica feed: subscribe failed');
        o.onConnect();
      });
    });
    this.client.on('error', (err) => o.log?.warn({ err: err.message, url: o.url }, 'replica feed'));
    this.client.on('message', (topic, payload) => {
      const bytes = new Uint8Array(payload);
      if (topic === checkpoint) o.onCheckpoint(bytes);
      else if (topic === CRL_TOPIC) o.onCrl(bytes);
      else if (topic === chain) o.onItem(bytes);
    });
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** A chain feed message [1, entry, signedHeader, body, receipt] as a FeedItem, if readable. */
export function decodeFeedItem(payload: Uint8Array): FeedItem | undefined {
  let v: DetValue;
  try {
    v = decodeDet(payload, { maxDepth: 2 });
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || v.length !== 5 || v[0] !== 1) return undefined;
  const [, entry, signedHeader, body, receipt] = v;
  if (
    !(entry instanceof Uint8Array) ||
    !(signedHeader instanceof Uint8Array) ||
    !(body instanceof Uint8Array) ||
    !(receipt instanceof Uint8Array)
  )
    return undefined;
  const e = decodeEntry(entry);
  if (!e.ok) return undefined;
  return { height: e.value.height, entry, signedHeader, body, erased: undefined, receipt };
}
