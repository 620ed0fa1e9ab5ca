// Real kernel, the CLI as an operator drives it: output into a pipe closed early, a signal in
// the middle of an apply, and the confirmation prompt on a terminal answered with end of input.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox } from '../support/sandbox';

const BIN = path.join(REPO, 'bin/voltron');
const N = 150;

/** N veth pairs into a namespace, with addresses: a few hundred steps, a few hundred ms. */
function writeConfig(dir: string): void {
  const lines = ['namespaces: [ { name: w } ]', 'links:'];
  for (let i = 0; i < N; i++) lines.push(`  - { name: v${i}, type: veth, mtu: 1400, peer: { name: p${i}, namespace: w } }`);
  lines.push('addresses:');
  for (let i = 0; i < N; i++) lines.push(`  - { address: 10.93.${i}.1/24, dev: v${i} }`);
  fs.writeFileSync(path.join(dir, 'network.yaml'), `${lines.join('\n')}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('the CLI under an operator (real kernel)', () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-op-'));
  writeConfig(cfg);
  const sb = new Sandbox('op', cfg);
  const state = path.join(sb.stateDir, 'sandbox', sb.prefix);
  const args = (cmd: string[]) => [BIN, ...cmd, '-c', cfg, '--sandbox', sb.prefix, '--state-dir', sb.stateDir, '--no-color'];
  const leftovers = () => ['journal.ndjson', 'lock'].filter((f) => fs.existsSync(path.join(state, f)));
  const destroy = () => assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
  after(() => {
    sb.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });

  /** Run the CLI with its stdout closed by the reader before the first write. */
  const withClosedStdout = async (cmd: string[]): Promise<{ code: number | null; stderr: string }> => {
    const child = spawn(process.execPath, args(cmd), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    return { code, stderr };
  };

  it('a reader that closes the pipe early neither crashes nor cuts short an apply (EPIPE)', async () => {
    const a = await withClosedStdout(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr);
    assert.doesNotMatch(a.stderr, /EPIPE|Unhandled/);
    assert.deepEqual(leftovers(), []);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, 'the apply finished and was saved');
    const p = await withClosedStdout(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stderr);
    assert.doesNotMatch(p.stderr, /EPIPE/);
    destroy();
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} during an apply: the apply finishes (no step is cut), journal and lock are gone, exit 128+n`, async () => {
      const child = spawn(process.execPath, args(['apply', '--auto-approve']), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<[number | null, string | null]>((r) => child.on('exit', (code, sig) => r([code, sig])));
      // The journal exists from just before the first kernel write to the end of the apply.
      const end = Date.now() + 30_000;
      while (!fs.existsSync(path.join(state, 'journal.ndjson')) && Date.now() < end) await sleep(2);
      child.kill(signal);
      const [code, killedBy] = await exited;
      assert.equal(killedBy, null, `killed by ${killedBy} mid-apply`);
      assert.equal(code, signal === 'SIGINT' ? 130 : 143, stderr);
      assert.match(stdout, /Apply complete: .* Verified/);
      assert.match(stderr, new RegExp(`${signal} received: handled once the apply reached a safe point`));
      assert.deepEqual(leftovers(), []);
      const p = sb.run(['plan', '--detailed-exitcode']);
      assert.equal(p.code, 0, p.stdout + p.stderr);
      assert.doesNotMatch(p.stderr, /Recovering/);
      destroy();
    });
  }

  it('the prompt on a terminal: end of input cancels with exit 1, nothing applied, lock released', async () => {
    // script(1) gives the CLI a pseudo-terminal; ^D is end of input there.
    const cmd = [process.execPath, ...args(['apply'])].map(quote).join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const end = Date.now() + 30_000;
    while (!/Only 'yes' will be accepted/.test(out) && Date.now() < end) await sleep(20);
    child.stdin.write('\x04');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 1, out);
    assert.match(out, /Apply cancelled\./);
    assert.deepEqual(leftovers(), []);
    assert.deepEqual(sb.namespaces(), []);
  });
});
