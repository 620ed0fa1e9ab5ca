// Real kernel: a state dir that cannot hold Voltron's files is a one-line error naming it before
// any kernel write (never a hang nor a stack trace), and a disk that fills up mid-apply rolls the
// apply back (docs/safe-apply.md, "State dir problems").
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'voltron');

describe('state dir problems', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-statedir-'));
  const cfg = path.join(dir, 'cfg');
  const sb = new Sandbox('sd', cfg);
  const mounts: string[] = [];
  const mountTmpfs = (name: string, opts: string): string => {
    const m = path.join(dir, name);
    fs.mkdirSync(m);
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', m]);
    mounts.push(m);
    return m;
  };
  before(() => {
    fs.mkdirSync(cfg);
    // 40 bridges with long aliases: a journal and an inventory of several pages each.
    const links = Array.from({ length: 40 }, (_, i) => `  - { name: br${i}, type: bridge, alias: "${'x'.repeat(100)}" }`);
    fs.writeFileSync(path.join(cfg, 'net.yaml'), `links:\n${links.join('\n')}\n`);
  });
  after(() => {
    for (const m of mounts) spawnSync('umount', [m]);
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `voltron <args>` with this state dir; killed if it is still running after 20 s (a hang). */
  const run = (stateDir: string, args: string[], wrap: string[] = []) => {
    const argv = [process.execPath, BIN, ...args, '-c', cfg, '--sandbox', sb.prefix, '--state-dir', stateDir, '--no-color'];
    const [cmd, ...rest] = [...wrap, ...argv];
    const r = spawnSync(cmd!, rest, { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    return { code: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  };
  const refused = (stateDir: string, why: RegExp, wrap: string[] = []) => {
    const r = run(stateDir, ['apply', '--auto-approve'], wrap);
    assert.equal(r.signal, null, `killed: the apply hung (${r.stderr})`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /^Error: state dir [^\n]+: cannot write in it: [^\n]+\n$/, r.stderr);
    assert.match(r.stderr, /; the state dir \(--state-dir DIR, default \/var\/lib\/voltron\) must be a writable directory\n$/, 'says what to do');
    assert.match(r.stderr, why);
    assert.deepEqual(sb.namespaces(), [], 'a kernel write happened');
  };

  it('under /proc: refused at once (Node 20 recursive mkdir looped forever), plan still works', () => {
    refused('/proc/voltron-test-state', /the file system does not allow creating \/proc\/voltron-test-state \(ENOENT\)/);
    const p = run('/proc/voltron-test-state', ['plan']);
    assert.equal(p.code, 0, p.stderr);
  });

  it('under /proc: a plan that asks the kernel for features (a qdisc) still works, keeping no feature cache', () => {
    // The feature cache went through Node's recursive mkdir, which looped forever under /proc.
    const tc = path.join(dir, 'cfg-tc');
    fs.mkdirSync(tc);
    fs.writeFileSync(path.join(tc, 'net.yaml'), 'links:\n  - { name: br0, type: bridge }\nqdiscs:\n  - { dev: br0, parent: root, handle: "1:", kind: htb }\n');
    const argv = [BIN, 'plan', '-c', tc, '--sandbox', sb.prefix, '--state-dir', '/proc/voltron-test-state', '--no-color'];
    const p = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' });
    assert.equal(p.signal, null, `killed: the plan hung (${p.stderr})`);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /\+ qdisc .*br0/);
    assert.deepEqual(sb.namespaces(), [], 'a plan wrote to the kernel');
  });

  it('a file, or a path through one', () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    refused(file, new RegExp(`${file} is not a directory \\(ENOTDIR\\)`));
    refused(path.join(file, 'sub'), new RegExp(`${file} is not a directory \\(ENOTDIR\\)`));
  });

  it('on a read-only mount (Node reported EROFS as ENOENT)', () => {
    const ro = mountTmpfs('ro', 'ro,size=64k');
    refused(ro, /read-only file system \(EROFS\)/);
    refused(path.join(ro, 'sub'), /read-only file system \(EROFS\)/);
  });

  it('without permission (root without CAP_DAC_OVERRIDE)', () => {
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o755 });
    fs.chownSync(locked, 65534, 65534);
    refused(path.join(locked, 'state'), /permission denied on [^\n]+ \(EACCES\)/, ['capsh', '--drop=cap_dac_override,cap_dac_read_search,cap_fowner', '--', '-c', 'exec "$@"', 'voltron']);
  });

  it('a symlink loop', () => {
    const loop = path.join(dir, 'loop');
    fs.symlinkSync('loop', loop);
    refused(loop, /symlink loop\?\) \(ELOOP\)/);
    refused(path.join(loop, 'sub'), /\(ELOOP\)/);
  });

  it('a full disk: refused before the lock; the journal or the inventory failing mid-apply rolls back and leaves no file behind', () => {
    const full = mountTmpfs('full', 'size=512k');
    const fill = path.join(full, 'fill');
    const state = path.join(full, 'state');
    const leaveFree = (pages: number) => {
      fs.rmSync(fill, { force: true });
      fs.rmSync(state, { recursive: true, force: true });
      // The config cache would take pages of its own: a file where its directory goes keeps it out.
      fs.mkdirSync(path.join(state, 'sandbox', sb.prefix), { recursive: true });
      fs.writeFileSync(path.join(state, 'sandbox', sb.prefix, 'cache'), '');
      const st = fs.statfsSync(full);
      fs.writeFileSync(fill, Buffer.alloc((st.bavail - pages) * st.bsize));
      assert.equal(fs.statfsSync(full).bavail, pages);
    };
    leaveFree(0);
    refused(state, /no space left on device \(ENOSPC\)/);
    const files = () => fs.readdirSync(path.join(state, 'sandbox', sb.prefix)).sort();
    assert.deepEqual(files(), ['cache'], 'a lock temporary was left behind');

    // The sizes of this apply's journal (begin record, then the steps) and inventory, in pages.
    const ok = path.join(dir, 'ok-state');
    const k = run(ok, ['apply', '--auto-approve'], ['env', 'VOLTRON_FAULT=step=1,kill=1']);
    assert.notEqual(k.code, 0);
    const journal = fs.readFileSync(path.join(ok, 'sandbox', sb.prefix, 'journal.ndjson'), 'utf8');
    const pages = (bytes: number) => Math.ceil(bytes / 4096);
    const beginPages = pages(journal.indexOf('\n') + 1);
    const journalPages = pages(journal.length);
    assert.ok(journalPages > beginPages + 1, `${beginPages} < ${journalPages}`);
    assert.equal(run(ok, ['recover']).code, 0);
    assert.deepEqual(sb.namespaces(), []);

    // The lock takes a page. The begin record fits, the step records do not: no step was sent.
    // Then the journal fits, the inventory does not: the apply is rolled back.
    for (const free of [beginPages + 1, journalPages + 1]) {
      leaveFree(free);
      const r = run(state, ['apply', '--auto-approve']);
      assert.equal(r.signal, null, 'hung');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      const what = free === beginPages + 1 ? 'write the journal' : 'save the inventory';
      assert.match(r.stderr, new RegExp(`^Error: state dir [^\\n]+: cannot ${what}: no space left on device \\(ENOSPC\\)\\n`), r.stderr);
      assert.match(r.stderr, /The apply failed and was rolled back; nothing changed\.\n$/, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
      assert.deepEqual(sb.namespaces(), []);
      assert.deepEqual(files(), ['cache'], `left behind after failing to ${what}`);
    }
    // With room, the same apply completes.
    leaveFree(journalPages + 1 + 8);
    const r = run(state, ['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(run(state, ['destroy', '--auto-approve']).code, 0);
  });
});
