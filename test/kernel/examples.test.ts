// Real kernel: every example applies, re-plans empty, survives drift, and destroy leaves
// nothing — checked with `ip -j` as an independent oracle.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox, copyConfig } from '../support/sandbox';
import { bpfRoot } from '../../src/kernel/bpf';

describe('examples/overlay-host on the real kernel', () => {
  const sb = new Sandbox('ovl', path.join(REPO, 'examples/overlay-host'));
  after(() => sb.cleanup());

  it('applies, verifies and creates what the config declares', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Verified/);
    assert.deepEqual(sb.namespaces(), [sb.ns(''), sb.ns('vovl-a'), sb.ns('vovl-b'), sb.ns('vovl-c')].sort());
    const [br] = sb.ipj('', ['-d', 'link', 'show', 'br-ovl']);
    assert.equal(br.mtu, 1450);
    assert.equal(br.linkinfo.info_kind, 'bridge');
    assert.equal(br.ifalias, 'overlay bridge');
    const [vx] = sb.ipj('', ['-d', 'link', 'show', 'vx-ovl']);
    assert.equal(vx.master, 'br-ovl');
    assert.equal(vx.linkinfo.info_kind, 'vxlan');
    assert.equal(vx.linkinfo.info_data.external, true);
    assert.equal(vx.linkinfo.info_data.port, 4789);
    const [a] = sb.ipj('vovl-a', ['addr', 'show', 'eth0']);
    assert.ok(a.addr_info.some((x: { local: string }) => x.local === '10.77.0.11'));
    const routes = sb.ipj('vovl-a', ['route', 'show', 'default']);
    assert.equal(routes[0].gateway, '10.77.0.1');
    const bh = sb.ipj('', ['route', 'show', '10.78.0.0/16']);
    assert.equal(bh[0].type, 'blackhole');
    // Not declared in vovl-a: a new namespace keeps what it starts with, the host's (IPv4 inherits init_net's).
    assert.equal(sb.exec('vovl-a', ['cat', '/proc/sys/net/ipv4/ip_forward']).stdout.trim(), fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim());
    assert.equal(sb.exec('', ['cat', '/proc/sys/net/ipv4/ip_forward']).stdout.trim(), '1');
  });

  it('shows live state in the config format with owned objects marked', () => {
    const j = sb.run(['show', '-o', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const state = JSON.parse(j.stdout) as { links: { name: string; namespace?: string; owned?: boolean; mtu?: number }[] };
    const br = state.links.find((l) => l.name === 'br-ovl' && l.namespace === undefined);
    assert.equal(br?.owned, true);
    assert.equal(br?.mtu, 1450);
    const y = sb.run(['show', '-n', 'vovl-a']);
    assert.equal(y.code, 0, y.stderr);
    assert.match(y.stdout, /# owned\n\s*- address: 10\.77\.0\.11\/24/);
    assert.doesNotMatch(y.stdout, /vx-ovl|veth-b|10\.77\.0\.1\//, '-n limits the output to one namespace');
    // ... and what its veth end needs: the root end's settings, and the bridge that end is a port of.
    // As a config in a fresh state dir (owning nothing else), it plans empty: the root end was set
    // off its bridge (a default master), and the -n '' document named namespaces it did not declare.
    for (const ns of ['vovl-a', '']) {
      const doc = ns === 'vovl-a' ? y : sb.run(['show', '-n', ns]);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-show-n-'));
      fs.writeFileSync(path.join(dir, 'net.yaml'), doc.stdout);
      try {
        const p = sb.run(['plan', '--detailed-exitcode'], { config: dir, stateDir: path.join(dir, 'state') });
        assert.equal(p.code, 0, `show -n '${ns}' as a config:\n${p.stdout}${p.stderr}\n${doc.stdout}`);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const v = sb.run(['validate']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /valid/);
  });

  it('carries traffic between the namespaces', () => {
    const r = sb.pingUntil('vovl-a', ['10.77.0.13']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('re-plans to nothing, and a no-op apply makes zero kernel writes', async () => {
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /No changes/);
    const mons = ['', 'vovl-a', 'vovl-b'].map((n) => sb.monitor(n));
    await Promise.all(mons.map((m) => m.quiet()));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr);
    const events = (await Promise.all(mons.map((m) => m.stop()))).flat();
    assert.deepEqual(events, [], 'no netlink change events during a no-op apply');
  });

  it('shows drift made behind its back and repairs it', () => {
    sb.ip('', ['link', 'set', 'br-ovl', 'mtu', '1400']);
    sb.ip('vovl-b', ['link', 'set', 'eth0', 'down']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 2, p.stdout + p.stderr);
    assert.match(p.stdout, /br-ovl/);
    assert.match(p.stdout, /mtu.*1400.*1450/);
    assert.match(p.stdout, /state/);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.ipj('', ['link', 'show', 'br-ovl'])[0].mtu, 1450);
    assert.ok(sb.ipj('vovl-b', ['link', 'show', 'eth0'])[0].flags.includes('UP'));
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('leaves foreign objects alone and prunes what is removed from the config', () => {
    // Foreign: a veth pair and a static route made with ip in the sandbox root namespace.
    sb.ip('', ['link', 'add', 'frgn0', 'type', 'veth', 'peer', 'name', 'frgn1']);
    sb.ip('', ['route', 'add', 'blackhole', '10.99.0.0/16', 'proto', 'static']);
    const cfg = copyConfig(path.join(REPO, 'examples/overlay-host'));
    try {
      const file = path.join(cfg, 'network.yaml');
      const text = fs.readFileSync(file, 'utf8').replace(/  - \{ to: 10\.78\.0\.0\/16, type: blackhole, metric: 100 \}\n/, '');
      assert.ok(!text.includes('10.78.0.0'));
      fs.writeFileSync(file, text);
      const p = sb.run(['plan', '--detailed-exitcode'], { config: cfg });
      assert.equal(p.code, 2, p.stdout + p.stderr);
      assert.match(p.stdout, /10\.78\.0\.0\/16/);
      assert.doesNotMatch(p.stdout, /frgn|10\.99/);
      const a = sb.run(['apply', '--auto-approve'], { config: cfg });
      assert.equal(a.code, 0, a.stdout + a.stderr);
      assert.deepEqual(sb.ipj('', ['route', 'show', '10.78.0.0/16']), []);
      assert.equal(sb.ipj('', ['route', 'show', '10.99.0.0/16'])[0].protocol, 'static');
      assert.equal(sb.ipj('', ['link', 'show', 'frgn0']).length, 1);
      assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: cfg }).code, 0);
    } finally {
      fs.rmSync(cfg, { recursive: true, force: true });
    }
  });

  it('destroy removes everything it owns', () => {
    const r = sb.run(['destroy', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The config still declares them: the plan says why they go, not "no longer declared".
    assert.match(r.stdout, /- namespace vovl-a {2}\[disruptive\]\n\s+# \(destroyed \(owned since a previous apply\)\)/);
    assert.doesNotMatch(r.stdout, /no longer declared/);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('examples/srv6-lab on the real kernel', () => {
  const sb = new Sandbox('lab', path.join(REPO, 'examples/srv6-lab'));
  after(() => sb.cleanup());

  it('applies, re-plans empty, and destroy leaves nothing', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const ping = sb.pingUntil('vlab-h1', ['-6', '2001:db8:21::2']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

// The third example: cli-output.test.ts only round-trips its `show`; here the user's own cycle.
describe('examples/bpf-counter on the real kernel', () => {
  const sb = new Sandbox('bpc', path.join(REPO, 'examples/bpf-counter'));
  const root = bpfRoot(sb.prefix);
  after(() => {
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
  });

  it('an object file that is not there (not built yet) is refused before any write (the apply made 7 of 8 changes, then rolled back)', () => {
    const cfg = copyConfig(path.join(REPO, 'examples/bpf-counter'));
    try {
      const file = path.join(cfg, 'network.yaml');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('../../dist/bpf/counter.bpf.o', 'not-built.bpf.o'));
      for (const cmd of ['plan', 'apply']) {
        const r = sb.run([cmd, '--auto-approve'].slice(0, cmd === 'apply' ? 2 : 1), { config: cfg });
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.ok(r.stderr.includes(`/bpf/programs/0: bpf program counter: object file ${path.join(cfg, 'not-built.bpf.o')} does not exist`), r.stderr);
      }
      assert.deepEqual(sb.namespaces(), [], 'nothing was created');
    } finally {
      fs.rmSync(cfg, { recursive: true, force: true });
    }
  });

  it('applies, re-plans empty, counts pings, and destroy leaves no namespace and no bpffs pins', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /created: bpf program counter/);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const ping = sb.pingUntil('vbpf-b', ['10.99.0.1']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.ok(fs.existsSync(path.join(root, 'counter', 'maps', 'counters')), `the map is pinned under ${root}`);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(d.stdout, /Destroy complete: \d+ change\(s\), [1-9]\d* kernel write\(s\)/);
    assert.deepEqual(sb.namespaces(), []);
    assert.equal(fs.existsSync(root), false, `${root} removed`);
  });
});
