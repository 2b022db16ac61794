/**
 * Every failure of a `medchain` command, whatever raised it, as the one line a
 * supervisor (systemd, a shell script, an operator) acts on: `medchain: CODE: what to do`.
 * MedchainErrors carry their own code; the operating system's errors a service meets
 * at start (a port in use, a port it may not bind) and commander's usage errors get
 * stable codes here; anything else is INTERNAL_ERROR, a bug to report.
 */
import { MedchainError } from '../errors/medchain-error.js';

export const OpsCode = {
  Usage: 'CLI_USAGE',
  AddressInUse: 'NET_ADDRESS_IN_USE',
  AddressDenied: 'NET_ADDRESS_DENIED',
  AddressUnavailable: 'NET_ADDRESS_NOT_AVAILABLE',
  Internal: 'INTERNAL_ERROR',
} as const;
export type OpsCode = (typeof OpsCode)[keyof typeof OpsCode];

export interface Failure {
  readonly code: string;
  readonly message: string;
}

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
}

function where(e: SystemError): string {
  return e.port === undefined ? (e.address ?? 'the address') : `${e.address ?? ''}:${e.port}`;
}

/** The code and the operator's next step for any thrown value. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof MedchainError) return { code: err.code, message: err.message };
  const e = err as SystemError;
  if (e instanceof Error && e.syscall === 'listen') {
    switch (e.code) {
      case 'EADDRINUSE':
        return {
          code: OpsCode.AddressInUse,
          message: `${where(e)} is already in use by another process: stop it, or give this service another port in its config`,
        };
      case 'EACCES':
        return {
          code: OpsCode.AddressDenied,
          message: `this user may not listen on ${where(e)}: use a port above 1023, or grant CAP_NET_BIND_SERVICE`,
        };
      case 'EADDRNOTAVAIL':
        return {
          code: OpsCode.AddressUnavailable,
          message: `${where(e)} is not an address of this machine: fix the host in the config`,
        };
    }
  }
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(err);
  return {
    code: OpsCode.Internal,
    message: `unexpected failure (${what}); please report it with the service's log`,
  };
}

/** `medchain: CODE: message` on one line (line breaks inside a message would split it). */
export function failureLine(f: Failure): string {
  return `medchain: ${f.code}: ${f.message.replace(/\s*\r?\n\s*/g, ' ')}\n`;
}
