// Real kernel: a plan judges declared sysctls in a throwaway namespace once, then from the state
// dir's verdict cache. Every plan used to create (and drop) a namespace: creating one waits for
// the kernel's pernet lock, held by the teardown of namespaces deleted just before (a second or
// more after a big destroy, for a 0.1 s plan). Refusals stay the same, before any write.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveVerdicts, verdictStamp } from '../../src/kernel/sysctl-verdicts';
import { REPO, editableSandbox, type Sandbox } from '../support/sandbox';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

/**
 * Run the CLI under strace; how many throwaway network namespaces it made: those created
 * (unshare CLONE_NEWNET) and never mounted on /run/netns (as the namespaces an apply creates are).
 */
function traced(sb: Sandbox, args: readonly string[]): { code: number; stderr: string; created: number } {
  const out = path.join(sb.stateDir, 'strace.out');
  const r = spawnSync(
    'strace',
    ['-f', '-qq', '-e', 'trace=unshare,mount', '-o', out, process.execPath, path.join(REPO, 'bin/voltron'), ...args, '-c', sb.configDir, '--sandbox', sb.prefix, '--state-dir', sb.stateDir, '--no-color'],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const lines = fs.readFileSync(out, 'utf8').split('\n');
  const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
  const created = count(/unshare\([^)]*CLONE_NEWNET[^)]*\)\s*= 0/) - count(/mount\("[^"]*", "\/run\/netns\/[^"]+", .*MS_BIND.*\)\s*= 0/);
  fs.rmSync(out);
  return { code: r.status ?? -1, stderr: r.stdout + r.stderr, created };
}

describe('sysctl checks without a throwaway namespace per plan', { skip: !hasStrace && 'no strace' }, () => {
  const { sb, file } = editableSandbox('sv', 'namespaces:\n  - name: a\n    sysctls:\n      net.ipv4.ip_forward: 1\n      net.ipv6.conf.all.hop_limit: 300\n      net.ipv4.route.flush: 1\n');
  after(() => sb.cleanup());
  const cache = (): string => path.join(sb.stateDir, 'sandbox', sb.prefix, 'cache', 'sysctl-verdicts.json');
  const refused = (r: { code: number; stderr: string }): void => {
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /net\.yaml:5:7: sysctl a net\.ipv6\.conf\.all\.hop_limit: the kernel refuses the value '300' \(EINVAL/);
    assert.match(r.stderr, /net\.yaml:6:7: sysctl a net\.ipv4\.route\.flush: the sysctl is write-only/);
    assert.doesNotMatch(r.stderr, /ip_forward/);
  };

  it('a namespace the apply creates: the first plan asks a throwaway namespace, later ones the cache; refused with no write', () => {
    const first = traced(sb, ['plan']);
    refused(first);
    assert.ok(first.created >= 1, `the first plan made ${first.created} namespaces`);
    assert.ok(fs.existsSync(cache()));
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = traced(sb, cmd);
      refused(r);
      assert.equal(r.created, 0, `${cmd[0]} made a namespace`);
    }
    assert.deepEqual(sb.namespaces(), []);
  });

  it('a stale or corrupt cache is asked again, not believed', () => {
    const c = JSON.parse(fs.readFileSync(cache(), 'utf8')) as { stamp: string; values: Record<string, unknown> };
    // Claims the bad value is fine, for another boot: not trusted.
    for (const k of Object.keys(c.values)) c.values[k] = null;
    fs.writeFileSync(cache(), JSON.stringify({ ...c, stamp: `other-boot/${os.release()}/x` }));
    const r = traced(sb, ['plan']);
    refused(r);
    assert.ok(r.created >= 1);
    fs.writeFileSync(cache(), '{"version":1,');
    refused(traced(sb, ['plan']));
  });

  it('a namespace that exists: refused from the cache, its sysctls untouched', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('a')]);
    const r = traced(sb, ['apply', '--auto-approve']);
    refused(r);
    assert.equal(r.created, 0);
    assert.equal(sb.exec('a', ['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.trim(), '0');
    assert.equal(sb.exec('a', ['sysctl', '-n', 'net.ipv6.conf.all.hop_limit']).stdout.trim(), '64');
    execFileSync('ip', ['netns', 'del', sb.ns('a')]);
  });

  it('a value not asked before is asked once; a good config applies', () => {
    fs.writeFileSync(file, 'namespaces:\n  - name: a\n    sysctls:\n      net.ipv4.ip_forward: 1\n      net.ipv6.conf.all.hop_limit: 77\n');
    const p = traced(sb, ['plan']);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.created, 1, 'only the new value is tried (the key is known)');
    const a = traced(sb, ['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.created, 0);
    assert.equal(sb.exec('a', ['sysctl', '-n', 'net.ipv6.conf.all.hop_limit']).stdout.trim(), '77');
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });

  it('a key kept as missing that the host has now is asked again (a module may have added it since)', () => {
    // What a cache written before a module added the key says; the stamp can miss that (a
    // built-in or reloaded module). The plan used to refuse the key from the cache for good.
    saveVerdicts(cache(), verdictStamp(), { access: new Map([['/proc/sys/net/ipv4/ip_forward', 'missing']]) });
    fs.writeFileSync(file, 'namespaces:\n  - name: a\n    sysctls:\n      net.ipv4.ip_forward: 1\n');
    const r = traced(sb, ['plan']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.created, 1, 'asked a new namespace again');
    assert.equal(traced(sb, ['plan']).created, 0, 'and kept the answer');
    // A key the host lacks too stays answered from the cache.
    fs.writeFileSync(file, 'namespaces:\n  - name: a\n    sysctls:\n      net.ipv4.no_such_key: 1\n');
    const typo = traced(sb, ['plan']);
    assert.equal(typo.code, 1, typo.stderr);
    assert.match(typo.stderr, /no such sysctl/);
    assert.equal(traced(sb, ['plan']).created, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
