import type { Command } from '../main';
import { VERSION } from '../../util/version';

/** What `voltron version`, `voltron --version` and `-V` print. */
export const versionLine = (): string => `voltron ${VERSION}`;

export const versionCommand: Command = {
  name: 'version',
  summary: "Print Voltron's version (as --version and -V do)",
  usage: 'voltron version',
  options: [],
  globals: [],
  async run(ctx) {
    ctx.out(versionLine());
    return 0;
  },
};
