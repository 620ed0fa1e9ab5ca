// Preloaded into a CLI run (NODE_OPTIONS=--require): records which of the config loader's
// heavy dependencies the process loads, into the file named by VOLTRON_LOAD_SPY_OUT.
import fs from 'node:fs';
import Module from 'node:module';

const WATCHED = new Set(['yaml', 'ajv']);
const seen = new Set<string>();
const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const load = mod._load;
mod._load = function (request: string, ...rest: unknown[]): unknown {
  if (WATCHED.has(request)) seen.add(request);
  return load.call(this, request, ...rest);
};
process.on('exit', () => fs.writeFileSync(process.env['VOLTRON_LOAD_SPY_OUT']!, JSON.stringify([...seen].sort())));
