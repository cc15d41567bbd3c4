/**
 * The pure pg core: each protocol message and local operation, with the exact messages it sends
 * (the shapes of OTP 25's pg.erl), what it monitors, what subscribers see, and what it drops.
 */
import { describe, expect, it } from 'vitest';
import { PgCore, type PgOutput, removePids } from '../../src/services/pg/core.ts';
import {
  discoverMessage,
  joinMessage,
  leaveMessage,
  ownGroup,
  parsePgMessage,
  syncMessage,
} from '../../src/services/pg/messages.ts';
import {
  type Atom,
  atom,
  ImproperList,
  Pid,
  Reference,
  type Term,
  type Tuple,
  tuple,
} from '../../src/term/index.ts';

const A = atom('a@host');
const B = atom('b@host');
const C = atom('c@host');
const PG = atom('pg');
const self = new Pid(A, 1, 0, 1);
const peerB = new Pid(B, 40, 0, 7);
const peerC = new Pid(C, 41, 0, 9);
const local = (n: number): Pid => new Pid(A, 100 + n, 0, 1);
const remoteB = (n: number): Pid => new Pid(B, 200 + n, 0, 7);
const remoteC = (n: number): Pid => new Pid(C, 300 + n, 0, 9);
const ref = (n: number): Reference => new Reference(A, 1, [n, 0, 0]);

function newCore(connected: Set<Atom> = new Set([B, C]), limits = {}): PgCore {
  return new PgCore({ self, scope: PG, isConnected: (n) => connected.has(n), limits });
}

const send = (to: Pid | readonly [Atom, Atom], message: Term): PgOutput => ({ kind: 'send', to, message });

/** A core that knows peer B (through B's discover), outputs cleared. */
function withPeerB(connected?: Set<Atom>): PgCore {
  const core = newCore(connected);
  core.handleMessage(discoverMessage(peerB));
  core.takeOutputs();
  return core;
}

function sortPids(pids: readonly Pid[]): string[] {
  return pids.map(String).sort();
}

describe('pg core: discovery', () => {
  it('discovers the scope on every connected node at start, and on nodeup', () => {
    const core = newCore();
    core.start([B, C]);
    expect(core.takeOutputs()).toEqual([
      send([PG, B], discoverMessage(self)),
      send([PG, C], discoverMessage(self)),
    ]);
    core.nodeUp(B);
    expect(core.takeOutputs()).toEqual([send([PG, B], discoverMessage(self))]);
    core.nodeUp(A);
    expect(core.takeOutputs()).toEqual([]);
  });

  it('answers a discover with its local members, then monitors and discovers the new peer', () => {
    const core = newCore();
    core.join('g', local(1));
    core.join(atom('h'), [local(1), local(2)]);
    core.takeOutputs();
    expect(core.handleMessage(discoverMessage(peerB))).toBeUndefined();
    expect(core.takeOutputs()).toEqual([
      send(
        peerB,
        syncMessage(self, [
          ['g', [local(1)]],
          [atom('h'), [local(1), local(2)]],
        ]),
      ),
      { kind: 'monitor', pid: peerB },
      send(peerB, discoverMessage(self)),
    ]);
    // Known peer: only the sync.
    core.handleMessage(discoverMessage(peerB));
    const again = core.takeOutputs();
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ kind: 'send', to: peerB });
    expect(core.peers()).toEqual([peerB]);
  });

  it('the sync it sends has the exact OTP shape', () => {
    const m = syncMessage(self, [['g', [local(1)]]]);
    expect(m).toEqual(tuple(atom('$gen_cast'), tuple(atom('sync'), self, [tuple('g', [local(1)])])));
    expect(discoverMessage(self)).toEqual(tuple(atom('discover'), self));
    expect(joinMessage(self, 'g', local(1))).toEqual(tuple(atom('join'), self, 'g', local(1)));
    expect(leaveMessage(self, [local(1)], ['g'])).toEqual(tuple(atom('leave'), self, [local(1)], ['g']));
  });

  it('a sync from an unknown peer adds it and gets our sync at once', () => {
    const core = newCore();
    core.join('g', local(1));
    core.takeOutputs();
    core.handleMessage(syncMessage(peerB, [['g', [remoteB(1)]]]));
    expect(core.takeOutputs()).toEqual([
      { kind: 'monitor', pid: peerB },
      send(peerB, syncMessage(self, [['g', [local(1)]]])),
    ]);
    expect(sortPids(core.members('g'))).toEqual(sortPids([local(1), remoteB(1)]));
    expect(core.localMembers('g')).toEqual([local(1)]);
  });

  it('ignores discover and sync naming a pid of this node, or of a node not connected', () => {
    const core = newCore(new Set([B]));
    expect(core.handleMessage(discoverMessage(local(5)))).toMatchObject({ code: 'pg_local_peer' });
    expect(core.handleMessage(discoverMessage(peerC))).toMatchObject({ code: 'pg_not_connected' });
    expect(core.handleMessage(syncMessage(peerC, []))).toMatchObject({ code: 'pg_not_connected' });
    expect(core.takeOutputs()).toEqual([]);
    expect(core.peers()).toEqual([]);
  });
});

describe('pg core: remote joins and leaves', () => {
  it('applies join and leave from a known peer, single pid or list', () => {
    const core = withPeerB();
    core.handleMessage(joinMessage(peerB, 'g', remoteB(1)));
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(2), remoteB(2)]));
    expect(sortPids(core.members('g'))).toEqual(sortPids([remoteB(1), remoteB(2), remoteB(2)]));
    expect(core.localMembers('g')).toEqual([]);
    core.handleMessage(leaveMessage(peerB, remoteB(2), ['g']));
    expect(sortPids(core.members('g'))).toEqual(sortPids([remoteB(1), remoteB(2)]));
    core.handleMessage(leaveMessage(peerB, [remoteB(1), remoteB(2)], ['g']));
    expect(core.members('g')).toEqual([]);
    expect(core.whichGroups()).toEqual([]);
    expect(core.takeOutputs()).toEqual([]);
  });

  it('drops join and leave from a peer it does not know (the flickering-node race)', () => {
    const core = newCore();
    expect(core.handleMessage(joinMessage(peerB, 'g', remoteB(1)))).toMatchObject({
      code: 'pg_unknown_peer',
    });
    expect(core.handleMessage(leaveMessage(peerB, remoteB(1), ['g']))).toMatchObject({
      code: 'pg_unknown_peer',
    });
    expect(core.members('g')).toEqual([]);
  });

  it('a leave naming groups or pids the peer never announced removes only what it has', () => {
    const core = withPeerB();
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(1)]));
    expect(
      core.handleMessage(leaveMessage(peerB, [remoteB(1), remoteB(9)], ['nope', 'g', 'g'])),
    ).toBeUndefined();
    expect(core.members('g')).toEqual([]);
  });

  it('only the announcing peer can remove its members', () => {
    const core = withPeerB();
    core.handleMessage(discoverMessage(peerC));
    core.handleMessage(joinMessage(peerB, 'g', remoteB(1)));
    core.handleMessage(leaveMessage(peerC, remoteB(1), ['g']));
    expect(core.members('g')).toEqual([remoteB(1)]);
  });

  it('a sync replaces everything known of that peer', () => {
    const core = withPeerB();
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(1), remoteB(2)]));
    core.handleMessage(joinMessage(peerB, 'h', remoteB(3)));
    core.join('g', local(1));
    core.handleMessage(
      syncMessage(peerB, [
        ['g', [remoteB(2), remoteB(4)]],
        ['k', [remoteB(5)]],
      ]),
    );
    expect(sortPids(core.members('g'))).toEqual(sortPids([local(1), remoteB(2), remoteB(4)]));
    expect(core.members('h')).toEqual([]);
    expect(core.members('k')).toEqual([remoteB(5)]);
    expect(core.whichGroups().sort()).toEqual(['g', 'k']);
    expect(core.whichLocalGroups()).toEqual(['g']);
  });

  it('normalizes UTF-8 binary groups to strings and owns their bytes', () => {
    const core = withPeerB();
    const frame = Buffer.from('xxchatxx');
    core.handleMessage(joinMessage(peerB, frame.subarray(2, 6), remoteB(1)));
    frame.fill(0);
    expect(core.whichGroups()).toEqual(['chat']);
    expect(core.members(Buffer.from('chat'))).toEqual([remoteB(1)]);
    const nested = Buffer.from([0xff, 1]);
    const g = ownGroup(tuple(atom('room'), nested)) as Tuple;
    nested[1] = 9;
    expect((g.elements[1] as Buffer)[1]).toBe(1);
    expect(ownGroup(Buffer.from([0xff]))).toEqual(Buffer.from([0xff]));
  });
});

describe('pg core: local joins and leaves', () => {
  it('monitors a member once, broadcasts joins in the form given, lists repeats', () => {
    const core = withPeerB();
    core.handleMessage(discoverMessage(peerC));
    core.takeOutputs();
    core.join('g', local(1));
    expect(core.takeOutputs()).toEqual([
      { kind: 'monitor', pid: local(1) },
      send(peerB, joinMessage(self, 'g', local(1))),
      send(peerC, joinMessage(self, 'g', local(1))),
    ]);
    core.join('g', [local(1), local(2)]);
    expect(core.takeOutputs()).toEqual([
      { kind: 'monitor', pid: local(2) },
      send(peerB, joinMessage(self, 'g', [local(1), local(2)])),
      send(peerC, joinMessage(self, 'g', [local(1), local(2)])),
    ]);
    expect(sortPids(core.members('g'))).toEqual(sortPids([local(1), local(1), local(2)]));
    expect(sortPids(core.localMembers('g'))).toEqual(sortPids([local(1), local(1), local(2)]));
  });

  it('leave takes one occurrence, announces only real members, demonitors when none is left', () => {
    const core = withPeerB();
    core.join('g', [local(1), local(1)]);
    core.join('h', local(1));
    core.takeOutputs();
    expect(core.leave('g', [local(1), local(3)])).toBe(true);
    expect(core.takeOutputs()).toEqual([send(peerB, leaveMessage(self, [local(1)], ['g']))]);
    expect(core.leave('g', local(1))).toBe(true);
    expect(core.takeOutputs()).toEqual([send(peerB, leaveMessage(self, local(1), ['g']))]);
    expect(core.leave('g', local(1))).toBe(false);
    expect(core.takeOutputs()).toEqual([]);
    expect(core.leave('h', local(1))).toBe(true);
    expect(core.takeOutputs()).toEqual([
      { kind: 'demonitor', pid: local(1) },
      send(peerB, leaveMessage(self, local(1), ['h'])),
    ]);
    expect(core.whichGroups()).toEqual([]);
  });

  it('a member that exits leaves every group it joined, announced as OTP does', () => {
    const core = withPeerB();
    core.join('g', local(1));
    core.join('g', local(1));
    core.join('h', [local(1), local(2)]);
    core.takeOutputs();
    core.down(local(1));
    expect(core.takeOutputs()).toEqual([send(peerB, leaveMessage(self, local(1), ['g', 'g', 'h']))]);
    expect(core.members('g')).toEqual([]);
    expect(core.members('h')).toEqual([local(2)]);
    core.down(local(1));
    expect(core.takeOutputs()).toEqual([]);
  });
});

describe('pg core: peers going away', () => {
  it('a peer scope DOWN removes all its members', () => {
    const core = withPeerB();
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(1), remoteB(2)]));
    core.join('g', local(1));
    core.takeOutputs();
    core.down(peerB);
    expect(core.members('g')).toEqual([local(1)]);
    expect(core.peers()).toEqual([]);
    expect(core.takeOutputs()).toEqual([]);
    // It no longer gets our joins.
    core.join('g', local(2));
    expect(core.takeOutputs()).toEqual([{ kind: 'monitor', pid: local(2) }]);
  });

  it('nodedown drops the peers of that node at once, and their monitors', () => {
    const core = withPeerB();
    core.handleMessage(discoverMessage(peerC));
    core.handleMessage(joinMessage(peerB, 'g', remoteB(1)));
    core.handleMessage(joinMessage(peerC, 'g', remoteC(1)));
    core.takeOutputs();
    core.nodeDown(B);
    expect(core.takeOutputs()).toEqual([{ kind: 'demonitor', pid: peerB }]);
    expect(core.members('g')).toEqual([remoteC(1)]);
    expect(core.peers()).toEqual([peerC]);
  });

  it('nodeup drops a peer left from an older connection before discovering again', () => {
    const core = withPeerB();
    core.handleMessage(joinMessage(peerB, 'g', remoteB(1)));
    core.takeOutputs();
    core.nodeUp(B);
    expect(core.takeOutputs()).toEqual([
      { kind: 'demonitor', pid: peerB },
      send([PG, B], discoverMessage(self)),
    ]);
    expect(core.members('g')).toEqual([]);
    // Our leave for a member that peer knew cannot reach it before our next sync.
    core.join('g', local(1));
    core.takeOutputs();
    core.leave('g', local(1));
    expect(core.takeOutputs().filter((o) => o.kind === 'send')).toEqual([]);
  });
});

describe('pg core: subscriptions (OTP 25.1 monitor and monitor_scope)', () => {
  it('a group monitor gets the members, then every join and leave of that group only', () => {
    const core = withPeerB();
    core.join('g', local(1));
    core.takeOutputs();
    expect(core.monitorGroup(ref(1), 'g')).toEqual([local(1)]);
    core.join('g', local(2));
    core.join('other', local(2));
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(1)]));
    core.handleMessage(leaveMessage(peerB, remoteB(1), ['g']));
    const notes = core.takeOutputs().filter((o) => o.kind === 'notify');
    expect(notes).toEqual([
      { kind: 'notify', ref: ref(1), action: 'join', group: 'g', pids: [local(2)] },
      { kind: 'notify', ref: ref(1), action: 'join', group: 'g', pids: [remoteB(1)] },
      { kind: 'notify', ref: ref(1), action: 'leave', group: 'g', pids: [remoteB(1)] },
    ]);
    expect(core.demonitor(ref(1))).toBe(true);
    expect(core.takeOutputs()).toEqual([{ kind: 'ended', ref: ref(1) }]);
    expect(core.demonitor(ref(1))).toBe(false);
    core.join('g', local(3));
    expect(core.takeOutputs().filter((o) => o.kind === 'notify')).toEqual([]);
  });

  it('a scope monitor with a process gets {Ref, join | leave, Group, Pids} messages', () => {
    const core = withPeerB();
    core.join('g', local(1));
    core.takeOutputs();
    const watcher = local(9);
    const snapshot = core.monitorScope(ref(2), watcher);
    expect([...snapshot]).toEqual([['g', [local(1)]]]);
    expect(core.takeOutputs()).toEqual([{ kind: 'monitor', pid: watcher }]);
    core.handleMessage(joinMessage(peerB, atom('x'), remoteB(1)));
    core.down(peerB);
    expect(core.takeOutputs()).toEqual([
      send(watcher, tuple(ref(2), atom('join'), atom('x'), [remoteB(1)])),
      send(watcher, tuple(ref(2), atom('leave'), atom('x'), [remoteB(1)])),
    ]);
    // The watcher exits: the subscription ends.
    core.down(watcher);
    expect(core.takeOutputs()).toEqual([{ kind: 'ended', ref: ref(2) }]);
    expect(core.watcherCount).toBe(0);
  });

  it('a watcher that is also a member is monitored once', () => {
    const core = newCore();
    core.join('g', local(1));
    core.monitorGroup(ref(3), 'g', local(1));
    expect(core.takeOutputs().filter((o) => o.kind === 'monitor')).toEqual([
      { kind: 'monitor', pid: local(1) },
    ]);
    core.leave('g', local(1));
    expect(core.takeOutputs().filter((o) => o.kind === 'demonitor')).toEqual([]);
    core.demonitor(ref(3));
    expect(core.takeOutputs().filter((o) => o.kind === 'demonitor')).toEqual([
      { kind: 'demonitor', pid: local(1) },
    ]);
  });

  it('a sync that changes a known group notifies the joins and leaves it implies', () => {
    const core = withPeerB();
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(1), remoteB(2)]));
    core.monitorGroup(ref(4), 'g');
    core.takeOutputs();
    core.handleMessage(syncMessage(peerB, [['g', [remoteB(2), remoteB(3)]]]));
    expect(core.takeOutputs()).toEqual([
      { kind: 'notify', ref: ref(4), action: 'leave', group: 'g', pids: [remoteB(1)] },
      { kind: 'notify', ref: ref(4), action: 'join', group: 'g', pids: [remoteB(3)] },
    ]);
  });
});

describe('pg core: hostile input is dropped with a code, state unchanged', () => {
  const cases: Array<[string, Term, string]> = [
    ['not a tuple', atom('hello'), 'pg_unknown_message'],
    ['unknown tag', tuple(atom('whatever'), self), 'pg_unknown_message'],
    ['empty tuple', tuple(), 'pg_unknown_message'],
    ['a gen_call', tuple(atom('$gen_call'), tuple(self, ref(1)), atom('x')), 'pg_unknown_message'],
    ['a cast other than sync', tuple(atom('$gen_cast'), tuple(atom('other'), 1)), 'pg_unknown_message'],
    ['discover without pid', tuple(atom('discover'), 42), 'pg_malformed'],
    ['discover too long', tuple(atom('discover'), peerB, 1), 'pg_malformed'],
    ['join: peer not a pid', tuple(atom('join'), 'x', 'g', remoteB(1)), 'pg_malformed'],
    ['join: members not pids', tuple(atom('join'), peerB, 'g', [remoteB(1), 7]), 'pg_malformed'],
    [
      'join: improper list',
      tuple(atom('join'), peerB, 'g', new ImproperList([remoteB(1)], remoteB(2))),
      'pg_malformed',
    ],
    ['join: 3 elements', tuple(atom('join'), peerB, 'g'), 'pg_malformed'],
    ['leave: groups not a list', tuple(atom('leave'), peerB, remoteB(1), 'g'), 'pg_malformed'],
    ['leave: members bad', tuple(atom('leave'), peerB, atom('x'), ['g']), 'pg_malformed'],
    ['sync: not a list', tuple(atom('$gen_cast'), tuple(atom('sync'), peerB, atom('x'))), 'pg_malformed'],
    [
      'sync: entry not a pair',
      tuple(atom('$gen_cast'), tuple(atom('sync'), peerB, [tuple('g')])),
      'pg_malformed',
    ],
    [
      'sync: members not pids',
      tuple(atom('$gen_cast'), tuple(atom('sync'), peerB, [tuple('g', [1])])),
      'pg_malformed',
    ],
    [
      'sync: a group twice',
      tuple(atom('$gen_cast'), tuple(atom('sync'), peerB, [tuple('g', [remoteB(1)]), tuple('g', [])])),
      'pg_malformed',
    ],
    ['sync: peer not a pid', tuple(atom('$gen_cast'), tuple(atom('sync'), 1, [])), 'pg_malformed'],
  ];
  for (const [label, message, code] of cases) {
    it(label, () => {
      const core = withPeerB();
      core.handleMessage(joinMessage(peerB, 'g', remoteB(1)));
      core.join('g', local(1));
      core.takeOutputs();
      const before = sortPids(core.members('g'));
      expect(core.handleMessage(message)).toMatchObject({ code });
      expect(core.takeOutputs()).toEqual([]);
      expect(sortPids(core.members('g'))).toEqual(before);
      expect(core.peers()).toEqual([peerB]);
    });
  }

  it('parsePgMessage says why', () => {
    expect(parsePgMessage(tuple(atom('join'), peerB, 'g', 'nope'))).toEqual({
      kind: 'rejected',
      code: 'pg_malformed',
      detail: 'join: members must be a pid or a list of pids',
    });
  });
});

describe('pg core: limits', () => {
  it('maxPeers bounds the peers a discover or sync can add', () => {
    const core = newCore(new Set([B, C]), { maxPeers: 1 });
    core.handleMessage(discoverMessage(peerB));
    expect(core.handleMessage(discoverMessage(peerC))).toMatchObject({ code: 'pg_peer_limit' });
    expect(core.handleMessage(syncMessage(peerC, []))).toMatchObject({ code: 'pg_peer_limit' });
    expect(core.peers()).toEqual([peerB]);
    // A known peer still gets answers.
    core.takeOutputs();
    expect(core.handleMessage(discoverMessage(peerB))).toBeUndefined();
  });

  it('maxMembersPerPeer bounds what one peer can make us hold', () => {
    const core = newCore(new Set([B]), { maxMembersPerPeer: 3 });
    core.handleMessage(discoverMessage(peerB));
    core.handleMessage(joinMessage(peerB, 'g', [remoteB(1), remoteB(2)]));
    expect(core.handleMessage(joinMessage(peerB, 'g', [remoteB(3), remoteB(4)]))).toMatchObject({
      code: 'pg_member_limit',
    });
    expect(core.members('g')).toHaveLength(2);
    expect(
      core.handleMessage(syncMessage(peerB, [['g', [remoteB(1), remoteB(2), remoteB(3), remoteB(4)]]])),
    ).toMatchObject({ code: 'pg_member_limit' });
    expect(core.members('g')).toHaveLength(2);
    // Leaves free room.
    core.handleMessage(leaveMessage(peerB, remoteB(1), ['g']));
    expect(core.handleMessage(joinMessage(peerB, 'g', [remoteB(3), remoteB(4)]))).toBeUndefined();
  });

  it('rejects limits below 1', () => {
    expect(() => newCore(new Set(), { maxPeers: 0 })).toThrow(RangeError);
  });
});

describe('removePids', () => {
  it('removes one occurrence of each, by value, for few and many pids', () => {
    const list = [local(1), local(2), local(1), local(3)];
    expect(removePids(list, [new Pid(A, 101, 0, 1), local(9)])).toEqual([local(1)]);
    expect(list).toEqual([local(1), local(2), local(3)]);
    const many = Array.from({ length: 50 }, (_, i) => local(i % 10));
    const gone = removePids(
      many,
      Array.from({ length: 20 }, (_, i) => local(i % 10)),
    );
    expect(gone).toHaveLength(20);
    expect(many).toHaveLength(30);
    expect(sortPids(many)).toEqual(sortPids(Array.from({ length: 30 }, (_, i) => local(i % 10))));
  });
});
