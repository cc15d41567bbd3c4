import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  downMessage,
  type ExitSignalFacts,
  exitMessage,
  exitSignalAction,
  isDownFor,
  pidKey,
  refKey,
  samePid,
  sameRef,
} from '../../src/node/signals.ts';
import { atom, atoms, Pid, Reference, type Term, Tuple } from '../../src/term/types.ts';

const boom = atom('boom');

/**
 * "Receiving Exit Signals" (Erlang Reference Manual, Processes), one row per sentence.
 * Columns: reason, link flag, link active, trap_exit, sender is receiver => outcome.
 */
const table: [string, ExitSignalFacts, ReturnType<typeof exitSignalAction>][] = [
  // "The exit signal is silently dropped if: the link flag is set and the corresponding link has been deactivated"
  ['link, inactive link, boom', f(boom, true, false, false, false), { action: 'drop' }],
  ['link, inactive link, trapping', f(boom, true, false, true, false), { action: 'drop' }],
  ['link, inactive link, kill', f(atoms.kill, true, false, false, false), { action: 'drop' }],
  // "... the exit reason is normal, the receiver is not trapping exits, and receiver and sender differ"
  [
    'exit/2 normal from another, not trapping',
    f(atoms.normal, false, false, false, false),
    { action: 'drop' },
  ],
  ['link normal, not trapping', f(atoms.normal, true, true, false, false), { action: 'drop' }],
  // "terminated if the link flag is not set and the reason is kill: reason killed"
  [
    'exit/2 kill, not trapping',
    f(atoms.kill, false, false, false, false),
    { action: 'terminate', reason: atoms.killed },
  ],
  [
    'exit/2 kill, trapping',
    f(atoms.kill, false, false, true, false),
    { action: 'terminate', reason: atoms.killed },
  ],
  [
    'exit/2 kill to self',
    f(atoms.kill, false, false, true, true),
    { action: 'terminate', reason: atoms.killed },
  ],
  // "terminated if not trapping and the reason is not normal (link: only if active); kill via link stays kill"
  ['exit/2 boom, not trapping', f(boom, false, false, false, false), { action: 'terminate', reason: boom }],
  [
    'link boom, active, not trapping',
    f(boom, true, true, false, false),
    { action: 'terminate', reason: boom },
  ],
  [
    'link kill, active, not trapping',
    f(atoms.kill, true, true, false, false),
    { action: 'terminate', reason: atoms.kill },
  ],
  [
    'link killed, active, not trapping',
    f(atoms.killed, true, true, false, false),
    {
      action: 'terminate',
      reason: atoms.killed,
    },
  ],
  // "terminated if the reason is normal and the sender is the receiver (exit(self(), normal))"
  [
    'exit/2 normal to self, not trapping',
    f(atoms.normal, false, false, false, true),
    {
      action: 'terminate',
      reason: atoms.normal,
    },
  ],
  // "converted to a message if trapping and: link flag not set and reason not kill; or link set and active"
  ['exit/2 boom, trapping', f(boom, false, false, true, false), { action: 'message' }],
  ['exit/2 normal from another, trapping', f(atoms.normal, false, false, true, false), { action: 'message' }],
  ['exit/2 normal to self, trapping', f(atoms.normal, false, false, true, true), { action: 'message' }],
  ['link boom, active, trapping', f(boom, true, true, true, false), { action: 'message' }],
  ['link normal, active, trapping', f(atoms.normal, true, true, true, false), { action: 'message' }],
  [
    'link kill, active, trapping (not converted)',
    f(atoms.kill, true, true, true, false),
    { action: 'message' },
  ],
];

function f(
  reason: Term,
  link: boolean,
  linkActive: boolean,
  trapExit: boolean,
  fromSelf: boolean,
): ExitSignalFacts {
  return { reason, link, linkActive, trapExit, fromSelf };
}

describe('exitSignalAction: the Reference Manual rules', () => {
  it.each(table)('%s', (_name, facts, outcome) => {
    expect(exitSignalAction(facts)).toEqual(outcome);
  });

  const reasons = fc.constantFrom<Term>(
    atoms.normal,
    atoms.kill,
    atoms.killed,
    boom,
    new Tuple([boom, 1]),
    'text',
  );
  const facts = fc.record({
    reason: reasons,
    link: fc.boolean(),
    linkActive: fc.boolean(),
    trapExit: fc.boolean(),
    fromSelf: fc.boolean(),
  });

  it('property: the outcome is one of drop, message, terminate, decided as the manual says', () => {
    fc.assert(
      fc.property(facts, (x) => {
        const out = exitSignalAction(x);
        const untrappableKill = !x.link && x.reason === atoms.kill;
        if (x.link && !x.linkActive) return out.action === 'drop';
        if (untrappableKill) return out.action === 'terminate' && out.reason === atoms.killed;
        if (x.trapExit) return out.action === 'message';
        if (x.reason === atoms.normal) {
          return x.fromSelf && !x.link
            ? out.action === 'terminate' && out.reason === atoms.normal
            : out.action === 'drop';
        }
        return out.action === 'terminate' && out.reason === x.reason;
      }),
    );
  });

  it('property: a trapping process is never terminated except by exit/2 kill', () => {
    fc.assert(
      fc.property(facts, (x) => {
        const out = exitSignalAction({ ...x, trapExit: true });
        return out.action !== 'terminate' || (!x.link && x.reason === atoms.kill);
      }),
    );
  });

  it('property: killed is only ever produced from an exit/2 kill or carried as is', () => {
    fc.assert(
      fc.property(facts, (x) => {
        const out = exitSignalAction(x);
        if (out.action !== 'terminate' || out.reason !== atoms.killed) return true;
        return (!x.link && x.reason === atoms.kill) || x.reason === atoms.killed;
      }),
    );
  });
});

describe('identity helpers', () => {
  const node = fc.constantFrom(atom('a@h'), atom('b@h'));
  const pid = fc
    .tuple(
      node,
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 2 }),
    )
    .map(([n, id, serial, creation]) => new Pid(n, id, serial, creation));
  const ref = fc
    .tuple(
      node,
      fc.integer({ min: 0, max: 2 }),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }),
    )
    .map(([n, creation, ids]) => new Reference(n, creation, ids));

  it('property: pidKey equality is samePid', () => {
    fc.assert(fc.property(pid, pid, (a, b) => (pidKey(a) === pidKey(b)) === samePid(a, b)));
  });

  it('property: refKey equality is sameRef', () => {
    fc.assert(fc.property(ref, ref, (a, b) => (refKey(a) === refKey(b)) === sameRef(a, b)));
  });

  it('builds EXIT and DOWN messages; isDownFor matches {_, Ref, _, _, _} by value', () => {
    const p = new Pid(atom('a@h'), 1, 0, 1);
    const r = new Reference(atom('a@h'), 1, [1, 2, 3]);
    expect(exitMessage(p, boom)).toEqual(new Tuple([atom('EXIT'), p, boom]));
    const down = downMessage(r, p, boom);
    expect(down).toEqual(new Tuple([atom('DOWN'), r, atom('process'), p, boom]));
    expect(isDownFor(down, new Reference(atom('a@h'), 1, [1, 2, 3]))).toBe(true);
    expect(isDownFor(down, new Reference(atom('a@h'), 1, [1, 2, 4]))).toBe(false);
    expect(isDownFor(new Tuple([atom('DOWN'), r]), r)).toBe(false);
    expect(isDownFor('x', r)).toBe(false);
  });
});
