import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALIAS_SEND,
  ControlError,
  type ControlMessage,
  decodeControl,
  EXIT,
  EXIT2_TT,
  hasPayload,
  MONITOR_P_EXIT,
  PAYLOAD_EXIT,
  PAYLOAD_EXIT2,
  PAYLOAD_MONITOR_P_EXIT,
  REG_SEND,
  SEND,
  SEND_SENDER,
  SEND_SENDER_TT,
  SPAWN_REPLY,
  SPAWN_REQUEST,
  UNLINK_ID,
  UNLINK_ID_ACK,
  writeControl,
} from '../../src/dist/control.ts';
import { decode, TermReader, TermWriter } from '../../src/term/index.ts';
import { atom, atoms, ImproperList, Pid, Reference, type Term, Tuple, tuple } from '../../src/term/types.ts';

const node = atom('a@127.0.0.1');
const p1 = new Pid(node, 1, 0, 7);
const p2 = new Pid(atom('b@127.0.0.1'), 2, 0, 9);
const ref = new Reference(node, 7, [1, 2, 3]);

/** Encodes the control message as its control term and payload, then decodes both back. */
function roundTrip(msg: ControlMessage): { control: Term; payload: Term | undefined; back: ControlMessage } {
  const w = new TermWriter();
  const payload = writeControl(w, msg);
  const r = new TermReader();
  const bytes = Buffer.from(w.view());
  r.reset(bytes, 0);
  const control = r.readTerm();
  expect(r.offset).toBe(bytes.length);
  return { control, payload, back: decodeControl(control, payload) };
}

describe('control messages', () => {
  const cases: ControlMessage[] = [
    { kind: 'link', from: p1, to: p2 },
    { kind: 'send', op: SEND, from: undefined, to: p2, message: 'hi' },
    { kind: 'send', op: SEND_SENDER, from: p1, to: p2, message: [1, 2] },
    { kind: 'send', op: SEND_SENDER_TT, from: p1, to: p2, message: 1, token: atom('tok') },
    { kind: 'reg_send', op: REG_SEND, from: p1, to: atom('rex'), message: tuple(atom('x')) },
    { kind: 'exit', op: EXIT, from: p1, to: p2, reason: atom('boom') },
    { kind: 'exit', op: PAYLOAD_EXIT, from: p1, to: p2, reason: atom('boom') },
    { kind: 'exit2', op: PAYLOAD_EXIT2, from: p1, to: p2, reason: atoms.kill },
    { kind: 'exit2', op: EXIT2_TT, from: p1, to: p2, reason: atoms.kill, token: 5 },
    { kind: 'unlink', from: p1, to: p2 },
    { kind: 'node_link' },
    { kind: 'group_leader', from: p1, to: p2 },
    { kind: 'monitor', from: p1, to: atom('net_kernel'), ref },
    { kind: 'demonitor', from: p1, to: p2, ref },
    { kind: 'monitor_exit', op: MONITOR_P_EXIT, from: atom('reg'), to: p2, ref, reason: atoms.noproc },
    { kind: 'monitor_exit', op: PAYLOAD_MONITOR_P_EXIT, from: p1, to: p2, ref, reason: atoms.normal },
    {
      kind: 'spawn_request',
      op: SPAWN_REQUEST,
      reqId: ref,
      from: p2,
      groupLeader: p2,
      module: atom('erpc'),
      function: atom('execute_call'),
      arity: 4,
      options: [atom('monitor')],
      args: [ref, atom('m'), atom('f'), []],
    },
    { kind: 'spawn_reply', op: SPAWN_REPLY, reqId: ref, to: p2, flags: 2, result: p1 },
    {
      kind: 'alias_send',
      op: ALIAS_SEND,
      from: p1,
      alias: ref,
      message: tuple(new ImproperList([atom('alias')], ref), atom('yes')),
    },
    { kind: 'unlink_id', id: 4, from: p1, to: p2 },
    { kind: 'unlink_id_ack', id: 2n ** 63n, from: p1, to: p2 },
  ];

  for (const msg of cases) {
    const label = 'op' in msg ? `${msg.kind}/${msg.op}` : msg.kind;
    it(`round-trips ${label}`, () => {
      const { payload, back } = roundTrip(msg);
      expect(back).toEqual(msg);
      expect(payload !== undefined).toBe(hasPayload('op' in msg ? msg.op : -1));
    });
  }

  it('writes the BEAM shapes: SEND has an empty atom, REG_SEND too', () => {
    const send = roundTrip({ kind: 'send', op: SEND, from: undefined, to: p2, message: 1 }).control as Tuple;
    expect(send.elements).toEqual([SEND, atoms.empty, p2]);
    const reg = roundTrip({ kind: 'reg_send', op: REG_SEND, from: p1, to: atom('x'), message: 1 })
      .control as Tuple;
    expect(reg.elements).toEqual([REG_SEND, p1, atoms.empty, atom('x')]);
  });

  it('decodes a control tuple the BEAM encoded', () => {
    // term_to_binary({35, 4, Pid, Pid}) for pids on 'a@127.0.0.1' (NEW_PID_EXT), as erl prints it.
    const pidBytes = '58770b61403132372e302e302e310000000100000000 00000007'.replace(/ /g, '');
    const hex = `836804 6123 6104 ${pidBytes} ${pidBytes}`.replace(/ /g, '');
    const t = decode(Buffer.from(hex, 'hex'));
    expect(decodeControl(t, undefined)).toEqual({ kind: 'unlink_id', id: 4, from: p1, to: p1 });
  });

  it('rejects what is not a control tuple', () => {
    for (const bad of [atom('x'), tuple(), tuple(atom('x')), [1]] as Term[]) {
      expect(() => decodeControl(bad, undefined)).toThrow(ControlError);
      try {
        decodeControl(bad, undefined);
      } catch (e) {
        expect((e as ControlError).code).toBe('bad_control');
      }
    }
  });

  it('rejects unknown operations', () => {
    let err: ControlError | undefined;
    try {
      decodeControl(tuple(99, p1), undefined);
    } catch (e) {
      err = e as ControlError;
    }
    expect(err?.code).toBe('unknown_op');
    expect(err?.op).toBe(99);
    expect(err?.message).toBe('unknown control message 99');
  });

  it('rejects bad element types, arities and payload mismatches', () => {
    const bad: Array<[Term, Term | undefined]> = [
      [tuple(1, p1), undefined], // arity
      [tuple(1, p1, atom('x')), undefined], // to not a pid
      [tuple(SEND_SENDER, p1, p2), undefined], // payload missing
      [tuple(1, p1, p2), 1], // payload where none belongs
      [tuple(19, p1, 5, ref), undefined], // monitor target
      [tuple(UNLINK_ID, 0, p1, p2), undefined], // id 0
      [tuple(UNLINK_ID_ACK, -1, p1, p2), undefined],
      [tuple(SPAWN_REQUEST, ref, p1, p1, tuple(atom('m'), atom('f')), []), []],
      [tuple(SPAWN_REQUEST, ref, p1, p1, tuple(atom('m'), atom('f'), 1), atom('x')), []],
      [tuple(SPAWN_REQUEST, ref, p1, p1, tuple(atom('m'), atom('f'), 1), []), atom('notalist')],
      [tuple(SPAWN_REPLY, ref, p1, -1, p1), undefined],
      [tuple(ALIAS_SEND, p1, p2), 1],
    ];
    for (const [c, p] of bad) {
      let err: ControlError | undefined;
      try {
        decodeControl(c, p);
      } catch (e) {
        err = e as ControlError;
      }
      expect(err, String(c)).toBeInstanceOf(ControlError);
      expect(err?.code).toBe('malformed_control');
    }
  });

  it('accepts SEND with any placeholder, as the BEAM does', () => {
    expect(decodeControl(tuple(SEND, atom('whatever'), p2), 1)).toMatchObject({ kind: 'send', to: p2 });
  });

  it('throws only ControlError on arbitrary control tuples', () => {
    const term: fc.Arbitrary<Term> = fc.letrec<{ t: Term }>((tie) => ({
      t: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: -2, max: 40 }),
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
        fc.constantFrom<Term>(p1, p2, ref, atom('x'), atoms.empty, Buffer.from('b'), []),
        fc.array(tie('t'), { maxLength: 3 }),
        fc.array(tie('t'), { maxLength: 7 }).map((xs) => new Tuple(xs)),
      ),
    })).t;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.array(term, { maxLength: 7 }),
        fc.option(term),
        (op, rest, payload) => {
          try {
            decodeControl(new Tuple([op, ...rest]), payload ?? undefined);
          } catch (e) {
            expect(e).toBeInstanceOf(ControlError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
