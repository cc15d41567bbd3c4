/** Election configuration (config.ts): defaults, validation, voter sets. */
import { describe, expect, it } from 'vitest';
import {
  checkVoters,
  defaultElectionConfig,
  MAX_VOTERS,
  quorum,
  resolveElectionConfig,
  voterSetId,
} from '../../src/cluster/election/config.ts';
import { ElectionError } from '../../src/cluster/election/errors.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ElectionError);
    return (err as ElectionError).code;
  }
}

describe('resolveElectionConfig', () => {
  it('accepts the defaults: 150-300 ms timeouts, 50 ms heartbeats, 1% drift, pre-vote and check-quorum on', () => {
    expect(resolveElectionConfig()).toEqual({
      electionTimeoutMinMs: 150,
      electionTimeoutMaxMs: 300,
      heartbeatIntervalMs: 50,
      maxClockDriftRate: 0.01,
      preVote: true,
      checkQuorum: true,
    });
    expect(Object.isFrozen(defaultElectionConfig)).toBe(true);
  });

  it('overrides only what it is given', () => {
    expect(resolveElectionConfig({ preVote: false }).electionTimeoutMinMs).toBe(150);
  });

  it.each([
    [{ electionTimeoutMinMs: 0 }, /positive/],
    [{ electionTimeoutMinMs: Number.NaN }, /positive/],
    [{ electionTimeoutMaxMs: 150 }, /greater than/],
    [{ heartbeatIntervalMs: -1 }, /positive/],
    [{ heartbeatIntervalMs: 150 }, /less than electionTimeoutMinMs/],
    [{ maxClockDriftRate: -0.1 }, /\[0, 0.5\]/],
    [{ maxClockDriftRate: 0.6 }, /\[0, 0.5\]/],
  ])('refuses %j', (partial, message) => {
    expect(() => resolveElectionConfig(partial)).toThrow(message);
    expect(codeOf(() => resolveElectionConfig(partial))).toBe('invalid-config');
  });
});

describe('voters', () => {
  it('quorum is a strict majority', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorum)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it('checkVoters sorts and refuses bad sets', () => {
    expect(checkVoters('b', ['c', 'a', 'b'])).toEqual(['a', 'b', 'c']);
    expect(codeOf(() => checkVoters('a', []))).toBe('invalid-config');
    expect(codeOf(() => checkVoters('a', ['a', 'a']))).toBe('invalid-config');
    expect(codeOf(() => checkVoters('a', ['b']))).toBe('invalid-config');
    expect(codeOf(() => checkVoters('a', ['a', '']))).toBe('invalid-config');
    const many = Array.from({ length: MAX_VOTERS + 1 }, (_, i) => `n${i}`);
    expect(codeOf(() => checkVoters('n0', many))).toBe('invalid-config');
  });

  it('voterSetId ignores order and tells sets apart', () => {
    expect(voterSetId(['a', 'b', 'c'])).toBe(voterSetId(['c', 'a', 'b']));
    expect(voterSetId(['a', 'b', 'c'])).not.toBe(voterSetId(['a', 'b']));
    expect(voterSetId(['ab', 'c'])).not.toBe(voterSetId(['a', 'bc']));
    expect(Number.isSafeInteger(voterSetId(['x']))).toBe(true);
  });
});
