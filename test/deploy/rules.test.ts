/**
 * The Prometheus part of the ops kit, judged by Prometheus' own tool: the alert rules
 * load (`promtool check rules`), each alert fires on the series that should raise it and
 * not on the healthy one (`promtool test rules`), and the example scrape config loads.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

const DIR = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus');
const promtool = (...args: string[]) => spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });

t.test('promtool check rules', async (t) => {
  const r = promtool('check', 'rules', 'medchain-alerts.yml');
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.match(r.stdout, /SUCCESS: 7 rules found/);
});

t.test('promtool test rules: every alert has a firing and a silent case', async (t) => {
  const r = promtool('test', 'rules', 'medchain-alerts.test.yml');
  t.equal(r.status, 0, r.stdout + r.stderr);
  t.match(r.stdout, /SUCCESS/);
});

t.test('promtool check config: the example scrape config and its rule file', async (t) => {
  const r = promtool('check', 'config', 'prometheus.yml');
  t.equal(r.status, 0, r.stdout + r.stderr);
});
