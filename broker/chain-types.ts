/** Value types of the chain store, shared by its modules and re-exported by chain-store.ts. */
import type { Entry } from '../core/entry.js';

export interface GatewayState {
  readonly lastSeq: number;
  readonly lastHash: Uint8Array;
  readonly lastHeight: number;
}

/** One verified block to register. */
export interface Registration {
  readonly gateway: string;
  readonly seq: number;
  readonly kid: Uint8Array;
  readonly signedHeader: Uint8Array;
  readonly bodyHash: Uint8Array;
  readonly body: Uint8Array;
  /** h(n) = internalHash(signedHeader). */
  readonly internal: Uint8Array;
}

export interface StoredEntry {
  readonly height: number;
  readonly entry: Entry;
  readonly entryBytes: Uint8Array;
  readonly entryHash: Uint8Array;
  readonly logRoot: Uint8Array;
}

export interface StoredBlock {
  readonly height: number;
  readonly gateway: string;
  readonly seq: number;
  readonly kid: Uint8Array;
  readonly signedHeader: Uint8Array;
  readonly bodyHash: Uint8Array;
  readonly body: Uint8Array;
  readonly erased: { readonly at: number; readonly reason: string } | undefined;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly checkpoint: Uint8Array;
  readonly at: number;
}

export interface Equivocation {
  readonly gateway: string;
  readonly seq: number;
  readonly height: number;
  readonly registered: Uint8Array;
  readonly conflicting: Uint8Array;
}

export interface Anchor {
  readonly upstreamSeq: number;
  readonly size: number;
  readonly block: Uint8Array;
  readonly receipt: Uint8Array | undefined;
}
