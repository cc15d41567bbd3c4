/** Checking election messages from the network (messages.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ElectionError } from '../../src/cluster/election/errors.ts';
import { MAX_NODE_ID_LENGTH, parseElectionMessage } from '../../src/cluster/election/messages.ts';

const base = { from: 'a', to: 'b', term: 3, voterSet: 42 };

describe('parseElectionMessage', () => {
  it.each([
    { type: 'PreVote', ...base },
    { type: 'RequestVote', ...base },
    { type: 'PreVoteResponse', ...base, granted: true },
    { type: 'RequestVoteResponse', ...base, granted: false },
    { type: 'Heartbeat', ...base, sentAt: 12.5 },
    { type: 'HeartbeatResponse', ...base, sentAt: 12.5, ok: true },
  ])('accepts $type', (m) => {
    expect(parseElectionMessage(m)).toEqual(m);
  });

  it('keeps only the known fields', () => {
    expect(parseElectionMessage({ type: 'PreVote', ...base, extra: 'x' })).toEqual({
      type: 'PreVote',
      ...base,
    });
  });

  it.each([
    ['null', null],
    ['a string', 'PreVote'],
    ['an unknown type', { type: 'AppendEntries', ...base }],
    ['a negative term', { type: 'PreVote', ...base, term: -1 }],
    ['a fractional term', { type: 'PreVote', ...base, term: 1.5 }],
    ['a huge term', { type: 'PreVote', ...base, term: 2 ** 60 }],
    ['an empty from', { type: 'PreVote', ...base, from: '' }],
    ['a long to', { type: 'PreVote', ...base, to: 'x'.repeat(MAX_NODE_ID_LENGTH + 1) }],
    ['a missing voterSet', { type: 'PreVote', from: 'a', to: 'b', term: 1 }],
    ['a non-boolean granted', { type: 'RequestVoteResponse', ...base, granted: 1 }],
    ['an infinite sentAt', { type: 'Heartbeat', ...base, sentAt: Number.POSITIVE_INFINITY }],
    ['a missing ok', { type: 'HeartbeatResponse', ...base, sentAt: 1 }],
  ])('refuses %s with invalid-message', (_why, value) => {
    let caught: unknown;
    try {
      parseElectionMessage(value);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ElectionError);
    expect((caught as ElectionError).code).toBe('invalid-message');
    expect((caught as ElectionError).message).toMatch(/^invalid election message: /);
  });

  it('never throws anything but ElectionError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        try {
          parseElectionMessage(value);
        } catch (err) {
          return err instanceof ElectionError && err.code === 'invalid-message';
        }
        return true;
      }),
    );
  });
});
