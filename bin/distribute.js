#!/usr/bin/env node
// The `distribute` command. Runs the built CLI (dist/) when there is one; otherwise the
// TypeScript sources through tsx (a devDependency), so `npx distribute` works right after
// `npm ci`, before any build.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
// Output to pipes and files is synchronous on Linux, so nothing written is lost by exiting here.
process.exit(await cli.main(process.argv.slice(2)));
