// Voltron's version, from package.json (the bundle inlines it: no file read at start-up).
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const VERSION: string = (require('../../../package.json') as { version: string }).version;
