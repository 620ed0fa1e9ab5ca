// Real kernel: what the kernel supports is read from its symbol table once per boot and kept in
// the state dir (reading /proc/kallsyms takes 100+ ms). A cache of this boot and kernel release
// is believed; one of another boot is not, and is written again with what the kernel says.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { editableSandbox } from '../support/sandbox';

describe('kernel feature answers, kept per boot', () => {
  const { sb } = editableSandbox('caps', 'links:\n  - { name: b0, type: bridge }\nqdiscs:\n  - { dev: b0, parent: root, handle: "1:", kind: htb }\n');
  const file = () => path.join(sb.stateDir, 'sandbox', sb.prefix, 'cache', 'kernel-features.json');
  const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it('the first plan asks the kernel and keeps its answers', () => {
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const c = JSON.parse(fs.readFileSync(file(), 'utf8'));
    assert.deepEqual([c.boot, c.release, c.answers['qdisc-htb']], [boot, os.release(), true]);
  });

  it("this boot's answers are believed (a plan is refused by them), another boot's are not", () => {
    const say = (b: string) => fs.writeFileSync(file(), JSON.stringify({ boot: b, release: os.release(), answers: { 'qdisc-htb': false } }));
    say(boot);
    const refused = sb.run(['plan']);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /qdisc htb needs the htb qdisc, which this kernel does not have/);
    say('00000000-0000-0000-0000-000000000000');
    const p = sb.run(['plan']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.equal(JSON.parse(fs.readFileSync(file(), 'utf8')).answers['qdisc-htb'], true);
  });
});
