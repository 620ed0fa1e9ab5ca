// Real kernel: every file of the bad-input corpus (test/bad-inputs/) makes `voltron apply`
// exit 1 with the expected file:line:col error on stderr, and not one kernel write happens:
// `ip monitor` in the sandbox's namespaces (which already exist) sees zero change events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox } from '../support/sandbox';

const DIR = path.join(REPO, 'test/bad-inputs');
const cases = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((n) => !n.endsWith('.expected')).sort() : [];

interface Expect {
  readonly prefix: string; // "NN-name.yaml:L:C: /path: "
  readonly message: string;
  readonly raw: string;
}

function expectations(c: string): Expect[] {
  const text = fs.readFileSync(path.join(DIR, `${c.replace(/\.ya?ml$/, '')}.expected`), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((raw) => {
      const m = /^(.+?:\d+:\d+: \S+: )(.+)$/.exec(raw);
      assert.ok(m, `bad expectation line: ${raw}`);
      return { prefix: m[1]!, message: m[2]!, raw };
    });
}

const VALID = `
namespaces: [ { name: vbi-a } ]
links:
  - { name: br0, type: bridge, mtu: 1500 }
  - { name: br1, type: bridge, namespace: vbi-a }
addresses:
  - { address: 10.31.0.1/24, dev: br0 }
  - { address: 10.32.0.1/24, dev: br1, namespace: vbi-a }
routes:
  - { to: 10.33.0.0/16, type: blackhole, namespace: vbi-a }
`;

describe('bad-input corpus on the real kernel: exit 1, the expected error, zero netlink events', () => {
  const valid = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(valid, 'network.yaml'), VALID);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bad-'));
  const sb = new Sandbox('bad', valid);
  before(() => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(() => {
    sb.cleanup();
    fs.rmSync(valid, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('the corpus has at least 40 cases', () => {
    assert.ok(cases.length >= 40, `only ${cases.length} cases in ${DIR}`);
  });

  it('every case fails with its expected errors and causes no kernel write', async () => {
    const mons = ['', 'vbi-a'].map((n) => sb.monitor(n));
    await Promise.all(mons.map((m) => m.quiet()));
    const failures: string[] = [];
    try {
      for (const c of cases) {
        // One case per config dir, named as in the corpus so the reported file name matches.
        const dir = path.join(work, c.replace(/\.ya?ml$/, ''));
        const src = path.join(DIR, c);
        if (fs.statSync(src).isDirectory()) fs.cpSync(src, dir, { recursive: true, verbatimSymlinks: true });
        else {
          fs.mkdirSync(dir);
          fs.copyFileSync(src, path.join(dir, c));
        }
        const r = sb.run(['apply', '--auto-approve', '--host', 'h1'], { config: dir });
        // The CLI names files by their path; the corpus expectations are relative to the case dir.
        const lines = r.stderr.split(`${dir}/`).join('').split('\n');
        if (r.code !== 1) failures.push(`${c}: exit ${r.code}, expected 1\n${r.stdout}${r.stderr}`);
        for (const x of expectations(c)) {
          if (!lines.some((l) => l.startsWith(x.prefix) && l.includes(x.message))) failures.push(`${c}: expected error not on stderr:\n  ${x.raw}\nstderr:\n${r.stderr}`);
        }
        if (!/nothing was changed/.test(r.stderr)) failures.push(`${c}: no "nothing was changed" note`);
      }
    } finally {
      const events = (await Promise.all(mons.map((m) => m.stop()))).flat();
      assert.deepEqual(events, [], 'netlink change events during the bad-input runs');
    }
    assert.deepEqual(failures, []);
    // The valid state is untouched: it still plans to nothing.
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });
});
