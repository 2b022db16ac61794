/**
 * Child process that owns the PKCS#11 module for a ChildSigner. A crash of the
 * native module (pkcs11js has had segfaults in C_Sign) ends this process only.
 */
import { HsmCode, HsmError } from './errors.js';
import type { ParentMessage, WorkerMessage } from './signer-protocol.js';
import { Token } from './token.js';

let token: Token | undefined;

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

function codeOf(err: unknown): string {
  return err instanceof HsmError ? err.code : HsmCode.Pkcs11;
}

process.on('message', (msg: ParentMessage) => {
  if (msg.t === 'init') {
    try {
      token = Token.open({
        label: msg.token,
        pin: msg.pin,
        modulePath: msg.modulePath,
        sessions: msg.sessions,
      });
      const opened = token;
      const keys = msg.keys.map((label) => ({ label, point: opened.publicKey(label).point }));
      send({ t: 'ready', keys });
    } catch (err) {
      send({ t: 'init-failed', code: codeOf(err), message: (err as Error).message });
    }
    return;
  }
  const current = token;
  if (!current) {
    send({
      t: 'failed',
      id: msg.id,
      code: HsmCode.SessionClosed,
      message: 'signer not initialised',
    });
    return;
  }
  const op =
    msg.t === 'sign'
      ? current.signDigest(msg.key, msg.data)
      : current.deriveSharedSecret(msg.key, msg.data);
  op.then(
    (result) => send({ t: 'done', id: msg.id, result }),
    (err: unknown) =>
      send({ t: 'failed', id: msg.id, code: codeOf(err), message: (err as Error).message }),
  );
});

// The parent went away (or closed us): release the token and leave.
process.on('disconnect', () => {
  token?.close();
  process.exit(0);
});
