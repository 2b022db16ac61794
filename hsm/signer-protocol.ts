/** Messages between ChildSigner and its worker process (advanced IPC serialisation). */

export interface InitRequest {
  t: 'init';
  modulePath: string | undefined;
  token: string;
  /** Sent over IPC, never in argv or the child's environment. */
  pin: string;
  keys: string[];
  sessions: number;
}

export interface OpRequest {
  t: 'sign' | 'derive';
  id: number;
  key: string;
  /** The 32-byte digest to sign, or the peer's 65-byte point to derive with. */
  data: Uint8Array;
}

export type ParentMessage = InitRequest | OpRequest;

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

export interface OpDone {
  t: 'done';
  id: number;
  result: Uint8Array;
}

export interface OpFailed {
  t: 'failed';
  id: number;
  code: string;
  message: string;
}

export type WorkerMessage = Ready | InitFailed | OpDone | OpFailed;
