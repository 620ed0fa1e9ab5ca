// The JSON Schema of config files, without the validator (cheap to import).
import schemaJson from '../../schema/voltron.schema.json';

export const CONFIG_SCHEMA: object = schemaJson;

let json: string | undefined;
/** CONFIG_SCHEMA as JSON text (computed once): the cache stamp and the validator check use it. */
export function configSchemaJson(): string {
  return (json ??= JSON.stringify(CONFIG_SCHEMA));
}
