/**
 * `npm run bench -- <name>` runs `bench/<name>.ts`, which measures, runs the BEAM (or the
 * named peer) in the same run, and writes `bench/results/<name>.json`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();
const name = process.argv[2];
if (name === undefined || !existsSync(join(here, `${name}.ts`))) {
  console.error(`usage: npm run bench -- <name>   (one of: ${available.join(', ')})`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(join(here, `${name}.ts`)).href)) as { main?: () => Promise<void> };
if (typeof mod.main !== 'function') throw new Error(`bench/${name}.ts exports no main()`);
await mod.main();
