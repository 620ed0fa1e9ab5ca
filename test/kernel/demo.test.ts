// Real kernel: the quick-start demo (scripts/demo.sh) stops on Ctrl-C at any step, its ping
// included (ping survives SIGINT and exits 0), and removes its namespaces on the way out.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { REPO } from '../support/sandbox';

function namespacesWith(prefix: string): string[] {
  const out = execFileSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).trim();
  return (out ? (JSON.parse(out) as { name: string }[]) : []).map((n) => n.name).filter((n) => n.startsWith(prefix));
}

it('Ctrl-C during the demo\'s ping stops the demo and removes its namespaces', async () => {
  const prefix = `${process.env.VOLTRON_TEST_NS_PREFIX ?? 'vt'}demo${Math.random().toString(36).slice(2, 7)}-`;
  // A new session, as a terminal's foreground job: Ctrl-C signals the whole process group.
  const child = spawn('bash', [path.join(REPO, 'scripts/demo.sh')], {
    cwd: REPO,
    detached: true,
    env: { ...process.env, VOLTRON_DEMO_SKIP_SETUP: '1', VOLTRON_DEMO_PREFIX: prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        // The first reply is in: ping (-c 2) is running for about another second.
        if (/bytes from 10\.77\.0\.13/.test(out)) resolve();
      });
      child.on('exit', () => reject(new Error(`the demo ended before its ping:\n${out}`)));
    });
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    assert.equal(code, 130, out);
    assert.doesNotMatch(out, /demo complete|voltron destroy/);
    assert.deepEqual(namespacesWith(prefix), []);
  } finally {
    clearTimeout(killer);
    for (const n of namespacesWith(prefix)) execFileSync('ip', ['netns', 'del', n]);
  }
});
