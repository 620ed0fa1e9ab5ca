// Precompiles the config JSON Schema into a standalone ajv validator (dist/schema-validator.js),
// so the CLI does not compile the schema at every start (~120 ms). The schema's hash is
// embedded; src/config/schema.ts falls back to compiling when it is stale or missing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Ajv = require('ajv');
const standaloneCode = require('ajv/dist/standalone').default;

const root = path.resolve(__dirname, '..');
const schema = JSON.parse(fs.readFileSync(path.join(root, 'schema/voltron.schema.json'), 'utf8'));
const hash = crypto.createHash('sha256').update(JSON.stringify(schema)).digest('hex');
const ajv = new Ajv({ strict: true, allErrors: true, verbose: true, code: { source: true } });
const validate = ajv.compile(schema);
const code = `${standaloneCode(ajv, validate)}\nmodule.exports.schemaHash = ${JSON.stringify(hash)};\n`;
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist/schema-validator.js'), code);
