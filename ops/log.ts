import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** Secrets that must never reach a log line, wherever they sit in the object. */
export const REDACT_PATHS = [
  'pin',
  'soPin',
  'secret',
  'password',
  '*.pin',
  '*.soPin',
  '*.secret',
  '*.password',
];

export interface LoggerOptions {
  name: string;
  level?: string | undefined;
  /** Where lines go; stderr by default so stdout stays for command output. */
  destination?: DestinationStream | undefined;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? process.env.MEDCHAIN_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    },
    opts.destination ?? pino.destination(2),
  );
}
