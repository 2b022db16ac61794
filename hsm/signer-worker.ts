/**
 * Child process that owns the PKCS#11 module for a ChildSigner. A crash of the
 * native module (pkcs11js has had segfaults in C_Sign) ends this process only.
 */
import { HsmCode, HsmError } from './errors.js';
import type { OpRequest, OpResult, ParentMessage, WorkerMessage } from './signer-protocol.js';
import { Token } from './token.js';

let token: Token | undefined;
let parallel = false;

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}

function codeOf(err: unknown): string {
  return err instanceof HsmError ? err.code : HsmCode.Pkcs11;
}

process.on('message', (msg: ParentMessage) => {
  if (msg.t === 'init') {
    try {
      parallel = msg.parallel;
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
  for (const req of msg.ops) run(req);
});

function run(req: OpRequest): void {
  const current = token;
  if (!current) {
    reply({
      id: req.id,
      ok: false,
      code: HsmCode.SessionClosed,
      message: 'signer not initialised',
    });
    return;
  }
  // Serial C_Sign is the default: this process has nothing else to do, and handing
  // each sign to libuv's pool costs more than a SoftHSM sign (see bench/hsm.ts).
  const op =
    req.op === 'derive'
      ? current.deriveSharedSecret(req.key, req.data)
      : parallel
        ? current.signDigest(req.key, req.data)
        : Promise.resolve().then(() => current.signDigestSync(req.key, req.data));
  op.then(
    (result) => reply({ id: req.id, ok: true, result }),
    (err: unknown) =>
      reply({ id: req.id, ok: false, code: codeOf(err), message: (err as Error).message }),
  );
}

// Results are sent in batches, one IPC message per event-loop turn.
let outbox: OpResult[] = [];
function reply(r: OpResult): void {
  if (outbox.length === 0) {
    setImmediate(() => {
      const results = outbox;
      outbox = [];
      send({ t: 'results', results });
    });
  }
  outbox.push(r);
}

// The parent went away (or closed us): release the token and leave.
process.on('disconnect', () => {
  token?.close();
  process.exit(0);
});

// A stop signal sent to the whole process group (systemd's default KillMode, Ctrl-C in a
// terminal) is the parent's to act on: it finishes its signatures, then disconnects us.
// Dying here first would fail those signatures and look like a crash.
process.on('SIGTERM', () => {});
process.on('SIGINT', () => {});
