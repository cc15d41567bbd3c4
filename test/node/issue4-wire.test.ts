/**
 * Process signals on the wire, checked frame by frame against a hand-driven peer (raw-peer.ts)
 * whose flags we choose: the PAYLOAD_* forms only when EXIT_PAYLOAD was negotiated and both forms
 * accepted always, ALIAS_SEND routed by reference, MONITOR_P for a missing process answered with
 * noproc, the new link protocol (UNLINK_ID / UNLINK_ID_ACK) and the old UNLINK, monitors by name,
 * noconnection for every link and monitor when the connection drops, and the gen_server call and
 * reply shapes with and without ALIAS (erlang-distribution.md §4 and §7).
 */

import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ALIAS_SEND,
  DEMONITOR_P,
  EXIT,
  EXIT2,
  LINK,
  MONITOR_P,
  MONITOR_P_EXIT,
  PAYLOAD_EXIT,
  PAYLOAD_EXIT2,
  PAYLOAD_MONITOR_P_EXIT,
  REG_SEND,
  SEND,
  SEND_SENDER,
  UNLINK,
  UNLINK_ID,
  UNLINK_ID_ACK,
} from '../../src/dist/control.ts';
import { DEFAULT_DFLAGS, DFLAG_ALIAS, DFLAG_EXIT_PAYLOAD, DFLAG_UNLINK_ID } from '../../src/dist/flags.ts';
import { Node } from '../../src/node/node.ts';
import type { ProcessContext } from '../../src/node/process.ts';
import { atom, ImproperList, Pid, Reference, type Term, Tuple, tuple } from '../../src/term/index.ts';
import { inProcess, until } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { type RawMessage, type RawPeer, rawConnect } from '../support/raw-peer.ts';

const COOKIE = 'wire4';
const a = atom;
const boom = a('boom');
const EMPTY = a('');

describe('process signals on the wire', () => {
  let epmd: EpmdProcess;
  const nodes: Node[] = [];
  const sockets: Socket[] = [];
  let seq = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });
  afterAll(async () => {
    await epmd?.stop();
  });

  interface Rig {
    readonly node: Node;
    readonly peer: RawPeer;
    readonly peerName: string;
    /** A pid of the peer. */
    pid(id: number): Pid;
    ref(n: number): Reference;
    /** The next message the node sends with this operation (and predicate). */
    next(op: number, match?: (m: RawMessage) => boolean): Promise<RawMessage>;
  }

  async function rig(flags: bigint = DEFAULT_DFLAGS): Promise<Rig> {
    const node = await Node.start({
      name: `wire${++seq}@127.0.0.1`,
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
    });
    nodes.push(node);
    const peerName = `raw${seq}@127.0.0.1`;
    const peer = await rawConnect({
      port: node.port,
      name: peerName,
      cookie: COOKIE,
      peer: node.name,
      flags,
    });
    sockets.push(peer.socket);
    await until(() => node.nodes('connected').includes(peerName), 5000, 'connected');
    const peerAtom = a(peerName);
    return {
      node,
      peer,
      peerName,
      pid: (id) => new Pid(peerAtom, id, 0, 1),
      ref: (n) => new Reference(peerAtom, 1, [n, 0, 0]),
      next: (op, match = () => true) => peer.waitMessage((m) => opOf(m) === op && match(m)),
    };
  }

  function opOf(m: RawMessage): number {
    return (m.control as Tuple).elements[0] as number;
  }

  /** A TS process that waits for `go` and then exits with `reason`. */
  function exitsOnGo(node: Node, reason: Term, name?: string): Pid {
    return node.spawn(
      async (self) => {
        await self.receive({ match: (m) => m === a('go') });
        self.exit(reason);
      },
      name === undefined ? undefined : { name: a(name) },
    );
  }

  describe.each([
    ['EXIT_PAYLOAD negotiated', DEFAULT_DFLAGS, true],
    ['EXIT_PAYLOAD not negotiated', DEFAULT_DFLAGS & ~DFLAG_EXIT_PAYLOAD, false],
  ])('%s', (_name, flags, payload) => {
    it(`link exits go out as ${payload ? 'PAYLOAD_EXIT' : 'EXIT'}`, async () => {
      const r = await rig(flags);
      const p = exitsOnGo(r.node, boom);
      const remote = r.pid(10);
      r.peer.send(tuple(LINK, remote, p));
      await until(() => r.node.processes.info(p)?.links.length === 1, 5000, 'linked');
      r.node.send(p, a('go'));
      const m = await r.next(payload ? PAYLOAD_EXIT : EXIT);
      if (payload) {
        expect(m.control).toEqual(tuple(PAYLOAD_EXIT, p, remote));
        expect(m.payload).toBe(boom);
      } else {
        expect(m.control).toEqual(tuple(EXIT, p, remote, boom));
        expect(m.payload).toBeUndefined();
      }
    });

    it(`exit/2 goes out as ${payload ? 'PAYLOAD_EXIT2' : 'EXIT2'}, kill included`, async () => {
      const r = await rig(flags);
      const remote = r.pid(11);
      const sender = await inProcess(r.node, async (self) => {
        self.sendExit(remote, a('kill'));
        return self.pid;
      });
      const m = await r.next(payload ? PAYLOAD_EXIT2 : EXIT2);
      expect(m.control).toEqual(
        payload ? tuple(PAYLOAD_EXIT2, sender, remote) : tuple(EXIT2, sender, remote, a('kill')),
      );
      if (payload) expect(m.payload).toBe(a('kill'));
      // From outside any process: the node's <N.0.0> is the sender.
      r.node.processes.exit(remote, a('shutdown'));
      const isShutdown = (x: RawMessage): boolean =>
        (payload ? x.payload : (x.control as Tuple).elements[3]) === a('shutdown');
      const m2 = await r.next(payload ? PAYLOAD_EXIT2 : EXIT2, isShutdown);
      expect((m2.control as Tuple).elements[1]).toEqual(r.node.processes.systemPid);
    });

    it(`monitor exits go out as ${payload ? 'PAYLOAD_MONITOR_P_EXIT' : 'MONITOR_P_EXIT'}, with the name when monitored by name`, async () => {
      const r = await rig(flags);
      const byPid = exitsOnGo(r.node, boom);
      const byName = exitsOnGo(r.node, a('bye'), 'named_victim');
      const watcher = r.pid(12);
      r.peer.send(tuple(MONITOR_P, watcher, byPid, r.ref(1)));
      r.peer.send(tuple(MONITOR_P, watcher, a('named_victim'), r.ref(2)));
      await until(() => r.node.processes.info(byName)?.monitoredBy.length === 1, 5000, 'monitored');
      r.node.send(byPid, a('go'));
      r.node.send(byName, a('go'));
      const op = payload ? PAYLOAD_MONITOR_P_EXIT : MONITOR_P_EXIT;
      const first = await r.next(
        op,
        (m) =>
          (m.control as Tuple).elements[3] instanceof Reference &&
          ((m.control as Tuple).elements[3] as Reference).ids[0] === 1,
      );
      const second = await r.next(op, (m) => ((m.control as Tuple).elements[3] as Reference).ids[0] === 2);
      if (payload) {
        expect(first.control).toEqual(tuple(op, byPid, watcher, r.ref(1)));
        expect(first.payload).toBe(boom);
        expect(second.control).toEqual(tuple(op, a('named_victim'), watcher, r.ref(2)));
        expect(second.payload).toBe(a('bye'));
      } else {
        expect(first.control).toEqual(tuple(op, byPid, watcher, r.ref(1), boom));
        expect(second.control).toEqual(tuple(op, a('named_victim'), watcher, r.ref(2), a('bye')));
      }
    });

    it('a MONITOR_P for a missing name or pid, and a LINK to a missing pid, are answered with noproc', async () => {
      const r = await rig(flags);
      const watcher = r.pid(13);
      const gone = exitsOnGo(r.node, a('normal'));
      const w = await inProcess(r.node, async (self) => {
        const ref = self.monitor(gone);
        self.send(gone, a('go'));
        return self.receive({ match: (m) => m instanceof Tuple && m.elements[1] === ref });
      });
      expect((w as Tuple).elements[4]).toBe(a('normal'));
      r.peer.send(tuple(MONITOR_P, watcher, a('nonexisting'), r.ref(3)));
      r.peer.send(tuple(MONITOR_P, watcher, gone, r.ref(4)));
      r.peer.send(tuple(LINK, watcher, gone));
      const mop = payload ? PAYLOAD_MONITOR_P_EXIT : MONITOR_P_EXIT;
      const byName = await r.next(mop, (m) => (m.control as Tuple).elements[1] === a('nonexisting'));
      const byPid = await r.next(mop, (m) => (m.control as Tuple).elements[1] instanceof Pid);
      const link = await r.next(payload ? PAYLOAD_EXIT : EXIT);
      if (payload) {
        expect([byName.control, byName.payload]).toEqual([
          tuple(mop, a('nonexisting'), watcher, r.ref(3)),
          a('noproc'),
        ]);
        expect([byPid.control, byPid.payload]).toEqual([tuple(mop, gone, watcher, r.ref(4)), a('noproc')]);
        expect([link.control, link.payload]).toEqual([tuple(PAYLOAD_EXIT, gone, watcher), a('noproc')]);
      } else {
        expect(byName.control).toEqual(tuple(mop, a('nonexisting'), watcher, r.ref(3), a('noproc')));
        expect(byPid.control).toEqual(tuple(mop, gone, watcher, r.ref(4), a('noproc')));
        expect(link.control).toEqual(tuple(EXIT, gone, watcher, a('noproc')));
      }
    });

    it('both forms are accepted: EXIT and PAYLOAD_EXIT, EXIT2 and PAYLOAD_EXIT2, MONITOR_P_EXIT and PAYLOAD_MONITOR_P_EXIT', async () => {
      const r = await rig(flags);
      const remote = r.pid(14);
      const got: Term[] = [];
      const p = r.node.spawn(async (self) => {
        self.trapExit(true);
        self.link(remote);
        const m1 = self.monitor(remote);
        const m2 = self.monitor([a('svc'), a(r.peerName)]);
        self.send(remote, tuple(a('refs'), m1, m2));
        for (;;) got.push(await self.receive());
      });
      const refs = await r.next(SEND_SENDER);
      const [, m1, m2] = (refs.payload as Tuple).elements as [Term, Reference, Reference];
      await r.next(LINK);
      r.peer.send(tuple(EXIT, remote, p, a('old_form')));
      r.peer.send(tuple(LINK, remote, p));
      r.peer.send(tuple(PAYLOAD_EXIT, remote, p), a('new_form'));
      r.peer.send(tuple(EXIT2, remote, p, a('old2')));
      r.peer.send(tuple(PAYLOAD_EXIT2, remote, p), a('new2'));
      r.peer.send(tuple(MONITOR_P_EXIT, remote, p, m1, a('down_old')));
      r.peer.send(tuple(PAYLOAD_MONITOR_P_EXIT, a('svc'), p, m2), a('down_new'));
      await until(() => got.length === 6, 5000, 'six signals');
      expect(got).toEqual([
        tuple(a('EXIT'), remote, a('old_form')),
        tuple(a('EXIT'), remote, a('new_form')),
        tuple(a('EXIT'), remote, a('old2')),
        tuple(a('EXIT'), remote, a('new2')),
        tuple(a('DOWN'), m1, a('process'), remote, a('down_old')),
        tuple(a('DOWN'), m2, a('process'), tuple(a('svc'), a(r.peerName)), a('down_new')),
      ]);
      // And an untrapped one kills: exit/2 kill arrives as killed.
      const victim = r.node.spawn(async (self) => {
        await self.receive();
      });
      const watch = inProcess(r.node, async (self) => {
        const ref = self.monitor(victim);
        return ((await self.receive({ match: (m) => m instanceof Tuple && m.elements[1] === ref })) as Tuple)
          .elements[4];
      });
      r.peer.send(
        tuple(payload ? PAYLOAD_EXIT2 : EXIT2, remote, victim, ...(payload ? [] : [a('kill')])),
        ...(payload ? [a('kill')] : []),
      );
      expect(await watch).toBe(a('killed'));
    });
  });

  it('ALIAS_SEND is routed by reference to the alias owner, until the alias is deactivated', async () => {
    const r = await rig();
    const remote = r.pid(20);
    const got: Term[] = [];
    let alias!: Reference;
    const owner = r.node.spawn(async (self) => {
      alias = self.alias();
      self.send(remote, alias);
      for (;;) {
        const m = await self.receive();
        got.push(m);
        if (m === a('unalias')) {
          self.unalias(alias);
          self.send(remote, a('unaliased'));
        }
      }
    });
    await r.next(SEND_SENDER);
    r.peer.send(tuple(ALIAS_SEND, remote, alias), a('via_alias'));
    r.peer.send(tuple(SEND, EMPTY, owner), a('unalias'));
    await r.next(SEND_SENDER, (m) => m.payload === a('unaliased'));
    r.peer.send(tuple(ALIAS_SEND, remote, alias), a('dropped'));
    r.peer.send(tuple(SEND, EMPTY, owner), a('marker'));
    await until(() => got.includes(a('marker')), 5000, 'marker');
    expect(got).toEqual([a('via_alias'), a('unalias'), a('marker')]);
  });

  describe('the link protocol', () => {
    it('UNLINK_ID is acked with the same id at once and removes the link; the old UNLINK needs no ack', async () => {
      const r = await rig();
      const remote = r.pid(30);
      const p = exitsOnGo(r.node, boom);
      r.peer.send(tuple(LINK, remote, p));
      await until(() => r.node.processes.info(p)?.links.length === 1, 5000, 'linked');
      r.peer.send(tuple(UNLINK_ID, 77, remote, p));
      const ack = await r.next(UNLINK_ID_ACK);
      expect(ack.control).toEqual(tuple(UNLINK_ID_ACK, 77, p, remote));
      expect(r.node.processes.info(p)?.links).toEqual([]);
      r.peer.send(tuple(LINK, remote, p));
      await until(() => r.node.processes.info(p)?.links.length === 1, 5000, 'linked again');
      r.peer.send(tuple(UNLINK, remote, p));
      await until(() => r.node.processes.info(p)?.links.length === 0, 5000, 'unlinked');
      // No link: the exit is not sent.
      r.node.send(p, a('go'));
      await until(() => !r.node.processes.isAlive(p), 5000, 'exited');
      expect(r.peer.messages.filter((m) => opOf(m) === PAYLOAD_EXIT || opOf(m) === EXIT)).toEqual([]);
    });

    it('our unlink sends UNLINK_ID and the link goes when the matching ack comes', async () => {
      const r = await rig();
      const remote = r.pid(31);
      const p = r.node.spawn(async (self) => {
        self.link(remote);
        await self.receive({ match: (m) => m === a('unlink') });
        self.unlink(remote);
        await self.receive();
      });
      await r.next(LINK);
      r.node.send(p, a('unlink'));
      const unlink = await r.next(UNLINK_ID);
      const [, id, from, to] = (unlink.control as Tuple).elements as [number, number, Pid, Pid];
      expect([from, to]).toEqual([p, remote]);
      expect(id).toBeGreaterThan(0);
      // Inactive already: not listed; an EXIT for it now is dropped.
      expect(r.node.processes.info(p)?.links).toEqual([]);
      const reason = inProcess(r.node, async (self) => {
        const ref = self.monitor(p);
        self.send(remote, a('watching'));
        return ((await self.receive({ match: (m) => m instanceof Tuple && m.elements[1] === ref })) as Tuple)
          .elements[4];
      });
      await r.next(SEND_SENDER, (m) => m.payload === a('watching'));
      r.peer.send(tuple(PAYLOAD_EXIT, remote, p), boom);
      r.peer.send(tuple(UNLINK_ID_ACK, id, remote, p));
      r.peer.send(tuple(SEND, EMPTY, p), a('still_alive'));
      // The EXIT was dropped: p lived to take the next message and returned normally.
      expect(await reason).toBe(a('normal'));
    });

    it('without UNLINK_ID negotiated, unlink sends the old UNLINK', async () => {
      const r = await rig(DEFAULT_DFLAGS & ~DFLAG_UNLINK_ID);
      const remote = r.pid(32);
      const p = r.node.spawn(async (self) => {
        self.link(remote);
        self.unlink(remote);
        await self.receive();
      });
      const m = await r.next(UNLINK);
      expect(m.control).toEqual(tuple(UNLINK, p, remote));
    });
  });

  it('monitor by remote name: MONITOR_P to the atom, DOWN names {Name, Node}; demonitor sends DEMONITOR_P', async () => {
    const r = await rig();
    const down = inProcess(r.node, async (self) => {
      const ref = self.monitor([a('far'), a(r.peerName)]);
      const other = self.monitor([a('other'), r.peerName]);
      self.demonitor(other);
      return [
        ref,
        await self.receive({ match: (m) => m instanceof Tuple && m.elements[1] === ref }),
      ] as const;
    });
    const mon = await r.next(MONITOR_P, (m) => (m.control as Tuple).elements[2] === a('far'));
    const [, watcher, , ref] = (mon.control as Tuple).elements as [number, Pid, Term, Reference];
    const demon = await r.next(DEMONITOR_P);
    expect((demon.control as Tuple).elements[2]).toBe(a('other'));
    r.peer.send(tuple(PAYLOAD_MONITOR_P_EXIT, a('far'), watcher, ref), a('gone'));
    const [mref, msg] = await down;
    expect(msg).toEqual(tuple(a('DOWN'), mref, a('process'), tuple(a('far'), a(r.peerName)), a('gone')));
  });

  it('a dropped connection gives noconnection to every link and monitor over it, and {nodedown, N} to node monitors', async () => {
    const r = await rig();
    const peerAtom = a(r.peerName);
    const remote = r.pid(40);
    const seen: Term[] = [];
    let ready = 0;
    const record = (body: (self: ProcessContext) => void): void => {
      r.node.spawn(async (self) => {
        body(self);
        ready++;
        seen.push(await self.receive({ timeoutMs: 10_000 }));
      });
    };
    record((self) => {
      self.trapExit(true);
      self.link(remote);
    });
    record((self) => void self.monitor(remote));
    record((self) => void self.monitor([a('name'), peerAtom]));
    record((self) => self.monitorNode(peerAtom));
    // An untrapped link dies with noconnection.
    const linked = r.node.spawn(async (self) => {
      self.link(remote);
      await self.receive();
    });
    const linkedExit = inProcess(r.node, async (self) => {
      const ref = self.monitor(linked);
      return ((await self.receive({ match: (m) => m instanceof Tuple && m.elements[1] === ref })) as Tuple)
        .elements[4];
    });
    await until(
      () => ready === 4 && r.peer.messages.filter((m) => opOf(m) === MONITOR_P).length === 2,
      5000,
      'set up',
    );
    r.peer.socket.destroy();
    await until(() => seen.length === 4, 5000, 'four notices');
    const downs = seen.filter((m) => (m as Tuple).elements[0] === a('DOWN')) as Tuple[];
    expect(seen).toContainEqual(tuple(a('EXIT'), remote, a('noconnection')));
    expect(downs.map((d) => [d.elements[3], d.elements[4]])).toEqual(
      expect.arrayContaining([
        [remote, a('noconnection')],
        [tuple(a('name'), peerAtom), a('noconnection')],
      ]),
    );
    expect(seen).toContainEqual(tuple(a('nodedown'), peerAtom));
    expect(await linkedExit).toBe(a('noconnection'));
  });

  it('monitorNode of a node that cannot be reached gives {nodedown, Node}; a call there gives noconnection', async () => {
    const r = await rig();
    const ghost = a('ghost@127.0.0.1');
    const notice = await inProcess(r.node, async (self) => {
      self.monitorNode(ghost);
      return self.receive({ timeoutMs: 10_000 });
    });
    expect(notice).toEqual(tuple(a('nodedown'), ghost));
    await expect(r.node.call([a('srv'), ghost], a('x'), { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'noconnection',
    });
  });

  describe('gen_server calls on the wire', () => {
    it('with ALIAS: MONITOR_P, SEND {$gen_call, {C, [alias|Mref]}, Req}, a reply by ALIAS_SEND, DEMONITOR_P', async () => {
      const r = await rig();
      const server = r.pid(50);
      const result = r.node.call(server, a('ping'));
      const mon = await r.next(MONITOR_P);
      const [, caller, target, mref] = (mon.control as Tuple).elements as [number, Pid, Pid, Reference];
      expect(target).toEqual(server);
      const req = await r.next(SEND_SENDER);
      const tag = new ImproperList([a('alias')], mref);
      expect(req.control).toEqual(tuple(SEND_SENDER, caller, server));
      expect(req.payload).toEqual(tuple(a('$gen_call'), tuple(caller, tag), a('ping')));
      r.peer.send(tuple(ALIAS_SEND, server, mref), tuple(tag, a('pong')));
      expect(await result).toBe(a('pong'));
      const demon = await r.next(DEMONITOR_P);
      expect(demon.control).toEqual(tuple(DEMONITOR_P, caller, server, mref));
    });

    it('by {Name, Node}: MONITOR_P and REG_SEND to the name; noproc when the peer says so', async () => {
      const r = await rig();
      const result = r.node.call([a('nosuch'), r.peerName], a('ping')).catch((e: unknown) => e);
      const mon = await r.next(MONITOR_P);
      const [, caller, target, mref] = (mon.control as Tuple).elements as [number, Pid, Term, Reference];
      expect(target).toBe(a('nosuch'));
      const req = await r.next(REG_SEND);
      expect(req.control).toEqual(tuple(REG_SEND, caller, EMPTY, a('nosuch')));
      r.peer.send(tuple(PAYLOAD_MONITOR_P_EXIT, a('nosuch'), caller, mref), a('noproc'));
      expect(await result).toMatchObject({ code: 'noproc' });
    });

    it('without ALIAS: a plain reference tag, answered by a plain SEND', async () => {
      const r = await rig(DEFAULT_DFLAGS & ~DFLAG_ALIAS);
      const server = r.pid(51);
      const result = r.node.call(server, a('ping'));
      const req = await r.next(SEND_SENDER);
      const [, from] = (req.payload as Tuple).elements as [Term, Tuple];
      const [caller, tag] = from.elements as [Pid, Term];
      expect(tag).toBeInstanceOf(Reference);
      r.peer.send(tuple(SEND, EMPTY, caller), tuple(tag, a('pong')));
      expect(await result).toBe(a('pong'));
    });

    it('a TS server answers [alias|Ref] through ALIAS_SEND, and plain or {Ref, Node} tags to the pid', async () => {
      const r = await rig();
      const server = await r.node.spawnServer<null>(
        { init: () => null, handleCall: (req, _from, s) => ({ reply: tuple(a('re'), req), state: s }) },
        { name: 'tsrv' },
      );
      const caller = r.pid(52);
      const ref = r.ref(9);
      const aliasTag = new ImproperList([a('alias')], ref);
      r.peer.send(
        tuple(REG_SEND, caller, EMPTY, a('tsrv')),
        tuple(a('$gen_call'), tuple(caller, aliasTag), 1),
      );
      const viaAlias = await r.next(ALIAS_SEND);
      expect(viaAlias.control).toEqual(tuple(ALIAS_SEND, server, ref));
      expect(viaAlias.payload).toEqual(tuple(aliasTag, tuple(a('re'), 1)));
      const multi = tuple(ref, a(r.peerName));
      r.peer.send(tuple(SEND, EMPTY, server), tuple(a('$gen_call'), tuple(caller, multi), 2));
      const toPid = await r.next(SEND_SENDER, (m) => (m.control as Tuple).elements[2] instanceof Pid);
      expect(toPid.control).toEqual(tuple(SEND_SENDER, server, caller));
      expect(toPid.payload).toEqual(tuple(multi, tuple(a('re'), 2)));
    });
  });
});
