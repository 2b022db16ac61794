import t from 'tap';
import { health, probeFailed } from '../../ops/health.js';

t.test('ok exactly when there is no reason; status follows', async (t) => {
  t.same(health('notary', [], { size: 3 }), {
    service: 'notary',
    status: 'ok',
    ok: true,
    reasons: [],
    detail: { size: 3 },
  });
  t.same(health('gateway', ['pushback', 'closing']), {
    service: 'gateway',
    status: 'not-ready',
    ok: false,
    reasons: ['pushback', 'closing'],
    detail: {},
  });
});

t.test('a probe that threw is not ready and says why', async (t) => {
  t.same(probeFailed('replica', new Error('database is closed')), {
    service: 'replica',
    status: 'not-ready',
    ok: false,
    reasons: ['probe-failed'],
    detail: { error: 'database is closed' },
  });
});
