// Real kernel: seg6 tunsrc of the root namespace (top-level `seg6`; in a sandbox, the sandbox's
// root) and of a named namespace: set, changed in place, shown, and restored to the value found
// before the first write when no longer declared (also when the same apply created the namespace:
// it recorded no original, and the tunsrc stayed), destroy leaves nothing.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

describe('seg6 tunsrc of the root namespace and of a namespace', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-tunsrc-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('ts', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // The root sysctl keeps the sandbox's root namespace declared when no tunsrc is.
  const write = (root: string | undefined, n1: string | undefined): void =>
    fs.writeFileSync(
      file,
      [
        'sysctls:',
        '  net.ipv6.conf.all.seg6_enabled: 1',
        ...(root ? ['seg6:', `  tunsrc: "${root}"`] : []),
        'namespaces:',
        '  - name: n1',
        ...(n1 ? [`    seg6: { tunsrc: "${n1}" }`] : []),
        '',
      ].join('\n'),
    );
  const tunsrc = (ns: string): string => sb.exec(ns, ['ip', 'sr', 'tunsrc', 'show']).stdout.trim();
  const applyClean = (): string => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    return a.stdout;
  };

  it('is set in the namespaces the apply creates, shown at the top level, and re-plans empty', () => {
    write('fc00::1', 'fc00::2');
    applyClean();
    assert.equal(tunsrc(''), 'tunsrc addr fc00::1');
    assert.equal(tunsrc('n1'), 'tunsrc addr fc00::2');
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^# owned\nseg6:\n {2}tunsrc: fc00::1$/m);
  });

  it('changes in place', () => {
    write('fc00::3', 'fc00::2');
    const out = applyClean();
    assert.match(out, /~ seg6 tunsrc \(root\)\n\s+# \(address differs\)\n\s+~ address: fc00::1 → fc00::3/);
    assert.equal(tunsrc(''), 'tunsrc addr fc00::3');
  });

  it('no longer declared: the value found before the first write (::) is written back', () => {
    write(undefined, undefined);
    const out = applyClean();
    assert.match(out, /- seg6 tunsrc \(root\)[^\n]*\n\s+# \(no longer declared: restore original value ::\)/);
    assert.equal(tunsrc(''), 'tunsrc addr ::');
    assert.equal(tunsrc('n1'), 'tunsrc addr ::');
  });

  it('destroy leaves nothing', () => {
    write('fc00::1', undefined);
    applyClean();
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
