import { type Queryable, SqliteDb } from '../ops/sqlite.js';
import type { Role } from './identity.js';

/**
 * Trent's database. Both tables are append-only (triggers refuse UPDATE and
 * DELETE): a certificate once issued and a revocation once made stay on record.
 * Times are ISO 8601 UTC strings; serials lowercase hex without leading zero bytes.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS ca_meta (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
  serial TEXT PRIMARY KEY CHECK (serial GLOB '[0-9a-f]*' AND length(serial) BETWEEN 2 AND 40),
  role TEXT NOT NULL CHECK (role IN ('gateway', 'notary', 'device', 'reader', 'ca')),
  id TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  pem TEXT NOT NULL,
  issued_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_role_id ON certificates (role, id);
CREATE TABLE IF NOT EXISTS revocations (
  serial TEXT PRIMARY KEY REFERENCES certificates (serial),
  reason TEXT NOT NULL,
  revoked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crls (
  number INTEGER PRIMARY KEY CHECK (number >= 1),
  this_update TEXT NOT NULL,
  next_update TEXT NOT NULL,
  revocations INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS crls_no_update BEFORE UPDATE ON crls
  BEGIN SELECT RAISE(ABORT, 'crls are append-only'); END;
CREATE TRIGGER IF NOT EXISTS crls_no_delete BEFORE DELETE ON crls
  BEGIN SELECT RAISE(ABORT, 'crls are append-only'); END;
CREATE TRIGGER IF NOT EXISTS certificates_no_update BEFORE UPDATE ON certificates
  BEGIN SELECT RAISE(ABORT, 'certificates are append-only'); END;
CREATE TRIGGER IF NOT EXISTS certificates_no_delete BEFORE DELETE ON certificates
  BEGIN SELECT RAISE(ABORT, 'certificates are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revocations_no_update BEFORE UPDATE ON revocations
  BEGIN SELECT RAISE(ABORT, 'revocations are append-only'); END;
CREATE TRIGGER IF NOT EXISTS revocations_no_delete BEFORE DELETE ON revocations
  BEGIN SELECT RAISE(ABORT, 'revocations are append-only'); END;
`;

export const SCHEMA_VERSION = '1';

export interface CaMeta {
  schemaVersion: string;
  keyLabel: string;
  org: string;
  rootSerial: string;
  createdAt: string;
  /** CRL Distribution Point written into every certificate issued (absent: none). */
  crlUrl?: string | undefined;
}

export interface CertificateRecord {
  serial: string;
  role: Role;
  id: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  pem: string;
  issuedAt: string;
  revocation?: RevocationRecord;
}

export interface RevocationRecord {
  serial: string;
  reason: string;
  revokedAt: string;
}

interface CertRow {
  serial: string;
  role: Role;
  id: string;
  subject: string;
  not_before: string;
  not_after: string;
  pem: string;
  issued_at: string;
  reason: string | null;
  revoked_at: string | null;
}

const SELECT = `SELECT c.*, r.reason, r.revoked_at FROM certificates c
  LEFT JOIN revocations r ON r.serial = c.serial`;

function toRecord(row: CertRow): CertificateRecord {
  const rec: CertificateRecord = {
    serial: row.serial,
    role: row.role,
    id: row.id,
    subject: row.subject,
    notBefore: row.not_before,
    notAfter: row.not_after,
    pem: row.pem,
    issuedAt: row.issued_at,
  };
  if (row.reason !== null && row.revoked_at !== null) {
    rec.revocation = { serial: row.serial, reason: row.reason, revokedAt: row.revoked_at };
  }
  return rec;
}

/** Opens (creating if needed) a CA database: WAL, synchronous FULL, schema in place. */
export async function openDb(path: string): Promise<SqliteDb> {
  const db = await SqliteDb.open(path, { synchronous: 'FULL' });
  try {
    await db.exec(SCHEMA);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

export async function readMeta(q: Queryable): Promise<CaMeta | undefined> {
  const rows = await q.all<{ k: string; v: string }>('SELECT k, v FROM ca_meta');
  const m = new Map(rows.map((r) => [r.k, r.v]));
  const keyLabel = m.get('key_label');
  const org = m.get('org');
  const rootSerial = m.get('root_serial');
  const schemaVersion = m.get('schema_version');
  const createdAt = m.get('created_at');
  if (!keyLabel || !org || !rootSerial || !schemaVersion || !createdAt) return undefined;
  return { keyLabel, org, rootSerial, schemaVersion, createdAt, crlUrl: m.get('crl_url') };
}

export async function writeMeta(q: Queryable, meta: CaMeta): Promise<void> {
  const pairs: [string, string][] = [
    ['schema_version', meta.schemaVersion],
    ['key_label', meta.keyLabel],
    ['org', meta.org],
    ['root_serial', meta.rootSerial],
    ['created_at', meta.createdAt],
  ];
  if (meta.crlUrl !== undefined) pairs.push(['crl_url', meta.crlUrl]);
  for (const [k, v] of pairs) await q.run('INSERT INTO ca_meta (k, v) VALUES (?, ?)', [k, v]);
}

/** Sets (or replaces) the CRL Distribution Point for certificates issued from now on. */
export async function writeCrlUrl(q: Queryable, url: string): Promise<void> {
  await q.run("INSERT OR REPLACE INTO ca_meta (k, v) VALUES ('crl_url', ?)", [url]);
}

/** The CRL Number the next CRL carries: one more than any issued (RFC 5280 §5.2.3). */
export async function nextCrlNumber(q: Queryable): Promise<number> {
  const row = await q.get<{ n: number }>('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM crls');
  return row?.n ?? 1;
}

export interface CrlRecord {
  number: number;
  thisUpdate: string;
  nextUpdate: string;
  revocations: number;
}

export async function insertCrl(q: Queryable, rec: CrlRecord): Promise<void> {
  await q.run(
    'INSERT INTO crls (number, this_update, next_update, revocations) VALUES (?, ?, ?, ?)',
    [rec.number, rec.thisUpdate, rec.nextUpdate, rec.revocations],
  );
}

export async function insertCertificate(q: Queryable, rec: CertificateRecord): Promise<void> {
  await q.run(
    `INSERT INTO certificates (serial, role, id, subject, not_before, not_after, pem, issued_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    [rec.serial, rec.role, rec.id, rec.subject, rec.notBefore, rec.notAfter, rec.pem, rec.issuedAt],
  );
}

export async function getCertificate(
  q: Queryable,
  serial: string,
): Promise<CertificateRecord | undefined> {
  const row = await q.get<CertRow>(`${SELECT} WHERE c.serial = ?`, [serial]);
  return row ? toRecord(row) : undefined;
}

/** Unrevoked certificates with this role and id (expired ones included). */
export async function findUnrevoked(
  q: Queryable,
  role: Role,
  id: string,
): Promise<CertificateRecord[]> {
  const rows = await q.all<CertRow>(
    `${SELECT} WHERE c.role = ? AND c.id = ? AND r.serial IS NULL ORDER BY c.issued_at`,
    [role, id],
  );
  return rows.map(toRecord);
}

export async function listCertificates(q: Queryable): Promise<CertificateRecord[]> {
  const rows = await q.all<CertRow>(`${SELECT} ORDER BY c.issued_at, c.serial`);
  return rows.map(toRecord);
}

export async function insertRevocation(q: Queryable, rev: RevocationRecord): Promise<void> {
  await q.run('INSERT INTO revocations (serial, reason, revoked_at) VALUES (?, ?, ?)', [
    rev.serial,
    rev.reason,
    rev.revokedAt,
  ]);
}

export async function listRevocations(q: Queryable): Promise<RevocationRecord[]> {
  const rows = await q.all<{ serial: string; reason: string; revoked_at: string }>(
    'SELECT serial, reason, revoked_at FROM revocations ORDER BY revoked_at, serial',
  );
  return rows.map((r) => ({ serial: r.serial, reason: r.reason, revokedAt: r.revoked_at }));
}
