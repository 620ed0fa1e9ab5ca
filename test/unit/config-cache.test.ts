// The config cache: a hit returns what loading would, and a changed config never hits a stale
// entry — even when the cheap, sampled cache key collides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config';
import { configCacheKey } from '../../src/config/cache';
import type { LinkRes } from '../../src/model/types';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cache-'));
}

/** A config of `n` bridges, bridge `k` with MTU `mtu` (other bridges 1500). */
function bridges(n: number, k: number, mtu: number): string {
  const lines = ['links:'];
  for (let i = 0; i < n; i++) lines.push(`  - { name: br${i}, type: bridge, mtu: ${i === k ? mtu : 1500} }`);
  return `${lines.join('\n')}\n`;
}

function mtuOf(dir: string, cacheDir: string, name: string, host = 'h1'): number | undefined {
  const r = loadConfig({ dir, cacheDir, host });
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join('\n'));
  return (r.desired.resources.get(`link:/${name}`) as LinkRes | undefined)?.mtu;
}

const cacheFiles = (cacheDir: string): string[] => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((n) => n.startsWith('config-')) : []);

test('a hit is served from the cache file; a miss loads and writes one', () => {
  const dir = tmp();
  const cacheDir = path.join(dir, '.cache');
  try {
    fs.writeFileSync(path.join(dir, 'net.yaml'), bridges(3, 1, 9000));
    assert.equal(mtuOf(dir, cacheDir, 'br1'), 9000);
    const [file] = cacheFiles(cacheDir);
    assert.ok(file, 'a cache file was written');
    // Doctor the cached model: a hit must return it (proving the hit path is taken).
    const p = path.join(cacheDir, file);
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace('"mtu":9000', '"mtu":4242'));
    assert.equal(mtuOf(dir, cacheDir, 'br1'), 4242);
    // Another host (another overlay could apply) does not hit it.
    assert.equal(mtuOf(dir, cacheDir, 'br1', 'h2'), 9000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an edit the sampled key cannot see still misses (contents are compared exactly)', () => {
  const dir = tmp();
  const cacheDir = path.join(dir, '.cache');
  try {
    // 400 bridges (~20 KB): the key samples about one character in twenty.
    const n = 400;
    const before = bridges(n, -1, 0);
    // Find a bridge whose MTU digits the sample skips: 1500 → 9000 keeps the length.
    let k = -1;
    for (let i = 0; i < n && k < 0; i++) {
      const after = bridges(n, i, 9000);
      if (configCacheKey('h1', [{ name: 'n.yaml', text: before }], dir) === configCacheKey('h1', [{ name: 'n.yaml', text: after }], dir)) k = i;
    }
    assert.ok(k >= 0, 'some same-length edit collides in the sampled key');
    const f = path.join(dir, 'n.yaml');
    fs.writeFileSync(f, before);
    assert.equal(mtuOf(dir, cacheDir, `br${k}`), 1500);
    fs.writeFileSync(f, bridges(n, k, 9000));
    assert.equal(mtuOf(dir, cacheDir, `br${k}`), 9000);
    fs.writeFileSync(f, before);
    assert.equal(mtuOf(dir, cacheDir, `br${k}`), 1500);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an entry written by another build of the loader is not trusted (same version, other code)', () => {
  const dir = tmp();
  const cacheDir = path.join(dir, '.cache');
  try {
    fs.writeFileSync(path.join(dir, 'net.yaml'), bridges(3, 1, 9000));
    assert.equal(mtuOf(dir, cacheDir, 'br1'), 9000);
    const p = path.join(cacheDir, cacheFiles(cacheDir)[0]!);
    const entry = JSON.parse(fs.readFileSync(p, 'utf8')) as { stamp: string };
    const [version, build, ...rest] = JSON.parse(entry.stamp.slice(0, entry.stamp.indexOf(']') + 1)) as string[];
    assert.match(build ?? '', /^[0-9.]+:[0-9]+$/, 'the stamp names the build (mtime:size of the loader)');
    assert.equal(rest[0], 'h1');
    const doctored = fs.readFileSync(p, 'utf8').replace('"mtu":9000', '"mtu":4242');
    fs.writeFileSync(p, doctored);
    assert.equal(mtuOf(dir, cacheDir, 'br1'), 4242, 'same build: a hit');
    const otherBuild = JSON.stringify([version, 'another-build', ...rest]);
    fs.writeFileSync(p, doctored.replace(JSON.stringify(entry.stamp.slice(0, entry.stamp.indexOf(']') + 1)).slice(1, -1), JSON.stringify(otherBuild).slice(1, -1)));
    assert.equal(mtuOf(dir, cacheDir, 'br1'), 9000, 'another build: loaded again');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
