// Real kernel: a declared route that was there before Voltron (adopted, `proto static`) whose
// metric or table the config changes moves: the new route is created first with the old one's
// protocol, and the old one deleted after it by its full spec (not left serving beside it, as
// a release would). It stays adopted (released, not deleted, when it leaves the config). Failing
// between the two writes rolls back, or recovers, to exactly the old route; with --no-rollback
// the next apply deletes the old one. A route of another protocol the config never declared is
// never taken for the declared one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigDirs, Sandbox, liveOracle } from '../support/sandbox';

const CONFIG = (route: string) => `
namespaces: [ { name: h } ]
links:
  - { name: d0, namespace: h, type: veth, peer: { name: d1, namespace: h } }
addresses:
  - { address: 10.9.0.1/24, dev: d0, namespace: h }
${route ? `routes:\n${route}` : ''}
`;
const R80 = (extra: string) => `  - { to: 10.80.0.0/24, via: 10.9.0.2, dev: d0, namespace: h, ${extra} }\n`;
const R81 = '  - { to: 10.81.0.0/24, via: 10.9.0.2, dev: d0, namespace: h, metric: 200 }\n';

describe('an adopted route whose metric or table is edited', () => {
  const dirs = new ConfigDirs();
  const cfg = (route: string): string => dirs.make(CONFIG(route));
  const NONE = cfg('');
  const M100 = cfg(R80('metric: 100'));
  const M200 = cfg(R80('metric: 200'));
  const T100 = cfg(R80('metric: 200, table: 100'));
  const BESIDE = cfg(R80('metric: 200, table: 100') + R81);
  const sb = new Sandbox('rta', NONE);
  before(() => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('h', ['route', 'add', '10.80.0.0/24', 'via', '10.9.0.2', 'metric', '100', 'proto', 'static']);
    sb.ip('h', ['route', 'add', '10.81.0.0/24', 'via', '10.9.0.2', 'metric', '100', 'proto', 'static']);
  });
  after(() => {
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
    dirs.remove();
  });

  /** The live routes to `to`, as `table:metric:protocol`. */
  const routes = (to = '10.80.0.0/24'): string[] =>
    (sb.ipj('h', ['route', 'show', 'table', 'all', to]) as { table?: string; metric?: number; protocol?: string }[]).map((r) => `${r.table ?? 'main'}:${r.metric ?? 0}:${r.protocol}`).sort();
  const apply = (config: string, args: string[] = [], env: Record<string, string> = {}) => sb.run(['apply', '--auto-approve', ...args], { config, env });
  const ownsRoute = () => Object.keys(sb.inventory().owned).filter((k) => k.startsWith('route:'));

  it('declared as it is: adopted, nothing to do', () => {
    const a = apply(M100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.doesNotMatch(a.stdout, /route h/);
    assert.deepEqual(routes(), ['main:100:static']);
  });

  it('its metric changed: moved, the new route made first with proto static, the old one deleted', () => {
    const p = sb.run(['plan', '-o', 'json'], { config: M200 });
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const changes = JSON.parse(p.stdout).changes as { action: string; label: string; reason: string; disruptive: boolean }[];
    assert.deepEqual(
      changes.map((c) => [c.action, c.label, c.disruptive]),
      [
        ['create', 'route h 10.80.0.0/24 metric 200', false],
        ['delete', 'route h 10.80.0.0/24 metric 100', false],
      ],
    );
    assert.match(changes[0]!.reason, /moves here .*keeping its protocol \(proto static\)/);
    assert.match(changes[1]!.reason, /deleted by its full spec, its protocol included, not released/);
    const a = apply(M200);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(routes(), ['main:200:static']);
    assert.deepEqual(ownsRoute(), []);
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: M200 }).code, 0, 'in sync');
  });

  it('failing between the two writes rolls back to exactly the old route', () => {
    const f = apply(T100, [], { VOLTRON_FAULT: 'step=2,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /Rollback complete/);
    assert.deepEqual(routes(), ['main:200:static']);
  });

  it('killed between the two writes, recover restores exactly the old route', () => {
    const pre = liveOracle(sb);
    const f = apply(T100, [], { VOLTRON_FAULT: 'step=1,kill=1' });
    assert.equal(f.code, -1, f.stdout + f.stderr);
    assert.deepEqual(routes(), ['100:200:static', 'main:200:static']);
    const r = sb.run(['recover']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(routes(), ['main:200:static']);
    assert.equal(liveOracle(sb), pre);
  });

  it('with --no-rollback, the next apply deletes the old route, by its protocol', () => {
    const f = apply(T100, ['--no-rollback'], { VOLTRON_FAULT: 'step=2,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.deepEqual(routes(), ['100:200:static', 'main:200:static']);
    const a = apply(T100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /already there \(a move interrupted after its create\)/);
    assert.deepEqual(routes(), ['100:200:static']);
    assert.deepEqual(ownsRoute(), []);
  });

  it('a route of another protocol the config never declared is not taken for the declared one', () => {
    const a = apply(BESIDE);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.doesNotMatch(a.stdout, /delete|moves here/);
    const r81 = routes('10.81.0.0/24');
    assert.equal(r81.length, 2, r81.join(' '));
    assert.equal(r81[0], 'main:100:static');
    assert.match(r81[1]!, /^main:200:(?!static)/);
    assert.deepEqual(routes(), ['100:200:static']);
  });

  it('left out of the config: released, not deleted', () => {
    const a = apply(NONE);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(routes(), ['100:200:static']);
    assert.equal(routes('10.81.0.0/24')[0], 'main:100:static');
  });
});
