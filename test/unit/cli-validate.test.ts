// `voltron validate` (the whole CLI, no kernel): says which host overlay it used, so a mistyped
// --host (which silently means "base files only") shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function repoRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json'))) d = path.dirname(d);
  return d;
}

test('validate names the host overlay it applied, or says there is none', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-validate-'));
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-validate-state-'));
  try {
    fs.writeFileSync(path.join(dir, 'base.yaml'), 'links:\n  - { name: br0, type: bridge }\n');
    fs.mkdirSync(path.join(dir, 'hosts'));
    fs.writeFileSync(path.join(dir, 'hosts', 'h1.yaml'), 'links:\n  - { name: br1, type: bridge }\n');
    const run = (host: string) => spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'voltron'), 'validate', '-c', dir, '--host', host, '--state-dir', state], { encoding: 'utf8' });
    const h1 = run('h1');
    assert.equal(h1.status, 0, h1.stderr);
    assert.match(h1.stdout, /is valid: 2 objects/);
    assert.match(h1.stdout, /Host 'h1': overlay hosts\/h1\.yaml applied\./);
    const typo = run('hl');
    assert.equal(typo.status, 0, typo.stderr);
    assert.match(typo.stdout, /is valid: 1 object in 1 namespace\./);
    assert.match(typo.stdout, /Host 'hl': no overlay \(hosts\/hl\.yaml\): base files only\./);
    assert.match(typo.stdout, /Other host overlays checked: h1 \(valid\)\./, 'the overlays that exist are named');
    const bad = run('../x');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /bad host name '\.\.\/x'/);
    assert.doesNotMatch(bad.stdout, /no overlay/, 'a bad host name has no overlay line');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  }
});

test("validate checks every host's overlay, so a CI machine (no overlay of its own) catches a broken one", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-validate-'));
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-validate-state-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'base.yaml'),
      'namespaces: [ { name: a } ]\nlinks:\n  - { name: br0, namespace: a, type: bridge }\n  - { name: br1, type: bridge, mtu: 70000 }\naddresses:\n  - { address: 10.0.0.1/24, dev: br0, namespace: a }\n',
    );
    fs.mkdirSync(path.join(dir, 'hosts'));
    fs.writeFileSync(path.join(dir, 'hosts', 'h1.yaml'), 'links:\n  - { name: br2, type: bridge, mtuu: 1500 }\n');
    fs.writeFileSync(path.join(dir, 'hosts', 'h2.yaml'), 'links:\n  - { name: br0, namespace: a, state: absent }\n');
    fs.writeFileSync(path.join(dir, 'hosts', 'h3.yml'), 'links:\n  - { name: br3, type: bridge }\n');
    const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'voltron'), 'validate', '-c', dir, '--host', 'ci-runner', '--state-dir', state], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    const errors = r.stderr.trim().split('\n');
    // The base error once (not once per host); h1's own error; a base error only h2 causes names h2.
    assert.equal(errors.filter((l) => /base\.yaml:4:37: \/links\/1\/mtu/.test(l)).length, 1, r.stderr);
    assert.ok(errors.some((l) => /hosts\/h1\.yaml:2:32: \/links\/0\/mtuu: unknown key 'mtuu'/.test(l)), r.stderr);
    assert.ok(errors.some((l) => /base\.yaml:6:34: \/addresses\/0\/dev: .* \(with hosts\/h2\.yaml\)$/.test(l)), r.stderr);
    assert.equal(errors.length, 4, r.stderr);
    assert.match(errors[3]!, /^3 errors in /);
    assert.match(r.stdout, /Other host overlays checked: h1 \(2 errors\), h2 \(2 errors\), h3 \(1 error\)\./);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  }
});

test('validate warns, with the file and line, about `filters:` entries that every plan refuses (it passed them silently)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-validate-'));
  try {
    fs.writeFileSync(
      path.join(dir, 'net.yaml'),
      'namespaces: [ { name: a } ]\nlinks:\n  - { name: v0, namespace: a, type: veth, peer: { name: v1 } }\nqdiscs:\n  - { namespace: a, dev: v0, kind: clsact }\nfilters:\n  - { namespace: a, dev: v0, direction: egress, priority: 1, program: "counter.bpf.o:tc" }\n',
    );
    const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'voltron'), 'validate', '-c', dir, '--host', 'h1', '--state-dir', path.join(dir, 'state')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /is valid/);
    assert.match(r.stderr, /^Warning: \S+net\.yaml:7:5: \/filters\/0: filter a\/v0 egress pref 1: `filters:` entries are not supported yet; declare the program under bpf\.programs with attach: \{ type: clsact, \.\.\. \} instead \(plan and apply refuse it\)\n$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
