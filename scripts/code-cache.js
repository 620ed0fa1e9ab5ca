#!/usr/bin/env node
// Build V8's code cache for dist/voltron.js (used by bin/voltron): load the bundle exactly as
// bin/voltron does, run a read-only workload in this process (validate and plan every example
// into a sandbox prefix that exists nowhere: no namespace is created or read, no kernel
// write), then save the compiled code of everything that ran. A stale or foreign cache is
// rejected by V8 and only costs the compile it would have saved.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadBundle } = require('../bin/load-bundle.js');

const root = path.resolve(__dirname, '..');
const bundle = path.join(root, 'dist', 'voltron.js');
const cacheFile = `${bundle}.cache`;

async function main() {
  fs.rmSync(cacheFile, { force: true });
  const { exports: cli, script } = loadBundle(bundle);
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-codecache-'));
  const prefix = `vcc${process.pid}x`;
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = () => true;
  process.stderr.write = () => true;
  try {
    for (const ex of fs.readdirSync(path.join(root, 'examples')).sort()) {
      const dir = path.join(root, 'examples', ex);
      if (!fs.statSync(dir).isDirectory()) continue;
      await cli.main(['validate', '-c', dir, '--state-dir', state]);
      await cli.main(['plan', '-c', dir, '--sandbox', prefix, '--state-dir', state, '-o', 'text', '--no-color']);
    }
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    fs.rmSync(state, { recursive: true, force: true });
  }
  const data = script.createCachedData();
  fs.writeFileSync(cacheFile, data);
  process.stdout.write(`code cache: ${(data.length / 1024).toFixed(0)} KiB\n`);
}

main().catch((e) => {
  process.stderr.write(`code-cache: ${e.stack || e}\n`);
  process.exit(1);
});
