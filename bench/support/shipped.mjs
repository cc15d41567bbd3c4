/**
 * `node --import tsx --import ./bench/support/shipped.mjs bench/run.ts <name>` (what
 * `npm run bench` runs): the benchmarks measure the library as it ships. Every module of `src/`
 * that a benchmark (or its test support) imports is loaded from the build in `dist/`
 * (`npm run build`, plain `tsc` output) instead of being compiled by tsx on the fly. tsx compiles
 * with esbuild's `keepNames`, which wraps every function a module creates in a call that defines
 * its `name` property: code that makes a closure per message pays that per message, and users of
 * the package never do (measured: 8 us more CPU per RPC round trip, both ends together).
 *
 * The benchmark files themselves still run under tsx. A module of `dist/` older than its source
 * is refused (build first), so a benchmark never measures stale code.
 *
 * This one file is both the `--import` entry (main thread: registers itself) and the hooks
 * module (loader thread: `resolve`).
 */
import { existsSync, statSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const root = new URL('../../', import.meta.url).href;
const src = `${root}src/`;
const dist = `${root}dist/`;

if (isMainThread) register(import.meta.url);

/** Node's module resolution hook: `src/**\/*.ts` resolves to `dist/**\/*.js`. */
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const url = resolved.url;
  if (!url.startsWith(src) || !url.endsWith('.ts')) return resolved;
  const built = `${dist}${url.slice(src.length, -3)}.js`;
  const builtPath = fileURLToPath(built);
  if (!existsSync(builtPath)) {
    throw new Error(`${builtPath} is missing: run \`npm run build\` before the benchmarks`);
  }
  if (statSync(builtPath).mtimeMs < statSync(fileURLToPath(url)).mtimeMs) {
    throw new Error(`${builtPath} is older than its source: run \`npm run build\` before the benchmarks`);
  }
  return { ...resolved, url: built, format: 'module' };
}
