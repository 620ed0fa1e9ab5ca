// Text that came from outside (config keys, kernel object names) printed to a terminal: control
// characters escaped, so a raw \r cannot overwrite a line and ESC cannot start a terminal sequence.
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const CONTROL = /[\x00-\x1f\x7f]/;
const CONTROLS = /[\x00-\x1f\x7f]/g;

export function visible(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`) : s;
}
