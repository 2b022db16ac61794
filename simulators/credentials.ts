import { z } from 'zod';
import type { DeviceSpec } from './device.js';
import { DEVICE_KINDS, type DeviceKind, isDeviceKind } from './kinds.js';

/**
 * The credentials file of `medchain simulate --credentials FILE`: a JSON object from
 * device id to its secret, or to { secret, kind?, patient? } when the file should also
 * say what each device is:
 *
 *   { "ox-0001": "secret", "ecg-0001": { "secret": "…", "patient": "pat-0001" } }
 *
 * Without a kind, the id's first dash-separated part names it ("ox-0001" → ox).
 */

const DEVICE_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const PATIENT = /^[\x21-\x7e]{1,64}$/;

const entry = z.union([
  z.string().min(1),
  z.strictObject({
    secret: z.string().min(1),
    kind: z.enum(DEVICE_KINDS).optional(),
    patient: z.string().regex(PATIENT).optional(),
  }),
]);
const file = z.record(z.string().regex(DEVICE_ID), entry);

export interface Credentials {
  /** id → secret. */
  readonly secrets: Readonly<Record<string, string>>;
  /** The devices the file describes, in file order; throws if a kind cannot be told. */
  devices(): DeviceSpec[];
}

export class CredentialsError extends Error {}

function kindOf(id: string, given: DeviceKind | undefined): DeviceKind {
  if (given !== undefined) return given;
  const head = id.split('-')[0] ?? '';
  if (isDeviceKind(head)) return head;
  throw new CredentialsError(
    `device '${id}': no "kind" and the id does not start with one of ${DEVICE_KINDS.join(', ')}`,
  );
}

export function parseCredentials(text: string): Credentials {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CredentialsError(`not JSON: ${(err as Error).message}`);
  }
  const parsed = file.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CredentialsError(
      `${issue?.path.join('.') || '(top)'}: ${issue?.message ?? 'invalid'} (expected {"device-id": "secret" | {"secret", "kind"?, "patient"?}})`,
    );
  }
  const entries = Object.entries(parsed.data);
  const secrets = Object.fromEntries(
    entries.map(([id, e]) => [id, typeof e === 'string' ? e : e.secret]),
  );
  const devices = () =>
    entries.map(([id, e]): DeviceSpec => {
      const o = typeof e === 'string' ? { secret: e } : e;
      return { id, secret: o.secret, kind: kindOf(id, o.kind), patient: o.patient ?? `pat-${id}` };
    });
  return { secrets, devices };
}
