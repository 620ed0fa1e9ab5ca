// Real kernel: entering a namespace and leaving it puts the thread back where it was, also on
// the first entry of a process. The namespace to go back to was opened on the way back, so the
// first entry made the entered namespace "home": the process stayed in it (the host's own
// namespace, `null`, then meant that one: its sysctls read and written there, a watchdog spawned
// into it, a deleted namespace kept alive by our thread).
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';

const name = `${process.env.VOLTRON_TEST_NS_PREFIX ?? 'vt'}home${Math.random().toString(36).slice(2, 7)}`;
after(() => spawnSync('ip', ['netns', 'del', name]));

it('the first withNetns of a process returns to the namespace it started in', () => {
  execFileSync('ip', ['netns', 'add', name]);
  // A process of its own: this one may have opened its home already.
  const script = `
    const fs = require('node:fs');
    const { withNetns } = require(${JSON.stringify(path.resolve(__dirname, '../../src/kernel/netns.js'))});
    const here = () => fs.readlinkSync('/proc/thread-self/ns/net');
    const before = here();
    const inside = withNetns(${JSON.stringify(name)}, here);
    console.log(JSON.stringify({ before, inside, after: here(), again: withNetns(null, here) }));`;
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const r = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env })) as Record<string, string>;
  assert.notEqual(r.inside, r.before);
  assert.equal(r.after, r.before, 'the thread stayed in the namespace it entered');
  assert.equal(r.again, r.before);
});
