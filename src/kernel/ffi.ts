// koffi, loaded without its package entry point when possible: that entry point first loads
// its installer's helpers (https, zlib, crypto; ~7 ms of every CLI start) only to pick the
// native module for this platform. We require that native module directly, check its version
// like koffi does, and fall back to the package entry point anywhere else.
import path from 'node:path';
import type * as Koffi from 'koffi';

type KoffiModule = typeof Koffi;

function loadKoffi(): { module: KoffiModule; path: string } {
  /* eslint-disable @typescript-eslint/no-var-requires */
  try {
    const triplet = `${process.platform}_${process.arch}`;
    const dir = path.dirname(require.resolve('koffi/package.json'));
    const pkg = require('koffi/package.json') as { version: string };
    const file = path.join(dir, 'build', 'koffi', triplet, 'koffi.node');
    const native = require(file) as KoffiModule & { version?: string };
    if (native.version === pkg.version) return { module: native, path: file };
  } catch {
    // not a prebuilt platform (or a musl libc): koffi's own loader finds the module
  }
  return { module: require('koffi') as KoffiModule, path: require.resolve('koffi') };
  /* eslint-enable @typescript-eslint/no-var-requires */
}

const loaded = loadKoffi();
export const koffi: KoffiModule = loaded.module;
/** What to require() for the same koffi in a worker thread. */
export const koffiPath: string = loaded.path;
