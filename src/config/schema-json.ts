// The JSON Schema of config files, without the validator (cheap to import).
import schemaJson from '../../schema/voltron.schema.json';

export const CONFIG_SCHEMA: object = schemaJson;
