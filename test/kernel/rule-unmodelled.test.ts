// Real kernel: a rule with a selector or flag Voltron never writes (`not`, ipproto, ports, tos,
// uidrange ...) is another rule than the one its modelled fields describe. Read as a plain rule,
// it made a declared `from 10.0.0.0/8` rule look in sync with a live `not from 10.0.0.0/8`, and
// `show` printed it as that plain rule. It is foreign: the declared rule is created beside it,
// and it is never updated or deleted. `ip -j rule` is the oracle.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `rules:
  - { priority: 500, from: 10.0.0.0/8, table: 100 }
  - { priority: 501, table: 101 }
  - { priority: 502, to: 10.1.0.0/16, table: 102 }
`;
const FOREIGN = [
  ['priority', '500', 'not', 'from', '10.0.0.0/8', 'table', '100'],
  ['priority', '501', 'ipproto', 'tcp', 'dport', '80', 'table', '101'],
  ['priority', '502', 'to', '10.1.0.0/16', 'tos', '0x10', 'uidrange', '100-200', 'table', '102'],
];

describe('rules with selectors Voltron never writes are foreign (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rule-unmodelled-'));
  fs.writeFileSync(path.join(dir, 'net.yaml'), CONFIG);
  const sb = new Sandbox('rum', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  /** `ip -j rule` at the test's priorities, without the protocol: [priority, selectors...]. */
  const live = () =>
    sb
      .ipj('', ['rule', 'show'])
      .filter((r: { priority: number }) => r.priority >= 500 && r.priority <= 502)
      .map((r: Record<string, unknown>) => JSON.stringify({ ...r, protocol: undefined }))
      .sort();

  it('plans the declared rules beside them, and show lists them as unmanaged', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    for (const f of FOREIGN) sb.ip('', ['rule', 'add', ...f]);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 2, p.stdout + p.stderr);
    assert.match(p.stdout, /Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy/);
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /x-unmanaged-rules:[\s\S]*form: not\n[\s\S]*form: ipproto 6 dport 80\n[\s\S]*form: tos 0x10 uidrange 100-200\n/);
    assert.doesNotMatch(s.stdout, /^rules:/m);
  });

  it('applies: each priority holds the foreign rule and the declared one; destroy leaves the foreign ones', () => {
    const before = live();
    assert.equal(before.length, 3);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const rules = sb.ipj('', ['rule', 'show']);
    assert.ok(rules.some((r: any) => r.priority === 500 && r.src === '10.0.0.0' && r.srclen === 8 && r.table === '100' && !('not' in r)), 'the declared rule 500');
    assert.ok(rules.some((r: any) => r.priority === 501 && r.src === 'all' && r.table === '101' && r.ipproto === undefined), 'the declared rule 501');
    assert.ok(rules.some((r: any) => r.priority === 502 && r.dst === '10.1.0.0' && r.table === '102' && r.tos === undefined), 'the declared rule 502');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(live(), before);
  });
});
