// Precompiles the config JSON Schema into a standalone ajv validator (dist/schema-validator.js),
// so the CLI does not compile the schema at every start (~120 ms). The schema itself is
// embedded; src/config/schema.ts falls back to compiling when it is stale or missing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv');
const standaloneCode = require('ajv/dist/standalone').default;

const root = path.resolve(__dirname, '..');
const schema = JSON.parse(fs.readFileSync(path.join(root, 'schema/voltron.schema.json'), 'utf8'));
const ajv = new Ajv({ strict: true, allErrors: true, verbose: true, code: { source: true } });
const validate = ajv.compile(schema);
// ajv's standalone code requires its runtime helper for minLength/maxLength: inlined (the same
// function's source), so loading the validator resolves no module (~3-5 ms of every CLI run).
const ucs2 = 'require("ajv/dist/runtime/ucs2length").default';
const standalone = standaloneCode(ajv, validate).split(ucs2).join(`(${require('ajv/dist/runtime/ucs2length').default.toString()})`);
const code = `${standalone}\nmodule.exports.schemaJson = ${JSON.stringify(JSON.stringify(schema))};\n`;
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist/schema-validator.js'), code);
