// Where the build output lives, wherever this code runs from: as separate modules
// (dist/src/**) or as the single-file bundle the CLI loads (dist/voltron.js).
import fs from 'node:fs';
import path from 'node:path';

let dist: string | undefined;

/** The package's `dist` directory (compiled BPF objects, the watchdog's module). */
export function distDir(): string {
  if (dist) return dist;
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (path.basename(d) === 'dist' && fs.existsSync(path.join(d, '..', 'package.json'))) return (dist = d);
    if (path.dirname(d) === d) throw new Error(`cannot find Voltron's dist directory above ${__dirname}`);
  }
}
