import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../ops/log.js';

t.test('PINs and secrets are redacted from log lines', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ name: 'test', level: 'info', destination: sink });
  log.info({ pin: '1234', token: 'clinic' }, 'opening');
  log.info({ opts: { soPin: '87654321', secret: 's3cr3t', password: 'pw' } }, 'nested');
  const text = lines.join('');
  t.notMatch(text, /1234|87654321|s3cr3t|"pw"/);
  t.match(text, /"pin":"\[Redacted\]"/);
  t.match(text, /"soPin":"\[Redacted\]"/);
  t.match(text, /"token":"clinic"/, 'other fields are kept');
});
