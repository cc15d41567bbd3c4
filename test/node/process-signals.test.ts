/**
 * Links, exit signals, monitors, aliases and node-down on a real ProcessTable, case by case as the
 * Erlang Reference Manual ("Processes") and the distribution protocol's link protocol state them.
 * Signal delivery is synchronous, so after a call returns its effects are visible; only process
 * *code* runs later, and tests wait for it through messages, never with sleeps.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProcessError } from '../../src/node/errors.ts';
import { atom, atoms, Pid, Reference, type Term, Tuple } from '../../src/term/types.ts';
import {
  isDown,
  NODE,
  probe,
  REMOTE,
  remotePid,
  remoteRef,
  setup,
  spawnWatched,
  t,
  watch,
} from './process-support.ts';

const a = atom;
const boom = a('boom');
const EXIT = a('EXIT');
const DOWN = a('DOWN');

describe('links and exit signals (Reference Manual, "Receiving Exit Signals")', () => {
  it('a linked process exiting normal does not kill a non-trapping process', async () => {
    const { table } = setup();
    const p = await probe(table);
    const q = await probe(table);
    p.self.link(q.pid);
    const w = await watch(table, q.pid);
    q.release();
    expect(await w.reason()).toBe(atoms.normal);
    expect(table.isAlive(p.pid)).toBe(true);
    expect(table.info(p.pid)?.links).toEqual([]);
  });

  it('any other reason kills it with the same reason, and it propagates along the chain', async () => {
    const { table } = setup();
    const ps = [await probe(table), await probe(table), await probe(table), await probe(table)];
    for (let i = 0; i + 1 < ps.length; i++) ps[i]?.self.link(ps[i + 1]?.pid as Pid);
    const last = ps[3] as (typeof ps)[number];
    const w = await watch(table, (ps[0] as (typeof ps)[number]).pid);
    table.exit(last.pid, boom);
    for (const p of ps) expect(table.isAlive(p.pid)).toBe(false);
    expect(await w.reason()).toBe(boom);
  });

  it('a trapping process gets {EXIT, From, Reason} for every reason, normal included', async () => {
    const { table } = setup();
    const trapper = await probe(table, { trapExit: true });
    const q1 = await probe(table);
    const q2 = await probe(table);
    trapper.self.link(q1.pid);
    trapper.self.link(q2.pid);
    q1.release();
    expect(await trapper.self.receive({ timeoutMs: 1000 })).toEqual(t(EXIT, q1.pid, atoms.normal));
    table.exit(q2.pid, boom);
    expect(await trapper.self.receive({ timeoutMs: 1000 })).toEqual(t(EXIT, q2.pid, boom));
    expect(table.isAlive(trapper.pid)).toBe(true);
  });

  it('exit(P, kill) cannot be trapped: the victim dies killed, and links see killed', async () => {
    const { table } = setup();
    const victim = await probe(table, { trapExit: true });
    const friend = await probe(table, { trapExit: true });
    friend.self.link(victim.pid);
    table.exit(victim.pid, atoms.kill);
    expect(table.isAlive(victim.pid)).toBe(false);
    expect(await friend.self.receive({ timeoutMs: 1000 })).toEqual(t(EXIT, victim.pid, atoms.killed));
  });

  it('a process exiting with reason kill sends kill over links: trappable, and not converted to killed', async () => {
    const { table } = setup();
    const trapper = await probe(table, { trapExit: true });
    const plain = await probe(table);
    const suicide = await probe(table);
    trapper.self.link(suicide.pid);
    plain.self.link(suicide.pid);
    const w = await watch(table, plain.pid);
    expect(() => suicide.self.exit(atoms.kill)).toThrow();
    expect(await trapper.self.receive({ timeoutMs: 1000 })).toEqual(t(EXIT, suicide.pid, atoms.kill));
    expect(await w.reason()).toBe(atoms.kill);
  });

  it('exit(P, normal) from another process is ignored unless P traps exits', async () => {
    const { table } = setup();
    const plain = await probe(table);
    const trapper = await probe(table, { trapExit: true });
    const sender = await probe(table);
    sender.self.sendExit(plain.pid, atoms.normal);
    expect(table.isAlive(plain.pid)).toBe(true);
    sender.self.sendExit(trapper.pid, atoms.normal);
    expect(await trapper.self.receive({ timeoutMs: 0 })).toEqual(t(EXIT, sender.pid, atoms.normal));
  });

  it('exit(self(), normal) terminates the caller unless it traps exits', async () => {
    const { table } = setup();
    const plain = await probe(table);
    const w = await watch(table, plain.pid);
    expect(() => plain.self.sendExit(plain.pid, atoms.normal)).toThrow();
    expect(await w.reason()).toBe(atoms.normal);
    const trapper = await probe(table, { trapExit: true });
    trapper.self.sendExit(trapper.pid, atoms.normal);
    expect(await trapper.self.receive({ timeoutMs: 0 })).toEqual(t(EXIT, trapper.pid, atoms.normal));
  });

  it('exit/2 with another reason kills a non-trapping process with that reason', async () => {
    const { table } = setup();
    const p = await probe(table);
    const w = await watch(table, p.pid);
    table.exit(p.pid, t(a('shutdown'), 1));
    expect(await w.reason()).toEqual(t(a('shutdown'), 1));
  });

  it('link/1 to a dead local process: noproc error when not trapping, {EXIT, Pid, noproc} when trapping', async () => {
    const { table } = setup();
    const w = await spawnWatched(table, () => undefined);
    await w.reason();
    const dead = w.pid;
    const plain = await probe(table);
    expect(() => plain.self.link(dead)).toThrow(ProcessError);
    expect(() => plain.self.link(dead)).toThrow(expect.objectContaining({ code: 'noproc' }));
    expect(table.isAlive(plain.pid)).toBe(true);
    const trapper = await probe(table, { trapExit: true });
    trapper.self.link(dead);
    expect(await trapper.self.receive({ timeoutMs: 0 })).toEqual(t(EXIT, dead, atoms.noproc));
    expect(table.info(trapper.pid)?.links).toEqual([]);
  });

  it('links are bidirectional, single, and linking to self does nothing', async () => {
    const { table } = setup();
    const p = await probe(table);
    const q = await probe(table);
    p.self.link(q.pid);
    p.self.link(q.pid);
    q.self.link(p.pid);
    p.self.link(p.pid);
    expect(table.info(p.pid)?.links).toEqual([q.pid]);
    expect(table.info(q.pid)?.links).toEqual([p.pid]);
  });

  it('after unlink the link has no effect on either side; an EXIT already queued stays', async () => {
    const { table } = setup();
    const p = await probe(table, { trapExit: true });
    const q = await probe(table);
    const r = await probe(table);
    p.self.link(q.pid);
    p.self.link(r.pid);
    p.self.unlink(q.pid);
    expect(table.info(p.pid)?.links).toEqual([r.pid]);
    expect(table.info(q.pid)?.links).toEqual([]);
    table.exit(q.pid, boom);
    expect(p.self.messageQueueLen).toBe(0);
    // unlink/1 does not flush: an EXIT that arrived before stays in the mailbox.
    table.exit(r.pid, boom);
    p.self.unlink(r.pid);
    expect(table.messages(p.pid)).toEqual([t(EXIT, r.pid, boom)]);
  });

  it('a chain of 20000 linked processes dies without exhausting the stack', async () => {
    const { table } = setup();
    const pids: Pid[] = [];
    for (let i = 0; i < 20000; i++) pids.push(table.spawn(() => new Promise(() => {})));
    // Link them through the table's own spawn option, as spawn_link would.
    const head = table.spawn(() => new Promise(() => {}), { link: pids[0] as Pid });
    for (let i = 0; i + 1 < pids.length; i++) {
      table.deliver(pids[i] as Pid, { kind: 'link', from: pids[i + 1] as Pid });
      table.deliver(pids[i + 1] as Pid, { kind: 'link', from: pids[i] as Pid });
    }
    table.exit(pids[pids.length - 1] as Pid, boom);
    expect(table.isAlive(head)).toBe(false);
    expect(table.count).toBe(0);
  });
});

describe('the link protocol (UNLINK_ID / UNLINK_ID_ACK) with a remote peer', () => {
  it('link sends LINK; unlink sends UNLINK_ID and waits for the matching ack', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(1);
    p.self.link(rp);
    expect(remote.sent).toEqual([{ node: REMOTE, to: rp, signal: { kind: 'link', from: p.pid } }]);
    expect(table.info(p.pid)?.links).toEqual([rp]);
    p.self.unlink(rp);
    const unlink = remote.ofKind('unlink')[0];
    expect(unlink?.signal.id).toBeGreaterThan(0n);
    const id = unlink?.signal.id as bigint;
    // Inactive now: not reported as a link, exit signals due to the link are ignored.
    expect(table.info(p.pid)?.links).toEqual([]);
    // A LINK from the peer while our unlink is outstanding is ignored.
    table.deliver(p.pid, { kind: 'link', from: rp });
    expect(table.info(p.pid)?.links).toEqual([]);
    // A wrong ack changes nothing; the right one removes the link information.
    table.deliver(p.pid, { kind: 'unlink_ack', from: rp, id: id + 1n });
    table.deliver(p.pid, { kind: 'unlink_ack', from: rp, id });
    // Now a LINK creates the link again.
    table.deliver(p.pid, { kind: 'link', from: rp });
    expect(table.info(p.pid)?.links).toEqual([rp]);
  });

  it('an exit signal for an inactive (unlinking) link is dropped and forgets the link', async () => {
    const { table } = setup();
    const p = await probe(table);
    const rp = remotePid(2);
    p.self.link(rp);
    p.self.unlink(rp);
    table.deliver(p.pid, { kind: 'exit', from: rp, reason: boom, link: true });
    expect(table.isAlive(p.pid)).toBe(true);
    // Link information is gone: a new LINK from the peer is accepted.
    table.deliver(p.pid, { kind: 'link', from: rp });
    expect(table.info(p.pid)?.links).toEqual([rp]);
  });

  it('link while unlinking reactivates and sends LINK; the late ack is then ignored', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(3);
    p.self.link(rp);
    p.self.unlink(rp);
    const id = remote.ofKind('unlink')[0]?.signal.id as bigint;
    p.self.link(rp);
    expect(remote.ofKind('link').length).toBe(2);
    table.deliver(p.pid, { kind: 'unlink_ack', from: rp, id });
    expect(table.info(p.pid)?.links).toEqual([rp]);
  });

  it('a received UNLINK_ID removes an active link and is acknowledged with the same id', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(4);
    table.deliver(p.pid, { kind: 'link', from: rp });
    expect(table.info(p.pid)?.links).toEqual([rp]);
    table.deliver(p.pid, { kind: 'unlink', from: rp, id: 77n });
    expect(table.info(p.pid)?.links).toEqual([]);
    expect(remote.ofKind('unlink_ack')).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'unlink_ack', from: p.pid, id: 77n } },
    ]);
  });

  it('a received UNLINK_ID while our own unlink is outstanding is acked and leaves our state', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(5);
    p.self.link(rp);
    p.self.unlink(rp);
    const ours = remote.ofKind('unlink')[0]?.signal.id as bigint;
    table.deliver(p.pid, { kind: 'unlink', from: rp, id: 900n });
    expect(remote.ofKind('unlink_ack').map((s) => s.signal.id)).toEqual([900n]);
    // Still waiting for our ack: a LINK is still ignored.
    table.deliver(p.pid, { kind: 'link', from: rp });
    expect(table.info(p.pid)?.links).toEqual([]);
    table.deliver(p.pid, { kind: 'unlink_ack', from: rp, id: ours });
    table.deliver(p.pid, { kind: 'link', from: rp });
    expect(table.info(p.pid)?.links).toEqual([rp]);
  });

  it('the old UNLINK (id 0) removes the link without an ack', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(6);
    table.deliver(p.pid, { kind: 'link', from: rp });
    table.deliver(p.pid, { kind: 'unlink', from: rp, id: 0n });
    expect(table.info(p.pid)?.links).toEqual([]);
    expect(remote.ofKind('unlink_ack')).toEqual([]);
  });

  it('local unlink between two local processes completes the protocol on both sides', async () => {
    const { table } = setup();
    const p = await probe(table);
    const q = await probe(table);
    p.self.link(q.pid);
    q.self.unlink(p.pid);
    expect(table.info(p.pid)?.links).toEqual([]);
    expect(table.info(q.pid)?.links).toEqual([]);
    p.self.link(q.pid);
    expect(table.info(q.pid)?.links).toEqual([p.pid]);
  });

  it('remote links: an EXIT from the peer kills; our exit is sent to the peer', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const rp = remotePid(7);
    p.self.link(rp);
    const w = await watch(table, p.pid);
    table.deliver(p.pid, { kind: 'exit', from: rp, reason: boom, link: true });
    expect(await w.reason()).toBe(boom);
    // Link signal for a process we are not linked to: dropped.
    const q = await probe(table);
    table.deliver(q.pid, { kind: 'exit', from: rp, reason: boom, link: true });
    expect(table.isAlive(q.pid)).toBe(true);
    // Our side dies: EXIT to the remote peer.
    const r = await probe(table);
    r.self.link(rp);
    remote.sent.length = 0;
    table.exit(r.pid, a('bye'));
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'exit', from: r.pid, reason: a('bye'), link: true } },
    ]);
  });

  it('a remote LINK or MONITOR to a missing process is answered with noproc', async () => {
    const { table, remote } = setup();
    const w = await spawnWatched(table, () => undefined);
    await w.reason();
    const rp = remotePid(8);
    const ref = remoteRef(1);
    expect(table.deliver(w.pid, { kind: 'link', from: rp })).toBe(false);
    expect(table.deliver(w.pid, { kind: 'monitor', from: rp, ref })).toBe(false);
    expect(table.deliver(a('nobody'), { kind: 'monitor', from: rp, ref })).toBe(false);
    expect(table.deliver(w.pid, { kind: 'unlink', from: rp, id: 5n })).toBe(false);
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'exit', from: w.pid, reason: atoms.noproc, link: true } },
      { node: REMOTE, to: rp, signal: { kind: 'down', from: w.pid, ref, reason: atoms.noproc } },
      { node: REMOTE, to: rp, signal: { kind: 'down', from: a('nobody'), ref, reason: atoms.noproc } },
      { node: REMOTE, to: rp, signal: { kind: 'unlink_ack', from: w.pid, id: 5n } },
    ]);
  });

  it('exit/2 to a remote pid goes through RemoteSignals; remote exit/2 kill arrives untrappable', async () => {
    const { table, remote } = setup();
    const p = await probe(table, { trapExit: true });
    const rp = remotePid(9);
    p.self.sendExit(rp, atoms.kill);
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'exit', from: p.pid, reason: atoms.kill, link: false } },
    ]);
    const w = await watch(table, p.pid);
    table.deliver(p.pid, { kind: 'exit', from: rp, reason: atoms.kill, link: false });
    expect(await w.reason()).toBe(atoms.killed);
  });

  it('a group_leader signal sets the group leader', async () => {
    const { table } = setup();
    const p = await probe(table);
    const rp = remotePid(10);
    table.deliver(p.pid, { kind: 'group_leader', from: rp, leader: rp });
    expect(p.self.groupLeader).toBe(rp);
  });
});

describe('monitors', () => {
  it('DOWN with the exit reason; one per monitor; Who is the pid', async () => {
    const { table } = setup();
    const watcher = await probe(table);
    const target = await probe(table);
    const r1 = watcher.self.monitor(target.pid);
    const r2 = watcher.self.monitor(target.pid);
    table.exit(target.pid, boom);
    expect(table.messages(watcher.pid)).toEqual([
      t(DOWN, r1, a('process'), target.pid, boom),
      t(DOWN, r2, a('process'), target.pid, boom),
    ]);
    expect(table.info(watcher.pid)?.monitors).toEqual([]);
  });

  it('a dead or unknown target gives DOWN noproc at once', async () => {
    const { table } = setup();
    const w = await spawnWatched(table, () => undefined);
    await w.reason();
    const watcher = await probe(table);
    const r1 = watcher.self.monitor(w.pid);
    const r2 = watcher.self.monitor(a('nobody'));
    const r3 = watcher.self.monitor([a('nobody'), NODE]);
    expect(table.messages(watcher.pid)).toEqual([
      t(DOWN, r1, a('process'), w.pid, atoms.noproc),
      t(DOWN, r2, a('process'), t(a('nobody'), NODE), atoms.noproc),
      t(DOWN, r3, a('process'), t(a('nobody'), NODE), atoms.noproc),
    ]);
  });

  it('by registered name: Who is {Name, Node}', async () => {
    const { table } = setup();
    const watcher = await probe(table);
    const target = await probe(table, { name: a('srv') });
    const ref = watcher.self.monitor(a('srv'));
    expect(table.info(watcher.pid)?.monitors).toEqual([{ ref, target: [a('srv'), NODE] }]);
    table.exit(target.pid, boom);
    expect(await watcher.self.receive({ timeoutMs: 0 })).toEqual(
      t(DOWN, ref, a('process'), t(a('srv'), NODE), boom),
    );
  });

  it('demonitor stops the DOWN; flush removes one already delivered; returns whether it was active', async () => {
    const { table } = setup();
    const watcher = await probe(table);
    const t1 = await probe(table);
    const t2 = await probe(table);
    const r1 = watcher.self.monitor(t1.pid);
    expect(watcher.self.demonitor(r1)).toBe(true);
    expect(table.info(t1.pid)?.monitoredBy).toEqual([]);
    table.exit(t1.pid, boom);
    expect(watcher.self.messageQueueLen).toBe(0);
    const r2 = watcher.self.monitor(t2.pid);
    table.send(watcher.pid, 'other');
    table.exit(t2.pid, boom);
    expect(watcher.self.messageQueueLen).toBe(2);
    expect(watcher.self.demonitor(r2, { flush: true })).toBe(false);
    expect(table.messages(watcher.pid)).toEqual(['other']);
  });

  it('the monitors a dying process holds are removed from their targets', async () => {
    const { table } = setup();
    const watcher = await probe(table);
    const target = await probe(table);
    watcher.self.monitor(target.pid);
    table.exit(watcher.pid, boom);
    expect(table.info(target.pid)?.monitoredBy).toEqual([]);
  });

  it('remote pid: MONITOR_P out, DOWN in; DEMONITOR_P on demonitor', async () => {
    const { table, remote } = setup();
    const watcher = await probe(table);
    const rp = remotePid(11);
    const ref = watcher.self.monitor(rp);
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'monitor', from: watcher.pid, ref } },
    ]);
    table.deliver(watcher.pid, { kind: 'down', from: rp, ref, reason: boom });
    expect(await watcher.self.receive({ timeoutMs: 0 })).toEqual(t(DOWN, ref, a('process'), rp, boom));
    // A DOWN for a monitor no longer held is dropped.
    table.deliver(watcher.pid, { kind: 'down', from: rp, ref, reason: boom });
    expect(watcher.self.messageQueueLen).toBe(0);
    const ref2 = watcher.self.monitor(rp);
    watcher.self.demonitor(ref2);
    expect(remote.sent.at(-1)).toEqual({
      node: REMOTE,
      to: rp,
      signal: { kind: 'demonitor', from: watcher.pid, ref: ref2 },
    });
  });

  it('remote name: MONITOR_P to the atom; the DOWN names {Name, Node}', async () => {
    const { table, remote } = setup();
    const watcher = await probe(table);
    const ref = watcher.self.monitor([a('rex'), REMOTE]);
    expect(remote.sent).toEqual([
      { node: REMOTE, to: a('rex'), signal: { kind: 'monitor', from: watcher.pid, ref, name: a('rex') } },
    ]);
    table.deliver(watcher.pid, { kind: 'down', from: a('rex'), ref, reason: atoms.noproc });
    expect(await watcher.self.receive({ timeoutMs: 0 })).toEqual(
      t(DOWN, ref, a('process'), t(a('rex'), REMOTE), atoms.noproc),
    );
  });

  it('a remote watcher: MONITOR_P in (by pid or name), MONITOR_P_EXIT out with the name atom', async () => {
    const { table, remote } = setup();
    const byPid = await probe(table);
    const byName = await probe(table, { name: a('svc') });
    const rp = remotePid(12);
    const r1 = remoteRef(1);
    const r2 = remoteRef(2);
    expect(table.deliver(byPid.pid, { kind: 'monitor', from: rp, ref: r1 })).toBe(true);
    expect(table.deliver(a('svc'), { kind: 'monitor', from: rp, ref: r2 })).toBe(true);
    expect(table.info(byName.pid)?.monitoredBy).toEqual([rp]);
    table.exit(byPid.pid, boom);
    table.exit(byName.pid, boom);
    expect(remote.sent).toEqual([
      { node: REMOTE, to: rp, signal: { kind: 'down', from: byPid.pid, ref: r1, reason: boom } },
      { node: REMOTE, to: rp, signal: { kind: 'down', from: a('svc'), ref: r2, reason: boom } },
    ]);
  });

  it('a remote DEMONITOR_P removes the monitor', async () => {
    const { table, remote } = setup();
    const target = await probe(table);
    const rp = remotePid(13);
    const ref = remoteRef(3);
    table.deliver(target.pid, { kind: 'monitor', from: rp, ref });
    table.deliver(target.pid, { kind: 'demonitor', from: rp, ref });
    table.exit(target.pid, boom);
    expect(remote.sent).toEqual([]);
  });
});

describe('handleNodeDown', () => {
  it('fires links (noconnection), monitors (DOWN noconnection), node monitors ({nodedown, N}) over that node only', async () => {
    const { table, remote } = setup();
    const other = a('other@host');
    const rp = remotePid(1);
    const rpOther = remotePid(2, other);
    const plain = await probe(table);
    const trapper = await probe(table, { trapExit: true });
    const watcher = await probe(table);
    const w = await watch(table, plain.pid);
    plain.self.link(rp);
    trapper.self.link(rp);
    trapper.self.link(rpOther);
    const byPid = watcher.self.monitor(rp);
    const byName = watcher.self.monitor([a('reg'), REMOTE]);
    const elsewhere = watcher.self.monitor(rpOther);
    watcher.self.monitorNode(REMOTE);
    watcher.self.monitorNode(REMOTE);
    watcher.self.monitorNode(REMOTE);
    watcher.self.monitorNode(REMOTE, false);
    expect(remote.nodeMonitors.map((m) => m.on)).toEqual([true, true, true, false]);

    table.handleNodeDown(REMOTE);

    expect(await w.reason()).toBe(atoms.noconnection);
    expect(table.messages(trapper.pid)).toEqual([t(EXIT, rp, atoms.noconnection)]);
    expect(table.info(trapper.pid)?.links).toEqual([rpOther]);
    expect(table.messages(watcher.pid)).toEqual([
      t(DOWN, byPid, a('process'), rp, atoms.noconnection),
      t(DOWN, byName, a('process'), t(a('reg'), REMOTE), atoms.noconnection),
      t(a('nodedown'), REMOTE),
      t(a('nodedown'), REMOTE),
    ]);
    expect(table.info(watcher.pid)?.monitors).toEqual([{ ref: elsewhere, target: rpOther }]);
    // Nothing fires twice.
    table.handleNodeDown(REMOTE);
    expect(watcher.self.messageQueueLen).toBe(4);
  });

  it('drops monitors and links held by processes of that node, so nothing is sent there later', async () => {
    const { table, remote } = setup();
    const target = await probe(table);
    const rp = remotePid(3);
    table.deliver(target.pid, { kind: 'monitor', from: rp, ref: remoteRef(1) });
    table.deliver(target.pid, { kind: 'link', from: rp });
    const w = await watch(table, target.pid);
    table.handleNodeDown(REMOTE);
    // The link fired (target not trapping): it died of noconnection, and told nobody remote.
    expect(await w.reason()).toBe(atoms.noconnection);
    expect(remote.sent).toEqual([]);
  });

  it('a dead node-monitoring process turns its node monitors off', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    p.self.monitorNode(REMOTE);
    p.self.monitorNode(REMOTE);
    table.exit(p.pid, boom);
    expect(remote.nodeMonitors.map((m) => m.on)).toEqual([true, true, false, false]);
  });
});

describe('aliases', () => {
  it('an alias routes messages until unalias; then they are dropped', async () => {
    const { table } = setup();
    const p = await probe(table);
    const alias = p.self.alias();
    table.send(alias, 'one');
    expect(table.deliver(alias, { kind: 'message', message: 'two' })).toBe(true);
    expect(p.self.unalias(alias)).toBe(true);
    expect(p.self.unalias(alias)).toBe(false);
    table.send(alias, 'three');
    expect(table.deliver(alias, { kind: 'message', message: 'four' })).toBe(false);
    expect(table.messages(p.pid)).toEqual(['one', 'two']);
  });

  it('alias({reply: true}) takes one message', async () => {
    const { table } = setup();
    const p = await probe(table);
    const alias = p.self.alias({ reply: true });
    table.send(alias, 'r1');
    table.send(alias, 'r2');
    expect(table.messages(p.pid)).toEqual(['r1']);
  });

  it('only the owner can unalias; a dead process’s aliases are gone; non-message signals are refused', async () => {
    const { table } = setup();
    const p = await probe(table);
    const q = await probe(table);
    const alias = p.self.alias();
    expect(q.self.unalias(alias)).toBe(false);
    expect(table.deliver(alias, { kind: 'link', from: q.pid })).toBe(false);
    table.exit(p.pid, boom);
    expect(table.deliver(alias, { kind: 'message', message: 'x' })).toBe(false);
  });

  it('monitor alias "demonitor": messages arrive until the DOWN, then are dropped (gen_server call)', async () => {
    const { table } = setup();
    const caller = await probe(table);
    const server = await probe(table);
    const mref = caller.self.monitor(server.pid, { alias: 'demonitor' });
    server.self.send(mref, t(mref, 'reply'));
    table.exit(server.pid, boom);
    table.send(mref, 'late');
    expect(table.messages(caller.pid)).toEqual([
      t(mref, 'reply'),
      t(DOWN, mref, a('process'), server.pid, boom),
    ]);
  });

  it('monitor alias "demonitor": demonitor deactivates the alias', async () => {
    const { table } = setup();
    const caller = await probe(table);
    const server = await probe(table);
    const mref = caller.self.monitor(server.pid, { alias: 'demonitor' });
    caller.self.demonitor(mref);
    expect(table.deliver(mref, { kind: 'message', message: 'late' })).toBe(false);
  });

  it('monitor alias "reply_demonitor": the first reply demonitors', async () => {
    const { table } = setup();
    const caller = await probe(table);
    const server = await probe(table);
    const mref = caller.self.monitor(server.pid, { alias: 'reply_demonitor' });
    table.send(mref, 'reply');
    expect(table.info(server.pid)?.monitoredBy).toEqual([]);
    table.send(mref, 'second');
    table.exit(server.pid, boom);
    expect(table.messages(caller.pid)).toEqual(['reply']);
  });

  it('monitor alias "explicit_unalias" outlives the monitor; a remote reply through ALIAS_SEND arrives', async () => {
    const { table } = setup();
    const caller = await probe(table);
    const server = await probe(table);
    const mref = caller.self.monitor(server.pid, { alias: 'explicit_unalias' });
    table.exit(server.pid, boom);
    expect(table.deliver(mref, { kind: 'message', from: remotePid(1), message: 'remote reply' })).toBe(true);
    expect(table.messages(caller.pid)).toEqual([
      t(DOWN, mref, a('process'), server.pid, boom),
      'remote reply',
    ]);
  });

  it('a monitor alias on a missing target goes with its monitor', async () => {
    const { table } = setup();
    const caller = await probe(table);
    const mref = caller.self.monitor(a('nobody'), { alias: 'demonitor' });
    expect(table.deliver(mref, { kind: 'message', message: 'x' })).toBe(false);
    expect(table.messages(caller.pid)).toEqual([
      t(DOWN, mref, a('process'), t(a('nobody'), NODE), atoms.noproc),
    ]);
  });

  it('a reference of another node or creation is never a local alias', async () => {
    const { table, remote } = setup();
    const p = await probe(table);
    const alias = p.self.alias();
    const foreign = new Reference(NODE, 6, alias.ids);
    expect(table.deliver(foreign, { kind: 'message', message: 'x' })).toBe(false);
    table.send(new Reference(REMOTE, 3, alias.ids), 'y');
    expect(remote.sent.length).toBe(1);
    expect(p.self.messageQueueLen).toBe(0);
  });
});

describe('property: exit signals on a real table follow the manual', () => {
  const reasons: Term[] = [atoms.normal, atoms.kill, atoms.killed, boom, t(a('shutdown'), 1)];

  it('for random trap_exit, reason, link flag and link state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.constantFrom(...reasons),
        fc.constantFrom('link-active', 'link-unlinking', 'no-link', 'exit2', 'exit2-self'),
        async (trap, reason, how) => {
          const { table } = setup();
          const p = await probe(table, { trapExit: trap });
          const rp = remotePid(1);
          if (how === 'link-active') table.deliver(p.pid, { kind: 'link', from: rp });
          if (how === 'link-unlinking') {
            p.self.link(rp);
            p.self.unlink(rp);
          }
          const isLink = how.startsWith('link') || how === 'no-link';
          const from = how === 'exit2-self' ? p.pid : rp;
          table.deliver(p.pid, { kind: 'exit', from, reason, link: isLink });

          const alive = table.isAlive(p.pid);
          const queued = alive ? (table.messages(p.pid) ?? []) : [];
          // Expected, from the Reference Manual, sentence by sentence.
          if (isLink && how !== 'link-active') return alive && queued.length === 0;
          if (!isLink && reason === atoms.kill) return !alive;
          if (trap) return alive && queued.length === 1 && equalTuple(queued[0], t(EXIT, from, reason));
          if (reason === atoms.normal) return how === 'exit2-self' ? !alive : alive && queued.length === 0;
          return !alive;
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the reason a killed process reports matches: killed for exit/2 kill, else the signal reason', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...reasons.filter((r) => r !== atoms.normal)),
        fc.boolean(),
        async (reason, link) => {
          const { table } = setup();
          const p = await probe(table);
          const rp = remotePid(1);
          if (link) table.deliver(p.pid, { kind: 'link', from: rp });
          const watcher = await probe(table);
          const ref = watcher.self.monitor(p.pid);
          table.deliver(p.pid, { kind: 'exit', from: rp, reason, link });
          const down = (await watcher.self.receive({ match: isDown(ref), timeoutMs: 0 })) as Tuple;
          const expected = !link && reason === atoms.kill ? atoms.killed : reason;
          expect(down.elements[4]).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});

function equalTuple(x: Term | undefined, y: Tuple): boolean {
  if (!(x instanceof Tuple) || x.length !== y.length) return false;
  return x.elements.every((e, i) => {
    const f = y.elements[i];
    if (e instanceof Pid && f instanceof Pid) return e === f || (e.id === f.id && e.node === f.node);
    if (e instanceof Tuple && f instanceof Tuple) return equalTuple(e, f);
    return e === f;
  });
}

describe('spawnExited: a process born exited (an erpc call to a synchronous function)', () => {
  it('announces its pid first, then sends the exit signal to the linker and the DOWN to the watcher', () => {
    const { table, remote } = setup();
    const linker = remotePid(1);
    const watcher = remotePid(2);
    const ref = remoteRef(9);
    let sentAtAnnounce = -1;
    const pid = table.spawnExited(linker, { watcher, ref }, boom, () => {
      sentAtAnnounce = remote.sent.length;
    });
    expect(sentAtAnnounce).toBe(0);
    expect(pid.node).toBe(NODE);
    expect(table.isAlive(pid)).toBe(false);
    expect(remote.sent.map((s) => [s.to, s.signal])).toEqual([
      [linker, { kind: 'exit', from: pid, reason: boom, link: true }],
      [watcher, { kind: 'down', from: pid, ref, reason: boom }],
    ]);
  });

  it('tells local processes as a real exit would, and its pid is never handed out again', async () => {
    const { table } = setup();
    const trapper = await probe(table, { trapExit: true });
    const watcher = await probe(table);
    const ref = new Reference(NODE, 7, [1, 2, 3]);
    const pid = table.spawnExited(trapper.pid, { watcher: watcher.pid, ref }, boom, () => {});
    expect(await trapper.self.receive({ timeoutMs: 1000 })).toEqual(t(EXIT, pid, boom));
    expect(await watcher.self.receive({ timeoutMs: 1000 })).toEqual(t(DOWN, ref, a('process'), pid, boom));
    const next = await probe(table);
    const quiet = table.spawnExited(undefined, undefined, atoms.normal, () => {});
    expect(new Set([pid, next.pid, quiet].map(String)).size).toBe(3);
    // A late monitor of it is answered noproc, as for any process that is gone.
    const late = watcher.self.monitor(pid);
    expect(await watcher.self.receive({ match: isDown(late), timeoutMs: 1000 })).toEqual(
      t(DOWN, late, a('process'), pid, atoms.noproc),
    );
  });

  it('throws as spawn does once the table is stopped, before announcing anything', () => {
    const { table } = setup();
    table.stopAll(a('shutdown'));
    let announced = false;
    expect(() =>
      table.spawnExited(remotePid(1), undefined, boom, () => {
        announced = true;
      }),
    ).toThrow(ProcessError);
    expect(announced).toBe(false);
  });
});
