// Large outputs through a pipe: `voltron show -o json | jq` must get the whole document
// (stdout to a pipe is asynchronous in Node; exiting early cut it at 64 KiB).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const N = 300;

function writeConfig(dir: string): void {
  const lines = ['links:'];
  for (let i = 0; i < N; i++) lines.push(`  - { name: br${i}, type: bridge, mtu: 1500, alias: "a long alias to make the output bigger ${i}" }`);
  lines.push('addresses:');
  for (let i = 0; i < N; i++) lines.push(`  - { address: 10.90.${i >> 8}.${i & 255}/32, dev: br${i} }`);
  fs.writeFileSync(path.join(dir, 'network.yaml'), `${lines.join('\n')}\n`);
}

describe('CLI output through a pipe', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-out-'));
  writeConfig(dir);
  const sb = new Sandbox('out', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('plan -o json, apply and show -o json write every byte (well over 64 KiB)', () => {
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stderr);
    assert.ok(p.stdout.length > 65536, `plan output is ${p.stdout.length} bytes: too small to test the pipe limit`);
    const plan = JSON.parse(p.stdout) as { changes: unknown[] };
    assert.equal(plan.changes.length, 2 * N + 1, 'links, addresses and the sandbox root namespace');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr + a.stdout.slice(-2000));
    assert.match(a.stdout, /Verified/);
    assert.equal((a.stdout.match(/^ {2}created: /gm) ?? []).length, 2 * N + 1, 'one progress line per change');
    const s = sb.run(['show', '-o', 'json']);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(s.stdout.length > 65536);
    const state = JSON.parse(s.stdout) as { links: { name: string; owned?: boolean; alias?: string }[] };
    const ours = state.links.filter((l) => /^br\d+$/.test(l.name));
    assert.equal(ours.length, N);
    assert.ok(ours.every((l) => l.owned === true && l.alias?.startsWith('a long alias')));
  });
});
