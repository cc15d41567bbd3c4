/**
 * Replaying a simulation: where its seed comes from and how a failure names it.
 * Tests honour `SIM_SEED=<n>`; bench and CLI runners take `--seed N`.
 */

/**
 * The seed for a simulation: `SIM_SEED` from the environment when set (to replay a failure),
 * otherwise `fallback`. Throws on a malformed `SIM_SEED` rather than silently running another seed.
 */
export function seedFromEnv(
  fallback: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): number {
  const raw = env.SIM_SEED;
  if (raw === undefined || raw === '') return fallback >>> 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new RangeError(`SIM_SEED must be a uint32, got ${raw}`);
  return n;
}

/** The value of `--seed N` in an argument list, or undefined. */
export function seedFromArgs(argv: readonly string[]): number | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    let raw: string | undefined;
    if (a === '--seed') raw = argv[i + 1];
    else if (a.startsWith('--seed=')) raw = a.slice('--seed='.length);
    else continue;
    const n = Number(raw);
    if (raw === undefined || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new RangeError(`--seed must be a uint32, got ${String(raw)}`);
    }
    return n;
  }
  return undefined;
}

/**
 * Runs `body(seed)`; if it throws, the error message is prefixed with the seed and the command
 * that replays it, so every failing simulation prints its seed.
 */
export function withSeed<T>(seed: number, body: (seed: number) => T): T {
  try {
    return body(seed);
  } catch (err) {
    if (err instanceof Error) {
      err.message = `[sim seed=${seed}; replay with SIM_SEED=${seed}] ${err.message}`;
      throw err;
    }
    throw new Error(`[sim seed=${seed}; replay with SIM_SEED=${seed}] ${String(err)}`);
  }
}

/**
 * The seeds for a simulation test: the one in `SIM_SEED` when set (a replay), otherwise
 * `count` seeds derived from `base` (`SIM_SEEDS=<n>` overrides the count, for a long swarm run).
 */
export function simSeeds(
  base: number,
  count: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): number[] {
  if (env.SIM_SEED !== undefined && env.SIM_SEED !== '') return [seedFromEnv(0, env)];
  const many = env.SIM_SEEDS;
  if (many !== undefined && many !== '') {
    const n = Number(many);
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`SIM_SEEDS must be a positive integer, got ${many}`);
    count = n;
  }
  return Array.from({ length: count }, (_, i) => (base + i * 0x9e3779b1) >>> 0);
}
