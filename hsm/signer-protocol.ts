/** Messages between ChildSigner and its worker process (advanced IPC serialisation). */

export interface InitRequest {
  t: 'init';
  modulePath: string | undefined;
  token: string;
  /** Sent over IPC, never in argv or the child's environment. */
  pin: string;
  keys: string[];
  sessions: number;
  /** Run signs concurrently on the session pool instead of one after another. */
  parallel: boolean;
}

export interface OpRequest {
  op: 'sign' | 'derive';
  id: number;
  key: string;
  /** The 32-byte digest to sign, or the peer's 65-byte point to derive with. */
  data: Uint8Array;
}

/** Requests are batched per event-loop turn: one IPC message carries many. */
export interface OpBatch {
  t: 'ops';
  ops: OpRequest[];
}

export type ParentMessage = InitRequest | OpBatch;

export interface Ready {
  t: 'ready';
  /** Uncompressed public points of the opened keys. */
  keys: { label: string; point: Uint8Array }[];
}

export interface InitFailed {
  t: 'init-failed';
  code: string;
  message: string;
}

export type OpResult =
  | { id: number; ok: true; result: Uint8Array }
  | { id: number; ok: false; code: string; message: string };

export interface ResultBatch {
  t: 'results';
  results: OpResult[];
}

export type WorkerMessage = Ready | InitFailed | ResultBatch;
