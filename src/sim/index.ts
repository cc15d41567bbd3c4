/**
 * Deterministic simulation: a seeded PRNG, a virtual clock and event queue, and a packet
 * network with faults. One seed drives a whole run; a failing run prints its seed and
 * `SIM_SEED=<n>` (tests) or `--seed N` (bench and CLI runners) replays it.
 */
export type { Clock, Timers } from './clock.ts';
export { systemClock, systemTimers } from './clock.ts';
export type { NetworkOptions, NetworkStats } from './network.ts';
export { SimNetwork } from './network.ts';
export type { Rng } from './prng.ts';
export { Prng } from './prng.ts';
export { seedFromArgs, seedFromEnv, simSeeds, withSeed } from './replay.ts';
export type { SimEventKind, TimerHandle } from './scheduler.ts';
export { Scheduler } from './scheduler.ts';
export type { StallModel } from './stall.ts';
export { drawStallMs, meanStallMs, stallDutyCycle, stallRepeatedly } from './stall.ts';
