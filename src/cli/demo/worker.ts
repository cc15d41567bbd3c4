/**
 * One node of `distribute demo`, run as its own OS process by the parent (cluster.ts) through
 * `child_process.fork`. It starts a visible TypeScript node on the demo's EPMD, joins the
 * election (its term and vote in a file, so a restart never votes twice in a term) and the pg
 * group `demo` with a chat process, then does what the parent asks (demo/protocol.ts) and
 * reports a snapshot of its beliefs several times a second.
 *
 * It exits when the parent goes: the IPC channel closes (`disconnect`) whether the parent
 * exited, crashed or was killed, so a demo never leaves orphans.
 *
 * @module
 */
import { FileStorage } from '../../cluster/election/storage.ts';
import type { MemberChange } from '../../cluster/membership/node-membership.ts';
import { Node } from '../../node/node.ts';
import { inspect } from '../../term/inspect.ts';
import { atom, Pid, type Term, tuple } from '../../term/types.ts';
import { exposeBuiltins, exposeClusterBuiltins } from '../builtins.ts';
import {
  type CallResult,
  type ChildConfig,
  CONFIG_ENV,
  DEMO_GLOBAL_NAME,
  DEMO_GROUP,
  type DemoReport,
  type DemoRequest,
  type ErlCheck,
  type MemberView,
  SNAPSHOT_INTERVAL_MS,
  type Snapshot,
} from './protocol.ts';

/** Counters and event times of one demo node (the parts of a snapshot the node cannot tell). */
interface Observed {
  chat: number;
  served: number;
  /** When each member took its current status here. */
  readonly since: Map<string, number>;
  leaderSince: number;
}

/** Sends `r` to the parent; `sent` runs once it is handed to the channel (or at once without one). */
function report(r: DemoReport, sent?: () => void): void {
  if (process.send !== undefined && process.connected) process.send(r, undefined, {}, () => sent?.());
  else sent?.();
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function snapshot(node: Node, seen: Observed): Snapshot {
  const members: MemberView[] = node.membership.members().map((m) => ({
    node: m.node,
    status: m.status,
    incarnation: m.incarnation,
    since: seen.since.get(m.node) ?? 0,
  }));
  const self = members.find((m) => m.node === node.name);
  const election = node.election.service;
  const leader = node.election.leader();
  const pg = node.groups
    .members(atom(DEMO_GROUP))
    .map((p) => p.node.name)
    .sort();
  const where = node.global.whereis(atom(DEMO_GLOBAL_NAME));
  const ms = node.membership.stats();
  return {
    node: node.name,
    at: Date.now(),
    incarnation: self?.incarnation ?? -1,
    members,
    leader: leader === undefined ? null : { node: leader.node, term: leader.term },
    leaderSince: seen.leaderSince,
    role: election?.role ?? 'stopped',
    term: election?.term ?? 0,
    pg,
    global: where === undefined ? null : where.node.name,
    messages: ms.received + (election?.stats.received ?? 0) + seen.chat + seen.served,
    connected: node.nodes('connected').sort(),
  };
}

/** The chat process: a member of the pg group, counting what the group sends it. */
function startChat(node: Node, seen: Observed): Pid {
  const pid = node.spawn(async (self) => {
    for await (const _ of self) seen.chat++;
  });
  node.groups.join(atom(DEMO_GROUP), pid);
  return pid;
}

/** The worker behind the global name: answers `{hello, From}` with `{hello_from, Node, Count}`. */
async function registerWorker(node: Node, seen: Observed): Promise<string> {
  const pid = await node.spawnServer<number>({
    init: () => 0,
    handleCall: (_request, _from, n) => {
      seen.served++;
      return { reply: tuple(atom('hello_from'), node.atom, n + 1), state: n + 1 };
    },
  });
  const ok = await node.global.register(atom(DEMO_GLOBAL_NAME), pid);
  if (!ok) throw new Error(`${DEMO_GLOBAL_NAME} is already registered`);
  return inspect(pid);
}

async function callWorker(node: Node): Promise<CallResult> {
  const t0 = performance.now();
  const reply = await node.global.call(atom(DEMO_GLOBAL_NAME), tuple(atom('hello'), node.atom), {
    timeoutMs: 5000,
  });
  return { reply: inspect(reply), ms: performance.now() - t0 };
}

/** Asks the Erlang node, over RPC, what it sees of the group and the global name, and calls it. */
async function erlCheck(node: Node, erl: string): Promise<ErlCheck> {
  const t0 = performance.now();
  const opts = { timeoutMs: 10_000 };
  const members = await node.rpc.call(erl, 'pg', 'get_members', [atom(DEMO_GROUP)], opts);
  const pgNodes = (Array.isArray(members) ? (members as readonly Term[]) : [])
    .flatMap((p) => (p instanceof Pid ? [p.node.name] : []))
    .sort();
  const where = await node.rpc.call(erl, 'global', 'whereis_name', [atom(DEMO_GLOBAL_NAME)], opts);
  // Call only once erl's global knows the name; until then the parent asks again.
  let reply = 'not registered on erl yet';
  if (where instanceof Pid) {
    try {
      const r = await node.rpc.call(
        erl,
        'gen_server',
        'call',
        [tuple(atom('global'), atom(DEMO_GLOBAL_NAME)), tuple(atom('hello'), atom(erl)), 5000],
        opts,
      );
      reply = inspect(r);
    } catch (e) {
      reply = errorText(e);
    }
  }
  return {
    pgNodes,
    globalNode: where instanceof Pid ? where.node.name : null,
    reply: inspect(reply),
    ms: performance.now() - t0,
  };
}

async function main(): Promise<void> {
  const raw = process.env[CONFIG_ENV];
  if (raw === undefined) throw new Error(`${CONFIG_ENV} is not set: this file is run by distribute demo`);
  const config = JSON.parse(raw) as ChildConfig;
  const node = await Node.start({
    name: config.name,
    cookie: config.cookie,
    hidden: false,
    epmd: { host: '127.0.0.1', port: config.epmdPort },
    listen: { host: '127.0.0.1' },
  });
  const seen: Observed = { chat: 0, served: 0, since: new Map(), leaderSince: Date.now() };
  let stopping = false;
  const exit = (code: number): void => {
    stopping = true;
    process.exit(code);
  };
  // The parent went away (exit, crash or SIGKILL): so do we.
  process.on('disconnect', () => exit(0));

  exposeBuiltins(node);
  exposeClusterBuiltins(node);
  node.membership.on('change', (c: MemberChange) => seen.since.set(c.node, Date.now()));
  node.election.on('leader', () => {
    seen.leaderSince = Date.now();
  });
  node.election.on('error', (e) => report({ t: 'fatal', message: `election: ${e.message}` }));
  await node.election.start({
    voters: config.voters,
    storage: new FileStorage(config.electionFile),
    config: {
      electionTimeoutMinMs: config.electionTimeoutMinMs,
      electionTimeoutMaxMs: config.electionTimeoutMaxMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
    },
  });
  const chat = startChat(node, seen);
  let seq = 0;
  const chatter = setInterval(() => {
    if (!stopping) node.groups.broadcast(atom(DEMO_GROUP), tuple(atom('chat'), node.atom, ++seq));
  }, config.chatIntervalMs);
  const ticker = setInterval(() => {
    if (!stopping) report({ t: 'snapshot', snapshot: snapshot(node, seen) });
  }, SNAPSHOT_INTERVAL_MS);

  const handle = async (req: DemoRequest): Promise<unknown> => {
    switch (req.t) {
      case 'membership': {
        const address = await node.membership.start({
          seeds: req.seeds,
          profile: 'local',
          probeIntervalMs: config.probeIntervalMs,
          config: { retransmitMult: config.retransmitMult, pushPullIntervalMs: config.pushPullIntervalMs },
          autoConnect: true,
        });
        seen.since.set(node.name, Date.now());
        return address;
      }
      case 'register':
        return await registerWorker(node, seen);
      case 'call':
        return await callWorker(node);
      case 'connect':
        await node.connect(req.node);
        return true;
      case 'erl-check':
        return await erlCheck(node, req.erl);
      case 'leave': {
        // Graceful: the group and the election first, then SWIM says `left`, then the node.
        clearInterval(chatter);
        node.groups.leave(atom(DEMO_GROUP), chat);
        await node.election.stop();
        await node.membership.leave();
        report({ t: 'snapshot', snapshot: snapshot(node, seen) });
        clearInterval(ticker);
        stopping = true;
        await node.stop();
        return true;
      }
    }
  };
  process.on('message', (msg: DemoRequest) => {
    handle(msg).then(
      (value) => report({ t: 'result', id: msg.id, ok: true, value }, () => msg.t === 'leave' && exit(0)),
      (e: unknown) => report({ t: 'result', id: msg.id, ok: false, error: errorText(e) }),
    );
  });
  report({ t: 'up', node: node.name, port: node.port, creation: node.creation });
}

main().catch((e: unknown) => {
  report({ t: 'fatal', message: errorText(e) }, () => process.exit(1));
});
