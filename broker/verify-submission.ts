/**
 * Stateless checks of one submitted block (DESIGN §2 "verify"), in the order that
 * names the most useful reason: size, structure, kid → known certificate, certificate
 * valid now for this role and the topic's id, COSE signature and kid, header names the
 * topic's gateway, body hash. Sequencing against the chain is the registrar's job.
 */
import type { Role } from '../ca/identity.js';
import type { BlockHeader } from '../core/block.js';
import { decodeBlock, decodeBlockHeader, type InternalBlock } from '../core/block.js';
import { verifyBlock } from '../core/block-verify.js';
import { decodeSign1 } from '../core/cose-decode.js';
import { RefusalReason } from '../core/submit.js';
import type { CertificateBook } from './cert-book.js';
import type { Trust } from './trust.js';

export type Checked =
  | {
      readonly ok: true;
      readonly block: InternalBlock;
      readonly header: BlockHeader;
      readonly internal: Uint8Array;
      readonly kid: Uint8Array;
      readonly certDer: Uint8Array;
    }
  | {
      readonly ok: false;
      readonly reason: RefusalReason;
      readonly detail: string;
      /** The gateway seq if the header could be read (for the answer), else 0. */
      readonly seq: number;
    };

export interface CheckContext {
  readonly certs: CertificateBook;
  readonly trust: Trust;
  /** Roles allowed to submit here: ['gateway'], or ['notary'] on a regional notary. */
  readonly roles: readonly Role[];
  readonly maxBlockBytes: number;
}

const refuse = (reason: RefusalReason, detail: string, seq = 0): Checked => ({
  ok: false,
  reason,
  detail,
  seq,
});

export async function checkSubmission(
  ctx: CheckContext,
  submitter: string,
  bytes: Uint8Array,
  at: Date,
): Promise<Checked> {
  if (bytes.length > ctx.maxBlockBytes) {
    return refuse(RefusalReason.TooLarge, `${bytes.length} bytes > ${ctx.maxBlockBytes}`);
  }
  const d = decodeBlock(bytes, ctx.maxBlockBytes);
  if (!d.ok) return refuse(RefusalReason.Malformed, d.detail);
  const block = d.value;
  const msg = decodeSign1(block.signedHeader);
  if (!msg.ok) return refuse(RefusalReason.Malformed, `signed header: ${msg.check}: ${msg.detail}`);
  // Unverified, only to address the answer: the seq the gateway will match it with.
  const peek = decodeBlockHeader(msg.msg.payload);
  const seq = peek.ok ? peek.value.seq : 0;
  const kid = msg.msg.kid;
  if (!kid) return refuse(RefusalReason.Malformed, 'signed header: no kid', seq);
  const certDer = ctx.certs.get(kid);
  if (!certDer) {
    return refuse(
      RefusalReason.UnknownGateway,
      `no certificate with kid ${Buffer.from(kid).toString('hex')} is known to this notary`,
      seq,
    );
  }
  let cert: Awaited<ReturnType<Trust['validate']>> | undefined;
  for (const role of ctx.roles) {
    cert = await ctx.trust.validate(certDer, role, submitter, at);
    if (cert.ok || cert.reason !== 'wrong-role') break;
  }
  if (!cert?.ok) {
    return refuse(
      RefusalReason.Certificate,
      cert ? `${cert.reason}: ${cert.detail}` : 'no role may submit here',
      seq,
    );
  }
  const v = verifyBlock(block, cert.publicKey.keyObject, { gatewayId: submitter, kid });
  if (!v.ok) {
    const reason =
      v.check === 'signature'
        ? RefusalReason.Signature
        : v.check === 'body-hash'
          ? RefusalReason.BodyHash
          : v.check === 'gateway-id'
            ? RefusalReason.WrongTopic
            : RefusalReason.Malformed;
    return refuse(reason, `${v.check}: ${v.detail}`, seq);
  }
  if (v.bodyErased) {
    return refuse(RefusalReason.Malformed, 'a submitted block must carry its body', seq);
  }
  return { ok: true, block, header: v.header, internal: v.hash, kid, certDer };
}
