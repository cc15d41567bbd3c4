import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured figure, in the results format every benchmark writes. */
export interface ResultRow {
  readonly case: string;
  readonly impl: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** A unit ending in `/s` is better when higher; every other unit is better when lower. */
export function higherIsBetter(unit: string): boolean {
  return unit.endsWith('/s');
}

/**
 * Writes `bench/results/<name>.json` and prints a table with, for each row, its ratio to the
 * baseline impl of the same case and metric (`x` > 1 means better than the baseline, whatever
 * the unit's direction).
 */
export function writeResults(name: string, rows: readonly ResultRow[], baselineImpl: string): void {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ name, rows }, null, 2)}\n`);
  const lines: string[][] = [['case', 'metric', 'impl', 'value', 'unit', `vs ${baselineImpl}`]];
  for (const row of rows) {
    const base = rows.find(
      (r) => r.case === row.case && r.metric === row.metric && r.unit === row.unit && r.impl === baselineImpl,
    );
    let ratio = '';
    if (base !== undefined && base.value > 0 && row.value > 0) {
      const better = higherIsBetter(row.unit) ? row.value / base.value : base.value / row.value;
      ratio = `${better.toFixed(2)}x`;
    }
    lines.push([row.case, row.metric, row.impl, formatValue(row.value), row.unit, ratio]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  for (const l of lines) console.log(l.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
  console.log(`\nwrote ${file}`);
}

function formatValue(v: number): string {
  if (v >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toPrecision(4);
}
