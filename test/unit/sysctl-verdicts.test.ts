// The cache of what a throwaway namespace said about declared sysctls: trusted only for the same
// kernel, boot, modules and user namespace; a corrupt, foreign or stale file is asked again, and
// one that cannot be written never fails a plan. With every answer known, no namespace is made.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { libc } from '../../src/kernel/libc';
import { refusedSysctlValues, sysctlAccess } from '../../src/kernel/sysctl';
import { loadVerdicts, saveVerdicts, setSysctlVerdictCache, verdictStamp } from '../../src/kernel/sysctl-verdicts';
import { bootId } from '../../src/util/boot';
import type { KernelSession } from '../../src/kernel/session';

describe('sysctl verdict cache', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-verdicts-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const access = new Map([['/proc/sys/net/ipv4/route/flush', 'write-only' as const]]);
  const values = new Map([
    ['/proc/sys/net/ipv6/conf/all/hop_limit\u0000300', { refused: 'EINVAL' }],
    ['/proc/sys/net/ipv4/ip_forward\u00000x1', { keptAs: '1' }],
    ['/proc/sys/net/ipv4/ip_forward\u00001', null],
  ]);

  it('is keyed by boot, kernel release and what a new namespace depends on', () => {
    const stamp = verdictStamp();
    assert.ok(stamp !== undefined);
    assert.ok(stamp.startsWith(`${bootId()}/${os.release()}/`), stamp);
    assert.equal(verdictStamp(), stamp, 'the same while nothing changes');
  });

  it('keeps answers for the same stamp only', () => {
    const file = path.join(dir, 'a', 'cache', 'sysctl-verdicts.json'); // directories made as needed
    saveVerdicts(file, 'boot1/6.1/x', { access, values });
    const back = loadVerdicts(file, 'boot1/6.1/x');
    assert.deepEqual([...back.access], [...access]);
    assert.deepEqual([...back.values], [...values]);
    assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');
    // Another boot, kernel or module set: nothing trusted.
    for (const other of ['boot2/6.1/x', 'boot1/6.2/x', 'boot1/6.1/y']) assert.deepEqual(loadVerdicts(file, other), { access: new Map(), values: new Map() });
    // Adding keeps what was there; a new stamp starts over.
    saveVerdicts(file, 'boot1/6.1/x', { values: new Map([['/proc/sys/net/ipv4/ip_forward\u00002', { refused: 'EINVAL' }]]) });
    assert.equal(loadVerdicts(file, 'boot1/6.1/x').values.size, 4);
    saveVerdicts(file, 'boot2/6.1/x', { values: new Map([['/proc/sys/net/ipv4/ip_forward\u00001', null]]) });
    assert.equal(loadVerdicts(file, 'boot2/6.1/x').values.size, 1);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['sysctl-verdicts.json'], 'no temporary file left');
  });

  it('does not trust a corrupt, malformed, foreign or world-writable file', () => {
    const file = path.join(dir, 'b.json');
    const none = { access: new Map(), values: new Map() };
    fs.writeFileSync(file, '{"version":2,"stamp":"s","acc', { mode: 0o600 });
    assert.deepEqual(loadVerdicts(file, 's'), none);
    fs.writeFileSync(file, JSON.stringify({ version: 99, stamp: 's', access: {}, values: { k: null } }));
    assert.deepEqual(loadVerdicts(file, 's'), none);
    fs.writeFileSync(file, JSON.stringify({ version: 2, stamp: 's', access: ['missing'], values: {} }));
    assert.deepEqual(loadVerdicts(file, 's'), none);
    // Entries of no known form are dropped, the rest kept.
    fs.writeFileSync(file, JSON.stringify({ version: 2, stamp: 's', access: { a: 'ok', b: 'maybe' }, values: { c: { refused: 'EINVAL' }, d: { refused: 1 }, e: 'x', f: { keptAs: '1', refused: 'E' } } }));
    const some = loadVerdicts(file, 's');
    assert.deepEqual([...some.access.keys()], ['a']);
    assert.deepEqual([...some.values.keys()], ['c']);
    fs.chmodSync(file, 0o666);
    assert.deepEqual(loadVerdicts(file, 's'), none);
    fs.chmodSync(file, 0o600);
    if (process.geteuid?.() === 0) {
      fs.chownSync(file, 65534, 65534);
      assert.deepEqual(loadVerdicts(file, 's'), none);
    }
    assert.deepEqual(loadVerdicts(path.join(dir, 'absent.json'), 's'), none);
    assert.deepEqual(loadVerdicts(undefined, 's'), none);
    assert.deepEqual(loadVerdicts(file, undefined), none);
  });

  it('never fails when it cannot be written', () => {
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, '');
    assert.doesNotThrow(() => saveVerdicts(path.join(blocker, 'cache', 'v.json'), 's', { access, values }));
    assert.doesNotThrow(() => saveVerdicts('/proc/voltron-none/cache/v.json', 's', { access, values }));
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro);
    fs.writeFileSync(path.join(ro, 'v.json'), '');
    fs.chmodSync(ro, 0o500);
    try {
      assert.doesNotThrow(() => saveVerdicts(path.join(ro, 'v.json'), 's', { access, values }));
    } finally {
      fs.chmodSync(ro, 0o700);
    }
  });

  it('with every answer known, no namespace is made and the kept answers are given', () => {
    const file = path.join(dir, 'c', 'sysctl-verdicts.json');
    const stamp = verdictStamp()!;
    saveVerdicts(file, stamp, {
      access: new Map([
        ['/proc/sys/net/ipv4/route/flush', 'write-only'],
        ['/proc/sys/net/ipv4/ip_forward', 'ok'],
      ]),
      values: new Map([
        ['/proc/sys/net/ipv4/conf/lo/rp_filter\u0000x', { refused: 'EINVAL' }],
        ['/proc/sys/net/ipv4/ip_forward\u00000x1', { keptAs: '1' }],
      ]),
    });
    const unshare = libc.unshare;
    libc.unshare = (() => assert.fail('a throwaway namespace was made')) as unknown as typeof libc.unshare;
    setSysctlVerdictCache(file);
    try {
      const bad = { key: 'net.ipv4.conf.b7.rp_filter', value: 'x', device: 'b7' };
      const kept = { key: 'net.ipv4.ip_forward', value: '0x1', device: undefined };
      const refused = refusedSysctlValues([bad, kept]);
      assert.match(refused.get(bad)!, /the kernel refuses the value 'x' \(EINVAL/);
      assert.match(refused.get(kept)!, /keeps the value '0x1' as '1', so the apply would never verify \(declare '1'\)/);
      const session = { exists: () => false } as unknown as KernelSession; // namespaces the apply creates
      const flush = { namespace: 'a', key: 'net.ipv4.route.flush', device: undefined };
      const fwd = { namespace: 'a', key: 'net.ipv4.ip_forward', device: undefined };
      assert.deepEqual([...sysctlAccess(session, [flush, fwd])], [[flush, 'write-only']]);
    } finally {
      libc.unshare = unshare;
      setSysctlVerdictCache(undefined);
    }
  });
});
