import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { cpuSecondsOf, treeCpuSeconds } from '../../bench/cpu.js';

t.test(
  'a busy child process shows in its parent tree CPU, from the kernel accounting',
  async (t) => {
    // A shell whose child spins for a bounded time, then both exit.
    const sh = spawn('sh', [
      '-c',
      `${process.execPath} -e "const e=Date.now()+1500;while(Date.now()<e);" ; sleep 5`,
    ]);
    t.teardown(() => {
      sh.kill('SIGKILL');
    });
    const pid = sh.pid ?? 0;
    const before = treeCpuSeconds(pid);
    // The spinner has run once the shell's own CPU is still near zero but the tree's grew.
    const deadline = Date.now() + 30_000;
    let tree = before;
    while (Date.now() < deadline && tree - before < 0.3) {
      await new Promise((r) => setTimeout(r, 100));
      tree = treeCpuSeconds(pid);
    }
    t.ok(tree - before >= 0.3, `tree CPU grew by ${(tree - before).toFixed(2)} s`);
    t.ok(cpuSecondsOf(pid) < 0.3, 'the shell itself did not spin');
    sh.kill('SIGKILL');
    await once(sh, 'exit');
    t.equal(cpuSecondsOf(pid), 0, 'a process that is gone counts 0');
  },
);
