// Real kernel: what a no-op plan does not do. A config served from the cache (a valid one seen
// before) is neither parsed nor validated again: `yaml` and `ajv` are never loaded. Positions
// for messages come from a new parse, so a check that computed them for every object, not only
// for the ones it reports, made every no-op plan parse the whole config again (at 1000 bridges:
// 0.15 s -> 0.75 s, found by the bench). Speed itself is measured in bench/, not here.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox } from '../support/sandbox';

const SPY = path.join(REPO, 'dist/test/support/load-spy.js');

describe('a no-op plan from a cached config (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-noop-'));
  // Every kind a plan-time check looks at: namespaces, sysctls (root and namespace), links, routes.
  fs.writeFileSync(
    path.join(dir, 'network.yaml'),
    `namespaces:
  - name: a
    sysctls: { net.ipv4.ip_forward: 1 }
sysctls:
  net.ipv6.conf.all.forwarding: 1
links:
  - { name: br0, type: bridge, mtu: 1500 }
  - { name: vx0, type: vxlan, master: br0, vxlan: { vni: 7, dstport: 4789 } }
  - { name: va0, type: veth, peer: { name: vb0, namespace: a } }
  - { name: mv0, type: macvlan, macvlan: { parent: va0, mode: bridge } }
addresses:
  - { address: 10.7.0.1/24, dev: br0 }
routes:
  - { to: 10.8.0.0/16, via: 10.7.0.254, dev: br0 }
`,
  );
  const sb = new Sandbox('nop', dir);
  const spyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-spy-'));
  after(() => {
    sb.cleanup();
    for (const d of [dir, spyDir]) fs.rmSync(d, { recursive: true, force: true });
  });

  const loaded = (cmd: string[], config?: string): { code: number; modules: string[] } => {
    const out = path.join(spyDir, 'loaded.json');
    fs.rmSync(out, { force: true });
    const r = sb.run(cmd, { config, env: { NODE_OPTIONS: `--require ${SPY}`, VOLTRON_LOAD_SPY_OUT: out } });
    return { code: r.code, modules: JSON.parse(fs.readFileSync(out, 'utf8')) as string[] };
  };

  it('neither parses YAML nor checks the schema, for plan and apply', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    // The spy works: an error's position needs the YAML parser.
    const bad = path.join(spyDir, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'network.yaml'), 'links:\n  - { name: br0, type: bridge, mtu: 1 }\n');
    const control = loaded(['plan'], bad);
    assert.equal(control.code, 1);
    assert.ok(control.modules.includes('yaml'), `the spy sees yaml loaded for an error's position: ${control.modules}`);
    assert.deepEqual(loaded(['plan', '--detailed-exitcode']), { code: 0, modules: [] });
    assert.deepEqual(loaded(['apply', '--auto-approve']), { code: 0, modules: [] });
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
