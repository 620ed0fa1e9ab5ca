'use strict';
// Load dist/voltron.js the way `require` would, but compiled with a V8 code cache when one is
// given (bin/voltron) or to be made (scripts/code-cache.js): both must compile the same script.
const path = require('node:path');
const fs = require('node:fs');
const vm = require('node:vm');
const Module = require('node:module');

function loadBundle(bundle, cachedData) {
  const script = new vm.Script(Module.wrap(fs.readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
  return { exports: mod.exports, script };
}

module.exports = { loadBundle };
