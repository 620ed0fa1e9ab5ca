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
    assert.match(typo.stdout, /is valid: 1 objects/);
    assert.match(typo.stdout, /Host 'hl': no overlay \(hosts\/hl\.yaml\): base files only\./);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  }
});
