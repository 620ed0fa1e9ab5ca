// Safe apply building blocks without a kernel: lock file, journal parsing, records from an
// earlier boot, fault seam, durations.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { acquireLock, LockBusy, lockPath, readLock } from '../../src/apply/lock';
import { JournalWriter, discardStubJournal, journalPath, readJournal, removeJournal } from '../../src/apply/journal';
import { parseFault, faultAfter, faultAt, faultBefore, faultBetween } from '../../src/apply/faults';
import { lastRevert, noteConfirmed, parseDuration } from '../../src/apply/watchdog';
import { lingeringDeletes } from '../../src/apply/lingering';
import type { Resource } from '../../src/model/types';
import { inverseChange } from '../../src/apply/rollback';
import { abandonJournal, recoverJournal, restoreTargetOfJournal } from '../../src/apply/recover';
import { InventoryBuilder, loadInventory, saveInventory, inventoryPath, recordChange } from '../../src/apply/inventory';
import { bootId } from '../../src/util/boot';
import { forgetRecreated, withIdentities } from '../../src/apply/reconcile';
import type { KernelSession } from '../../src/kernel/session';
import { NetlinkError } from '../../src/kernel/netlink/socket';
import { EMPTY_INVENTORY, type Change } from '../../src/plan/types';

const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-safe-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A pid that surely is dead: a child that already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const change = (action: Change['action']): Change => ({
  action,
  key: 'link:/d0',
  kind: 'link',
  label: 'link (root)/d0 (dummy)',
  reason: 'test',
  fields: [{ field: 'mtu', before: 1500, after: 9000 }],
  disruptive: false,
  ...(action !== 'create' ? { before: { kind: 'link', namespace: '', name: 'd0', type: 'dummy', mtu: 1500 } as never } : {}),
  ...(action !== 'delete' ? { after: { kind: 'link', namespace: '', name: 'd0', type: 'dummy', mtu: 9000 } as never } : {}),
  dependsOn: [],
});

describe('lock', () => {
  it('is exclusive and names its holder', () => {
    const d = tmp();
    const l = acquireLock(d, 'voltron apply');
    assert.throws(() => acquireLock(d, 'voltron destroy', process.pid + 1), (e: unknown) => e instanceof LockBusy && /locked by pid \d+ on .* \(voltron apply, since /.test(e.message));
    l.release();
    assert.equal(fs.existsSync(lockPath(d)), false);
    acquireLock(d, 'voltron destroy').release();
  });

  it('takes over a stale lock whose pid is dead', () => {
    const d = tmp();
    const pid = deadPid();
    fs.writeFileSync(lockPath(d), JSON.stringify({ pid, host: os.hostname(), command: 'voltron apply', startedAt: 'x' }));
    const l = acquireLock(d, 'voltron recover');
    assert.equal(l.tookOver?.pid, pid);
    assert.equal(readLock(d)?.pid, process.pid);
    l.release();
  });

  it('does not take over a lock held by a live process or another host', () => {
    const d = tmp();
    fs.writeFileSync(lockPath(d), JSON.stringify({ pid: 1, host: os.hostname(), command: 'voltron apply', startedAt: 'x' }));
    assert.throws(() => acquireLock(d, 'voltron apply'), LockBusy);
    fs.writeFileSync(lockPath(d), JSON.stringify({ pid: deadPid(), host: 'elsewhere', command: 'voltron apply', startedAt: 'x' }));
    assert.throws(() => acquireLock(d, 'voltron apply'), LockBusy);
  });

  it('takes over a lock from an earlier boot even if its pid is alive now (reused)', () => {
    assert.match(bootId(), /^[0-9a-f-]{36}$/);
    const d = tmp();
    const stamp = { pid: 1, host: os.hostname(), command: 'voltron apply', startedAt: 'x' };
    fs.writeFileSync(lockPath(d), JSON.stringify({ ...stamp, bootId: bootId() }));
    assert.throws(() => acquireLock(d, 'voltron apply'), LockBusy); // this boot: pid 1 holds it
    fs.writeFileSync(lockPath(d), JSON.stringify({ ...stamp, bootId: '00000000-0000-0000-0000-000000000000' }));
    const l = acquireLock(d, 'voltron apply');
    assert.equal(l.tookOver?.pid, 1);
    assert.equal(readLock(d)?.bootId, bootId());
    l.release();
  });

  it('an empty lock (a power loss after its creation) is stale; no temporary file is left', () => {
    const d = tmp();
    fs.writeFileSync(lockPath(d), '');
    const l = acquireLock(d, 'voltron apply');
    assert.equal(l.tookOver?.command, '(unreadable lock)');
    assert.equal(readLock(d)?.pid, process.pid);
    l.release();
    assert.deepEqual(fs.readdirSync(d), []);
  });

  it('transfer hands the lock to another pid; release by the old owner leaves it', () => {
    const d = tmp();
    const l = acquireLock(d, 'voltron apply');
    l.transfer(1, 'watchdog for voltron apply');
    l.release();
    assert.equal(readLock(d)?.pid, 1);
    assert.match(String(readLock(d)?.command), /^watchdog/);
  });
});

describe('journal', () => {
  const target = { objects: {}, scope: {}, foreign: {} };
  it('records begin, steps and done marks; a torn last line is ignored', () => {
    const d = tmp();
    const w = JournalWriter.start(d, { command: 'voltron apply', sandbox: 'vtx-', steps: 2, preInventory: EMPTY_INVENTORY, target });
    w.begin(0, change('create'));
    w.done(0);
    w.begin(1, change('update'));
    w.close();
    fs.appendFileSync(journalPath(d), '{"t":"done","i"'); // killed mid-write
    const j = readJournal(d)!;
    assert.equal(j.begin.steps, 2);
    assert.equal(j.steps.length, 2);
    assert.deepEqual([...j.done], [0]);
    assert.equal(j.steps[1]!.before?.kind, 'link');
    assert.equal(j.steps[0]!.before, null);
    assert.equal(j.applied, false);
    removeJournal(d);
    assert.equal(readJournal(d), undefined);
  });

  it('step records leave out dependsOn: 2000 rules over 13 000 routes made a batch longer than V8 allows a string', () => {
    const d = tmp();
    const w = JournalWriter.start(d, { command: 'voltron apply', sandbox: 'vtx-', steps: 3000, preInventory: EMPTY_INVENTORY, target });
    const deps = Array.from({ length: 13_000 }, (_, i) => `route:/ipv4/t100/172.${16 + (i >> 8)}.${i & 255}.0/24/m0`);
    w.prepare(0, Array.from({ length: 3000 }, (_, i) => ({ ...change('create'), key: `rule:/ipv4/p${i}`, dependsOn: deps })));
    w.close();
    assert.ok(fs.statSync(journalPath(d)).size < 3000 * 1000, `${fs.statSync(journalPath(d)).size} bytes`);
    const j = readJournal(d)!;
    assert.equal(j.steps.length, 3000);
    assert.deepEqual(j.steps[2999]!.change.dependsOn, []);
    removeJournal(d);
  });

  it('refuses to start over an unfinished journal', () => {
    const d = tmp();
    JournalWriter.start(d, { command: 'a', sandbox: null, steps: 1, preInventory: EMPTY_INVENTORY, target }).close();
    assert.throws(() => JournalWriter.start(d, { command: 'b', sandbox: null, steps: 1, preInventory: EMPTY_INVENTORY, target }), /EEXIST/);
  });

  it('a journal from an earlier boot is discarded, not rolled back', () => {
    const d = tmp();
    JournalWriter.start(d, { command: 'voltron apply', sandbox: 'vtx-', steps: 1, preInventory: EMPTY_INVENTORY, target }).close();
    assert.equal(readJournal(d)!.begin.bootId, bootId());
    const lines = fs.readFileSync(journalPath(d), 'utf8').replace(bootId(), '00000000-0000-0000-0000-000000000000');
    fs.writeFileSync(journalPath(d), lines);
    const said: string[] = [];
    const r = recoverJournal(d, { out: (s) => said.push(s), err: (s) => said.push(s) });
    assert.equal(r.action, 'discarded');
    assert.match(said.join('\n'), /before the last reboot/);
    assert.equal(readJournal(d), undefined);
  });

  it('abandon: the journal is set aside and ownership is the union of before and the journaled steps', () => {
    const d = tmp();
    const pre = {
      version: 1 as const,
      owned: { 'link:/old': { kind: 'link', namespace: '', name: 'old', type: 'bridge' } as never },
      original: {},
      ifindex: { 'link:/old': 7 },
      netnsCookie: { 'namespace:n': '4096' },
    };
    const w = JournalWriter.start(d, { command: 'voltron apply', sandbox: 'vtx-', steps: 3, preInventory: pre, target });
    w.begin(0, change('create'));
    w.done(0);
    const del: Change = { ...change('delete'), key: 'link:/old', label: 'link (root)/old (bridge)', before: pre.owned['link:/old'] };
    w.begin(1, del);
    w.done(1);
    w.close();
    const said: string[] = [];
    abandonJournal(d, { out: (x) => said.push(x), err: (x) => said.push(x) }, readJournal(d)!);
    assert.equal(readJournal(d), undefined);
    const aside = fs.readdirSync(d).filter((n) => n.startsWith('journal.abandoned-'));
    assert.equal(aside.length, 1, fs.readdirSync(d).join(' '));
    const inv = loadInventory(d);
    assert.deepEqual(Object.keys(inv.owned).sort(), ['link:/d0', 'link:/old']);
    // A failed rollback may have recreated them: recorded identities would make them look foreign.
    assert.deepEqual([inv.ifindex, inv.netnsCookie], [{}, {}]);
    assert.match(said.join('\n'), /2 step\(s\) journaled, 2 done\): the kernel is left as it is/);
  });

  it('a journal without its begin record (killed before it reached the disk) does not block the next apply', () => {
    for (const stub of ['', '{"t":"begin","version":1,"pid":4']) {
      const d = tmp();
      fs.writeFileSync(journalPath(d), stub);
      assert.equal(readJournal(d), undefined);
      const w = JournalWriter.start(d, { command: 'voltron apply', sandbox: null, steps: 1, preInventory: EMPTY_INVENTORY, target });
      w.close();
      assert.equal(readJournal(d)!.begin.command, 'voltron apply');
      assert.equal(discardStubJournal(d), false, 'a journal with a begin record is never discarded');
      assert.ok(fs.existsSync(journalPath(d)));
    }
  });

  it('after a failed step, keys the apply never created are not its own to remove', () => {
    const link = (name: string): Resource => ({ kind: 'link', namespace: '', name, type: 'bridge' }) as Resource;
    const create = (name: string, extra: Partial<Change> = {}): Change => ({ ...change('create'), key: `link:/${name}`, label: name, after: link(name), ...extra });
    const pre = link('old');
    const scope = Object.fromEntries(['a', 'b', 'c', 'p', 'old'].map((n) => [`link:/${n}`, link(n)]));
    const sysctl = { kind: 'sysctl', namespace: '', key: 'net.ipv4.ip_forward', value: '1' } as Resource;
    const t = { objects: { 'link:/old': pre }, scope: { ...scope, 'sysctl:/net.ipv4.ip_forward': sysctl }, foreign: {} };
    const run = (refused: boolean | undefined) => {
      const d = tmp();
      const w = JournalWriter.start(d, { command: 'voltron apply', sandbox: 'vtx-', steps: 4, preInventory: EMPTY_INVENTORY, target: t });
      w.prepare(0, [create('a'), create('b'), create('c'), create('p', { createdBy: 'link:/b' })]);
      w.done(0);
      if (refused !== undefined) w.failed(1, refused);
      w.close();
      return restoreTargetOfJournal(readJournal(d)!).notOurs ?? [];
    };
    // A crash: every journaled step may have run.
    assert.deepEqual(run(undefined), []);
    // Failed at b (maybe half made): only c, never sent, is not the apply's.
    assert.deepEqual(run(false), ['link:/c']);
    // b's create refused (EEXIST): b and the veth end its pair would have made are not either.
    assert.deepEqual([...run(true)].sort(), ['link:/b', 'link:/c', 'link:/p']);
  });

  it('a corrupt record before the end is an error, not silently skipped', () => {
    const d = tmp();
    JournalWriter.start(d, { command: 'a', sandbox: null, steps: 1, preInventory: EMPTY_INVENTORY, target }).close();
    fs.appendFileSync(journalPath(d), 'garbage\n{"t":"done","i":0}\n');
    assert.throws(() => readJournal(d), /corrupt record on line 2: the interrupted apply cannot be undone from it: check the kernel .*then move the journal aside \(`mv .*journal\.ndjson .*journal\.ndjson\.broken`\)/);
  });
});

describe('inventory', () => {
  it('ownership recorded in an earlier boot is void; the revision is kept', () => {
    const d = tmp();
    const owned = { 'link:/br0': { kind: 'link', namespace: '', name: 'br0', type: 'bridge' } as never };
    saveInventory(d, { version: 1, owned, original: { 'sysctl:/net.ipv4.ip_forward': '0' }, revision: 'abc' });
    assert.deepEqual(Object.keys(loadInventory(d).owned), ['link:/br0']);
    const text = fs.readFileSync(inventoryPath(d), 'utf8').replace(bootId(), '00000000-0000-0000-0000-000000000000');
    fs.writeFileSync(inventoryPath(d), text);
    const inv = loadInventory(d);
    assert.deepEqual(inv.owned, {});
    assert.deepEqual(inv.original, {});
    assert.equal(inv.revision, 'abc');
  });

  it('a damaged inventory is an error naming the file, never an empty inventory', () => {
    const d = tmp();
    const entries = ['null', '7', '{"name":"br0"}'].map((e) => `{"version":1,"owned":{"link:/br0":${e}}}`);
    for (const text of ['', '{"version":1,"owned":{"link:/br0"', 'null', '[]', '{"version":1}', ...entries]) {
      fs.writeFileSync(inventoryPath(d), text);
      assert.throws(() => loadInventory(d), (e: Error) => e.message.startsWith(`${inventoryPath(d)}: damaged inventory`), JSON.stringify(text));
    }
    fs.writeFileSync(inventoryPath(d), '{"version":1,"owned":{}}');
    assert.deepEqual(loadInventory(d).original, {}, 'an inventory without "original" reads as none recorded');
  });

  it('netns cookies: kept as decimal text, void from an earlier boot, absent in old inventories (names trusted)', () => {
    const d = tmp();
    const owned = { 'namespace:n1': { kind: 'namespace', name: 'n1' } as never };
    // u64 cookies beyond 2^53 survive (JSON numbers would round them).
    saveInventory(d, { version: 1, owned, original: {}, netnsCookie: { 'namespace:n1': '18446744073709551615' } });
    assert.deepEqual(loadInventory(d).netnsCookie, { 'namespace:n1': '18446744073709551615' });
    fs.writeFileSync(inventoryPath(d), '{"version":1,"owned":{},"ifindex":{}}');
    assert.equal(loadInventory(d).netnsCookie, undefined, 'an inventory of an older version has none');
    for (const bad of ['[]', '{"namespace:n1":77}', '{"namespace:n1":"-1"}', '"77"']) {
      fs.writeFileSync(inventoryPath(d), `{"version":1,"owned":{},"netnsCookie":${bad}}`);
      assert.throws(() => loadInventory(d), /damaged inventory \("netnsCookie" is not an object of decimal strings\)/, bad);
    }
    saveInventory(d, { version: 1, owned, original: {}, netnsCookie: { 'namespace:n1': '77' } });
    fs.writeFileSync(inventoryPath(d), fs.readFileSync(inventoryPath(d), 'utf8').replace(bootId(), '00000000-0000-0000-0000-000000000000'));
    assert.deepEqual(loadInventory(d).netnsCookie, {});
  });

  it('a namespace created or deleted by a partial apply has no known cookie; one not live keeps the recorded one', () => {
    const ns = (action: Change['action'], name: string): Change => ({
      action,
      key: `namespace:${name}`,
      kind: 'namespace',
      label: `namespace ${name}`,
      reason: 'test',
      fields: [],
      disruptive: false,
      dependsOn: [],
      ...(action === 'delete' ? { before: { kind: 'namespace', name } } : { after: { kind: 'namespace', name } }),
    });
    const owned = { 'namespace:a': { kind: 'namespace', name: 'a' } as never, 'namespace:b': { kind: 'namespace', name: 'b' } as never };
    const base = { version: 1, owned, original: {}, netnsCookie: { 'namespace:a': '5', 'namespace:b': '6', 'namespace:c': '7' } } as const;
    const after = new InventoryBuilder(base).record(ns('create', 'a')).record(ns('delete', 'c')).record(change('update')).result();
    assert.deepEqual(after.netnsCookie, { 'namespace:b': '6' });
    // An owned namespace not live under its name (gone, or someone else's set aside) keeps its
    // cookie: a namesake made later stays foreign. No kernel is asked for what is not live.
    const kept = withIdentities(base, new Map(), {} as KernelSession);
    assert.deepEqual(kept.netnsCookie, { 'namespace:a': '5', 'namespace:b': '6' });
  });

  it('in an adopted namespace someone recreated, nothing is Voltron\'s any more; elsewhere all stays', () => {
    const link = (namespace: string, name: string) => ({ kind: 'link', namespace, name, type: 'bridge', state: 'up' }) as never;
    const sysctl = { kind: 'sysctl', namespace: 'a', key: 'net.ipv4.ip_forward', value: '1' } as never;
    const inv = {
      version: 1,
      owned: { 'link:a/b1': link('a', 'b1'), 'sysctl:a/net.ipv4.ip_forward': sysctl, 'link:/b0': link('', 'b0') },
      original: { 'sysctl:a/net.ipv4.ip_forward': '0' },
      ifindex: { 'link:a/b1': 2, 'link:/b0': 7 },
      netnsCookie: { 'namespace:a': '5', 'namespace:': '6' },
    } as const;
    assert.equal(forgetRecreated(inv, new Map()), inv, 'usually nothing recreated: no copy');
    const left = forgetRecreated(inv, new Map([['a', 'netns cookie 9, was 5']]));
    assert.deepEqual(Object.keys(left.owned), ['link:/b0']);
    assert.deepEqual([left.original, left.ifindex, left.netnsCookie], [{}, { 'link:/b0': 7 }, { 'namespace:': '6' }]);
    // The cookie of an adopted namespace holding owned objects is recorded, one without them dropped.
    const session = { ns: (n: string) => ({ cookie: () => (n === 'a' ? '9' : '8'), ifindex: () => 3 }) } as unknown as KernelSession;
    const current = new Map([
      ['namespace:a', { kind: 'namespace', name: 'a' }],
      ['namespace:c', { kind: 'namespace', name: 'c' }],
      ['link:a/b1', link('a', 'b1')],
    ] as never) as unknown as ReadonlyMap<string, never>;
    const ids = withIdentities({ version: 1, owned: { 'link:a/b1': link('a', 'b1') }, original: {}, netnsCookie: { 'namespace:c': '4' } }, current, session);
    assert.deepEqual([ids.ifindex, ids.netnsCookie], [{ 'link:a/b1': 3 }, { 'namespace:a': '9' }]);
  });

  it('a setting keeps the value found before Voltron first took it over, not a later drifted one', () => {
    const sysctl = (value: string) => ({ kind: 'sysctl', namespace: '', key: 'net.ipv4.ip_forward', value }) as const;
    const set = (action: Change['action'], before: string | undefined, after: string): Change => ({
      action,
      key: 'sysctl:/net.ipv4.ip_forward',
      kind: 'sysctl',
      label: 'sysctl (root) net.ipv4.ip_forward',
      reason: 'test',
      fields: [],
      disruptive: false,
      dependsOn: [],
      ...(before === undefined ? {} : { before: sysctl(before) }),
      after: sysctl(after),
    });
    // Taken over from the value 0, then repaired after someone set it to 2: 0 is still the original.
    const taken = recordChange(recordChange(EMPTY_INVENTORY, set('update', '0', '1')), set('update', '2', '1'));
    assert.deepEqual(taken.original, { 'sysctl:/net.ipv4.ip_forward': '0' });
    // Created with its (new) namespace there is no original; a repaired drift does not become one.
    const created = recordChange(recordChange(EMPTY_INVENTORY, set('create', undefined, '1')), set('update', '2', '1'));
    assert.deepEqual(created.original, {});
  });
});

describe('a rule replace cut between its add and its delete', () => {
  const rule = (table: number, protocol?: number): Resource => ({ kind: 'rule', namespace: 'h', family: 4, priority: 1100, action: 'lookup', table, from: '10.50.0.0/24', ...(protocol ? { protocol } : {}) });
  const replace = (before: Resource, after: Resource): Change => ({ key: 'rule:h/ipv4/p1100', kind: 'rule', action: 'replace', label: 'rule h ipv4 priority 1100', reason: '', fields: [], dependsOn: [], disruptive: false, before, after });
  it("records the new rule as the rule's and the old one, as read, as its leftover", () => {
    const inv = new InventoryBuilder({ ...EMPTY_INVENTORY, owned: { 'rule:h/ipv4/p1100': rule(100) } }).recordHalf(replace(rule(100, 194), rule(200))).result();
    assert.deepEqual(inv.owned, { 'rule:h/ipv4/p1100': rule(200), 'rule:h/ipv4/p1100#leftover': rule(100, 194) });
  });
  it('an adopted rule (its protocol kept) stays adopted: only the leftover is owned', () => {
    const inv = new InventoryBuilder(EMPTY_INVENTORY).recordHalf(replace(rule(100, 4), rule(200, 4))).result();
    assert.deepEqual(inv.owned, { 'rule:h/ipv4/p1100#leftover': rule(100, 4) });
    assert.deepEqual(recordChange(EMPTY_INVENTORY, replace(rule(100, 4), rule(200, 4))).owned, {});
  });
});

describe('fault seam and durations', () => {
  it('parses VOLTRON_FAULT and throws a NetlinkError at the chosen 1-based step', () => {
    assert.deepEqual(parseFault('step=3,errno=17'), { step: 3, errno: 17 });
    assert.deepEqual(parseFault('step=2,kill=1'), { step: 2, kill: true });
    assert.deepEqual(parseFault('step=4,skip=1'), { step: 4, skip: true });
    assert.equal(parseFault(''), undefined);
    assert.throws(() => parseFault('step=0'), /positive/);
    const f = parseFault('step=2,errno=16');
    faultBefore(f, 0, change('create'));
    assert.throws(() => faultBefore(f, 1, change('create')), (e: unknown) => e instanceof NetlinkError && e.errno === 16 && /injected fault/.test(e.message));
  });

  it('a half fault strikes between the two kernel writes of its step, not before it', () => {
    assert.deepEqual(parseFault('step=2,half=1,kill=1'), { step: 2, kill: true, half: true });
    const f = parseFault('step=2,half=1,errno=5');
    assert.deepEqual(f, { step: 2, errno: 5, half: true });
    faultBefore(f, 1, change('replace'));
    faultBetween(f, 0, change('replace'));
    assert.throws(() => faultBetween(f, 1, change('replace')), (e: unknown) => e instanceof NetlinkError && e.errno === 5);
  });

  it('an at=P fault is a kill at the named point inside its step only, never before or after it', () => {
    const f = parseFault('step=3,at=maps,kill=1');
    assert.deepEqual(f, { step: 3, kill: true, at: 'maps' });
    assert.throws(() => parseFault('step=3,at=maps'), /needs kill=1/);
    faultBefore(f, 2, change('create'));
    faultAfter(f, 2); // would SIGKILL this test process if it struck
    faultAt(f, 2, 'attach');
    faultAt(f, 1, 'maps');
  });

  it('parses --confirm-within durations within bounds', () => {
    assert.equal(parseDuration('60s'), 60_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.throws(() => parseDuration('0s'), /between/);
    assert.throws(() => parseDuration('2d'), /bad duration/);
    assert.throws(() => parseDuration('25h'), /between/);
  });

  it('finds the last try the watchdog reverted, unless a confirmation came after it', () => {
    const d = tmp();
    assert.equal(lastRevert(d), undefined, 'no log');
    const log = path.join(d, 'watchdog.log');
    fs.writeFileSync(log, '2026-01-01T00:00:00.000Z watchdog[7]: waiting for `voltron confirm` until 2026-01-01T00:00:02.000Z\n');
    assert.equal(lastRevert(d), undefined, 'still waiting');
    fs.appendFileSync(log, '2026-01-01T00:00:02.100Z watchdog[7]: not confirmed in time: reverting to the pre-apply state\n2026-01-01T00:00:02.300Z watchdog[7]: revert rolledback\n');
    assert.deepEqual(lastRevert(d), { at: '2026-01-01T00:00:02.300Z', action: 'rolledback' });
    fs.appendFileSync(log, '2026-01-01T00:01:00.000Z watchdog[9]: confirmed: the applied state stands\n');
    assert.equal(lastRevert(d), undefined, 'a later try was confirmed');
    fs.appendFileSync(log, '2026-01-01T00:02:00.000Z watchdog[11]: revert failed\n');
    assert.deepEqual(lastRevert(d), { at: '2026-01-01T00:02:00.000Z', action: 'failed' });
    // A confirm that finalised a try whose watchdog had died says so in the log too.
    noteConfirmed(d);
    assert.equal(lastRevert(d), undefined);
  });

  it('inverts each action', () => {
    assert.deepEqual(inverseChange(change('create')).map((c) => c.action), ['delete']);
    assert.deepEqual(inverseChange(change('delete')).map((c) => c.action), ['create']);
    assert.deepEqual(inverseChange(change('replace')).map((c) => c.action), ['delete', 'create']);
    const [u] = inverseChange(change('update'));
    assert.deepEqual(u!.fields, [{ field: 'mtu', before: 9000, after: 1500 }]);
    assert.equal((u!.after as { mtu: number }).mtu, 1500);
  });
});

describe('inventory: original sysctl values', () => {
  it('a sysctl created without a before-state (new namespace or device) keeps the value found before the write', () => {
    const after = { kind: 'sysctl', namespace: 'a', key: 'net.ipv4.conf.all.rp_filter', value: '2' } as const;
    const create: Change = { action: 'create', key: 'sysctl:a/net.ipv4.conf.all.rp_filter', kind: 'sysctl', label: 'x', reason: '', fields: [], disruptive: false, dependsOn: [], after };
    const inv = new InventoryBuilder(EMPTY_INVENTORY).record(create, '0').result();
    assert.equal(inv.original[create.key], '0');
    // A later update does not overwrite it with Voltron's own earlier value.
    const update: Change = { ...create, action: 'update', before: after, after: { ...after, value: '1' } };
    assert.equal(new InventoryBuilder(inv).record(update).result().original[create.key], '0');
  });
});

it('saving the inventory removes temporary files a killed writer left; a live writer\'s stays', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-tmpinv-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    const stale = `${inventoryPath(dir)}.tmp-${deadPid}`;
    const live = `${inventoryPath(dir)}.tmp-1`; // pid 1 is alive
    fs.writeFileSync(stale, '{"version":1,"ow');
    fs.writeFileSync(live, '{}');
    saveInventory(dir, EMPTY_INVENTORY);
    assert.equal(fs.existsSync(stale), false, 'the dead writer\'s temporary file is gone');
    assert.equal(fs.existsSync(live), true);
    assert.deepEqual(loadInventory(dir).owned, {});
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('verify: deletes the kernel applied to another object', () => {
  const rule = (extra: object = {}): Resource => ({ kind: 'rule', namespace: '', family: 4, priority: 100, action: 'lookup', table: 100, fwmark: 1, protocol: 250, ...extra }) as Resource;
  const del = (r: Resource, label: string): Change => ({ key: 'rule:/ipv4/p100', kind: r.kind, action: 'delete', label, reason: 'no longer declared', fields: [], disruptive: true, before: r }) as unknown as Change;
  it('finds a deleted rule left unchanged, under its key or set aside as a namesake; not a different one', () => {
    const ours = rule({ source: { file: 'a.yaml', line: 3 } });
    const found = (current: [string, Resource][]) => lingeringDeletes([del(ours, 'rule p100')], new Map(current));
    assert.deepEqual(found([['rule:/ipv4/p100', rule()]]), ['rule p100']);
    assert.deepEqual(found([['rule:/ipv4/p100#1', rule()]]), ['rule p100']);
    assert.deepEqual(found([['rule:/ipv4/p100', rule({ protocol: 4, fwmark: undefined, from: '10.0.0.0/8' })]]), []);
    assert.deepEqual(found([]), []);
  });
});
