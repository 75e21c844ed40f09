// Bundles redux-token-auth 0.19.0 with its dependencies into build/redux-token-auth.js (an IIFE
// the page loads as /build/redux-token-auth.js), as docs/clients.md §9.2 does it:
//   esbuild --bundle --format=iife --define:process.env.NODE_ENV='"production"'
// redux-token-auth.test.mjs awaits this before its environment starts; it also runs on its own:
//   node tests/e2e/build-redux-token-auth.mjs

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ENTRY = path.join(HERE, 'redux-token-auth.entry.js');
export const OUTFILE = path.join(HERE, 'build', 'redux-token-auth.js');

export async function buildReduxTokenAuth() {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: OUTFILE,
    absWorkingDir: HERE,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
    metafile: true,
  });
  if (result.errors.length) throw new Error(`esbuild: ${JSON.stringify(result.errors)}`);
  // The library must configure the axios the page uses: exactly one axios in the bundle.
  const axiosCopies = Object.keys(result.metafile.inputs).filter((f) => /(^|\/)axios\/lib\/axios\.js$/.test(f));
  if (axiosCopies.length !== 1) throw new Error(`expected one axios in the bundle, found ${axiosCopies.join(', ') || 'none'}`);
  return { outfile: OUTFILE, inputs: Object.keys(result.metafile.inputs) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outfile, inputs } = await buildReduxTokenAuth();
  console.log(`${path.relative(process.cwd(), outfile)}: ${inputs.length} modules`);
}
