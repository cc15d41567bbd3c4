/**
 * Rules of the Erlang Reference Manual, "Processes" chapter, that the exit-signal table
 * (signals.test.ts) does not cover, as a table of scenarios on a real process table, plus the
 * ordering guarantee as a property:
 *
 * - "Signals": if an entity sends multiple signals to the same destination, the order is kept.
 * - "Monitors": DOWN `{'DOWN', Ref, process, Who, Reason}`; `noproc` at once for a process that
 *   does not exist; one DOWN per monitor; `demonitor` (with `flush`) stops it.
 * - "Process Aliases": messages through an inactive alias are dropped; the deactivation options.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { atom, atoms, type Pid, type Term, Tuple } from '../../src/term/types.ts';
import { type Probe, probe, setup, t } from './process-support.ts';

const a = atom;
const EXIT = a('EXIT');
const DOWN = a('DOWN');
const PROCESS = a('process');

type Row = readonly [rule: string, scenario: () => Promise<unknown>, expected: unknown];

/** All messages in `p`'s mailbox, oldest first, taken out. */
function drain(p: Probe): Term[] {
  const out: Term[] = [];
  for (let m = p.self.tryReceive(); m !== undefined; m = p.self.tryReceive()) out.push(m);
  return out;
}

const rows: Row[] = [
  [
    'Monitors: a monitored process that exits sends one DOWN with its exit reason',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const target = await probe(table);
      const ref = w.self.monitor(target.pid);
      table.exit(target.pid, a('boom'));
      return [drain(w), ref, target.pid];
    },
    'down(boom)',
  ],
  [
    'Monitors: two monitors of one process give two DOWN messages',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const target = await probe(table);
      w.self.monitor(target.pid);
      w.self.monitor(target.pid);
      table.exit(target.pid, a('boom'));
      return drain(w).length;
    },
    2,
  ],
  [
    'Monitors: monitoring a process that does not exist gives DOWN noproc at once',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const dead = await probe(table);
      table.exit(dead.pid, a('kill'));
      const ref = w.self.monitor(dead.pid);
      return [drain(w), ref, dead.pid];
    },
    'down(noproc)',
  ],
  [
    'Monitors: monitoring a free name gives DOWN noproc naming {Name, Node}',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const ref = w.self.monitor(a('nobody'));
      const [down] = drain(w) as Tuple[];
      return [down?.elements[1] === ref, down?.elements[3], down?.elements[4]];
    },
    [true, t(a('nobody'), a('ts@localhost')), atoms.noproc],
  ],
  [
    'Monitors: after demonitor no DOWN arrives',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const target = await probe(table);
      const ref = w.self.monitor(target.pid);
      w.self.demonitor(ref);
      table.exit(target.pid, a('boom'));
      return drain(w);
    },
    [],
  ],
  [
    'Monitors: demonitor with flush removes a DOWN that already arrived; without flush it stays',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const t1 = await probe(table);
      const t2 = await probe(table);
      const r1 = w.self.monitor(t1.pid);
      const r2 = w.self.monitor(t2.pid);
      table.exit(t1.pid, a('x'));
      table.exit(t2.pid, a('y'));
      w.self.demonitor(r1, { flush: true });
      w.self.demonitor(r2);
      return drain(w).map((m) => (m as Tuple).elements[4]);
    },
    [a('y')],
  ],
  [
    'Monitors: a monitor is one-way: the monitored process is not affected by the watcher dying',
    async () => {
      const { table } = setup();
      const w = await probe(table);
      const target = await probe(table);
      w.self.monitor(target.pid);
      table.exit(w.pid, a('boom'));
      return [table.isAlive(target.pid), table.info(target.pid)?.monitoredBy.length];
    },
    [true, 0],
  ],
  [
    'Aliases: a message through an active alias arrives; after unalias it is dropped',
    async () => {
      const { table } = setup();
      const p = await probe(table);
      const alias = p.self.alias();
      table.send(alias, 1);
      p.self.unalias(alias);
      table.send(alias, 2);
      return drain(p);
    },
    [1],
  ],
  [
    'Aliases: alias([reply]) is deactivated by the first message through it',
    async () => {
      const { table } = setup();
      const p = await probe(table);
      const alias = p.self.alias({ reply: true });
      table.send(alias, 1);
      table.send(alias, 2);
      return drain(p);
    },
    [1],
  ],
  [
    'Aliases: {alias, demonitor} lives until the DOWN; later messages are dropped',
    async () => {
      const { table } = setup();
      const p = await probe(table);
      const target = await probe(table);
      const ref = p.self.monitor(target.pid, { alias: 'demonitor' });
      table.send(ref, 1);
      table.send(ref, 2);
      table.exit(target.pid, a('bye'));
      table.send(ref, 3);
      return drain(p).map((m) => (m instanceof Tuple ? m.elements[4] : m));
    },
    [1, 2, a('bye')],
  ],
  [
    'Aliases: {alias, reply_demonitor}: the first message deactivates the alias and removes the monitor',
    async () => {
      const { table } = setup();
      const p = await probe(table);
      const target = await probe(table);
      const ref = p.self.monitor(target.pid, { alias: 'reply_demonitor' });
      table.send(ref, 1);
      table.send(ref, 2);
      table.exit(target.pid, a('bye'));
      return drain(p);
    },
    [1],
  ],
  [
    'Aliases: only the process that created an alias can deactivate it',
    async () => {
      const { table } = setup();
      const owner = await probe(table);
      const other = await probe(table);
      const alias = owner.self.alias();
      const done = other.self.unalias(alias);
      table.send(alias, 1);
      return [done, drain(owner)];
    },
    [false, [1]],
  ],
];

describe('the Reference Manual, "Processes": monitors and aliases', () => {
  it.each(rows)('%s', async (_rule, scenario, expected) => {
    const got = await scenario();
    if (expected === 'down(boom)' || expected === 'down(noproc)') {
      const [messages, ref, pid] = got as [Term[], Term, Pid];
      const reason = expected === 'down(boom)' ? a('boom') : atoms.noproc;
      expect(messages).toEqual([t(DOWN, ref, PROCESS, pid, reason)]);
      return;
    }
    expect(got).toEqual(expected);
  });
});

describe('the Reference Manual, "Processes": signal order', () => {
  type Op =
    | { kind: 'send'; n: number }
    | { kind: 'exit'; n: number }
    | { kind: 'exit_normal' }
    | { kind: 'relay'; n: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), n: fc.nat(1000) }),
    fc.record({ kind: fc.constant('exit' as const), n: fc.nat(1000) }),
    fc.record({ kind: fc.constant('exit_normal' as const) }),
    fc.record({ kind: fc.constant('relay' as const), n: fc.nat(1000) }),
  );

  it('property: signals from one sender reach a receiver in the order sent, messages and (trapped) exit signals alike', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const { table } = setup();
        const receiver = await probe(table, { trapExit: true });
        const sender = await probe(table);
        const expected: Term[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'send':
              sender.self.send(receiver.pid, o.n);
              expected.push(o.n);
              break;
            case 'exit':
              sender.self.sendExit(receiver.pid, t(a('r'), o.n));
              expected.push(t(EXIT, sender.pid, t(a('r'), o.n)));
              break;
            case 'exit_normal':
              sender.self.sendExit(receiver.pid, atoms.normal);
              expected.push(t(EXIT, sender.pid, atoms.normal));
              break;
            case 'relay': {
              // Another sender, whose exit reaches the receiver through a link while the table is
              // applying signals: it may interleave with the sender's, but never reorders them.
              const relay = await probe(table);
              relay.self.link(receiver.pid);
              table.exit(relay.pid, t(a('relay'), o.n));
              break;
            }
          }
        }
        const fromSender = drain(receiver).filter(
          (m) =>
            !(
              m instanceof Tuple &&
              m.elements[0] === EXIT &&
              (m.elements[2] as Tuple)?.elements?.[0] === a('relay')
            ),
        );
        expect(fromSender).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });
});
