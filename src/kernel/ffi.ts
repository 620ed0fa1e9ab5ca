// koffi, loaded without its package entry point when possible: that entry point first loads
// its installer's helpers (https, zlib, crypto; ~7 ms of every CLI start) only to pick the
// native module for this platform. We require that native module directly, check its version
// like koffi does, and fall back to the package entry point anywhere else.
import path from 'node:path';
import type * as Koffi from 'koffi';

type KoffiModule = typeof Koffi;

function loadKoffi(): KoffiModule {
  /* eslint-disable @typescript-eslint/no-var-requires */
  try {
    const triplet = `${process.platform}_${process.arch}`;
    const dir = path.dirname(require.resolve('koffi/package.json'));
    const pkg = require('koffi/package.json') as { version: string };
    const native = require(path.join(dir, 'build', 'koffi', triplet, 'koffi.node')) as KoffiModule & { version?: string };
    if (native.version === pkg.version) return native;
  } catch {
    // not a prebuilt platform (or a musl libc): koffi's own loader finds the module
  }
  return require('koffi') as KoffiModule;
  /* eslint-enable @typescript-eslint/no-var-requires */
}

export const koffi: KoffiModule = loadKoffi();
