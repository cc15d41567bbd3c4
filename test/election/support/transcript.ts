/**
 * Transcript tests in the etcd-raft `testdata` manner: a script of commands, each followed by
 * `----` and the output it must print. `UPDATE_TESTDATA=1` rewrites the expectations.
 *
 * Nodes are named 1..n, each with its own hand-driven clock, seeded randomness and in-memory
 * storage. Messages wait in a queue until `deliver-msgs` or `stabilize` hands them over, so a
 * script controls every interleaving. Commands:
 *
 *   add-nodes N [prevote=bool] [checkquorum=bool] [drift=R] [min=MS] [max=MS] [heartbeat=MS]
 *   tick-election ID         set ID's clock to its next deadline and tick
 *   advance MS [ID...]       move the clocks of ID... (default all live nodes) on by MS, then tick them
 *   move-clock MS [ID...]    move the clocks on by MS without ticking (messages still see the time)
 *   deliver-msgs [ID...]     deliver the queued messages addressed to ID... (default all), once
 *   deliver-one FROM TO      deliver the first queued message from FROM to TO
 *   stabilize                deliver until no message is left
 *   drop-msgs [ID...]        discard queued messages addressed to ID... (default all)
 *   isolate ID / cut A B / heal   network faults, applied at delivery
 *   crash ID / restart ID    stop a node (its queue is lost) / start it again from its storage
 *   status                   one line per node
 *   lease ID                 the fencing token, or the error code
 *   inject TO FROM TYPE key=value...   step one hand-made message into TO
 *   change-voters ID ID...   ask ID to change voters (expected to fail)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ElectionError } from '../../../src/cluster/election/errors.ts';
import {
  type ElectionMessage,
  type NodeId,
  parseElectionMessage,
} from '../../../src/cluster/election/messages.ts';
import { type ElectionEvent, RaftElection } from '../../../src/cluster/election/raft.ts';
import { MemoryStorage } from '../../../src/cluster/election/storage.ts';
import { Prng } from '../../../src/sim/prng.ts';

interface Block {
  readonly comments: string[];
  readonly command: string;
  readonly expected: string;
}

/** Splits a transcript file into blocks. */
export function parseTranscript(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('#')) {
      comments.push(line);
      i++;
      continue;
    }
    const command = line;
    if (lines[i + 1] !== '----') throw new Error(`line ${i + 2}: expected ---- after "${command}"`);
    i += 2;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    blocks.push({ comments, command, expected: out.join('\n') });
    comments = [];
  }
  return blocks;
}

/** Runs a transcript file; returns the expected and actual renderings (rewrites it when updating). */
export function runTranscriptFile(path: string): { expected: string; actual: string } {
  const text = readFileSync(path, 'utf8');
  const blocks = parseTranscript(text);
  const h = new TranscriptCluster();
  const render = (outputs: string[]): string =>
    `${blocks.map((b, i) => [...b.comments, b.command, '----', outputs[i]!].join('\n')).join('\n\n')}\n`;
  const actualOutputs = blocks.map((b) => {
    const out = h.run(b.command);
    return out === '' ? 'ok' : out;
  });
  const expected = render(blocks.map((b) => b.expected));
  const actual = render(actualOutputs);
  if (process.env.UPDATE_TESTDATA === '1' && actual !== text) writeFileSync(path, actual);
  return { expected, actual };
}

interface Member {
  readonly id: NodeId;
  node: RaftElection | undefined;
  readonly clock: { t: number; now(): number };
  readonly storage: MemoryStorage;
  readonly rng: Prng;
}

/** The cluster a transcript drives. */
export class TranscriptCluster {
  readonly members: Map<NodeId, Member> = new Map();
  queue: ElectionMessage[] = [];
  readonly cut: Set<string> = new Set();
  readonly isolated: Set<NodeId> = new Set();
  config: Record<string, number | boolean> = {};

  run(command: string): string {
    const [cmd, ...args] = command.trim().split(/\s+/);
    const out: string[] = [];
    switch (cmd) {
      case 'add-nodes':
        this.addNodes(Number(args[0]), args.slice(1));
        break;
      case 'tick-election': {
        const m = this.member(args[0]!);
        const node = this.live(m);
        m.clock.t = Math.max(m.clock.t, node.nextDeadline());
        node.tick();
        this.collect(m, out);
        break;
      }
      case 'advance': {
        const ms = Number(args[0]);
        const ids = args.length > 1 ? args.slice(1) : [...this.members.keys()];
        for (const id of ids) {
          const m = this.member(id);
          if (m.node === undefined) continue;
          m.clock.t += ms;
          m.node.tick();
          this.collect(m, out);
        }
        break;
      }
      case 'move-clock': {
        const ms = Number(args[0]);
        const ids = args.length > 1 ? args.slice(1) : [...this.members.keys()];
        for (const id of ids) this.member(id).clock.t += ms;
        break;
      }
      case 'deliver-msgs':
        this.deliver(args.length > 0 ? new Set(args) : undefined, out);
        break;
      case 'deliver-one': {
        const msg = this.queue.find((m) => m.from === args[0] && m.to === args[1]);
        if (msg === undefined) throw new Error(`no queued message ${args[0]}->${args[1]}`);
        this.queue = this.queue.filter((m) => m !== msg);
        this.queue.unshift(msg);
        this.deliver(new Set([msg.to]), out, 1);
        break;
      }
      case 'stabilize':
        for (let round = 0; this.queue.length > 0; round++) {
          if (round > 100) throw new Error('stabilize: no end in sight');
          this.deliver(undefined, out);
        }
        break;
      case 'drop-msgs': {
        const only = args.length > 0 ? new Set(args) : undefined;
        const dropped = this.queue.filter((m) => only === undefined || only.has(m.to));
        this.queue = this.queue.filter((m) => !dropped.includes(m));
        for (const m of dropped) out.push(`${m.from}->${m.to} ${formatMessage(m)} (dropped)`);
        break;
      }
      case 'isolate':
        this.isolated.add(args[0]!);
        break;
      case 'cut':
        this.cut.add(`${args[0]}-${args[1]}`);
        this.cut.add(`${args[1]}-${args[0]}`);
        break;
      case 'heal':
        this.cut.clear();
        this.isolated.clear();
        break;
      case 'crash': {
        const m = this.member(args[0]!);
        m.node = undefined;
        this.queue = this.queue.filter((q) => q.to !== m.id);
        break;
      }
      case 'restart': {
        const m = this.member(args[0]!);
        m.node = this.build(m);
        out.push(`${m.id}: restarted ${describeState(m.node)}`);
        break;
      }
      case 'status':
        for (const m of this.members.values()) {
          out.push(m.node === undefined ? `${m.id}: down` : `${m.id}: ${describeState(m.node)}`);
        }
        break;
      case 'lease': {
        const m = this.member(args[0]!);
        const node = this.live(m);
        try {
          const token = node.fencingToken();
          out.push(`${m.id}: lease until ${fmt(node.leaseExpiresAt()!)} token=${token}`);
        } catch (err) {
          out.push(`${m.id}: ${errorCode(err)}`);
        }
        break;
      }
      case 'inject': {
        const to = this.member(args[0]!);
        const fields: Record<string, unknown> = { from: args[1], to: to.id, type: args[2] };
        fields.voterSet = this.live(to).voterSet;
        for (const kv of args.slice(3)) {
          const [k, v] = kv.split('=') as [string, string];
          fields[k] = v === 'true' ? true : v === 'false' ? false : /^-?[\d.]+$/.test(v) ? Number(v) : v;
        }
        try {
          const msg = parseElectionMessage(fields);
          out.push(`${msg.from}->${msg.to} ${formatMessage(msg)}`);
          this.live(to).step(msg);
          this.collect(to, out);
        } catch (err) {
          out.push(`${to.id}: error ${errorCode(err)}`);
        }
        break;
      }
      case 'change-voters': {
        const m = this.member(args[0]!);
        try {
          this.live(m).changeVoters(args.slice(1));
        } catch (err) {
          out.push(`${m.id}: error ${errorCode(err)}: ${(err as Error).message}`);
        }
        break;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
    return out.join('\n');
  }

  private addNodes(n: number, opts: string[]): void {
    for (const kv of opts) {
      const [k, v] = kv.split('=') as [string, string];
      const key = {
        prevote: 'preVote',
        checkquorum: 'checkQuorum',
        drift: 'maxClockDriftRate',
        min: 'electionTimeoutMinMs',
        max: 'electionTimeoutMaxMs',
        heartbeat: 'heartbeatIntervalMs',
      }[k];
      if (key === undefined) throw new Error(`add-nodes: unknown option ${k}`);
      this.config[key] = v === 'true' ? true : v === 'false' ? false : Number(v);
    }
    const ids = Array.from({ length: n }, (_, i) => String(i + 1));
    for (const id of ids) {
      const clock = {
        t: 0,
        now(): number {
          return this.t;
        },
      };
      const m: Member = {
        id,
        node: undefined,
        clock,
        storage: new MemoryStorage(),
        rng: new Prng(Number(id)),
      };
      this.members.set(id, m);
    }
    this.voters = ids;
    for (const m of this.members.values()) m.node = this.build(m);
  }

  private voters: NodeId[] = [];

  private build(m: Member): RaftElection {
    return new RaftElection({
      id: m.id,
      voters: this.voters,
      clock: m.clock,
      rng: m.rng,
      hardState: m.storage.loadSync(),
      config: this.config,
    });
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no node ${id}`);
    return m;
  }

  private live(m: Member): RaftElection {
    if (m.node === undefined) throw new Error(`node ${m.id} is down`);
    return m.node;
  }

  private deliver(only: Set<string> | undefined, out: string[], limit = Number.POSITIVE_INFINITY): void {
    const batch = this.queue.filter((m) => only === undefined || only.has(m.to)).slice(0, limit);
    this.queue = this.queue.filter((m) => !batch.includes(m));
    for (const msg of batch) {
      const to = this.members.get(msg.to)!;
      const blocked =
        this.isolated.has(msg.from) || this.isolated.has(msg.to) || this.cut.has(`${msg.from}-${msg.to}`);
      if (to.node === undefined || blocked) {
        out.push(`${msg.from}->${msg.to} ${formatMessage(msg)} (dropped)`);
        continue;
      }
      out.push(`${msg.from}->${msg.to} ${formatMessage(msg)}`);
      to.node.step(msg);
      this.collect(to, out);
    }
  }

  /** Performs a node's Ready as a driver must: persist, then send, then advance. */
  private collect(m: Member, out: string[]): void {
    const node = this.live(m);
    if (!node.hasReady()) return;
    const rd = node.ready();
    if (rd.hardState !== undefined) {
      m.storage.saveSync(rd.hardState);
      out.push(`  ${m.id}: persist term=${rd.hardState.term} vote=${rd.hardState.vote ?? '-'}`);
    }
    for (const e of rd.events) out.push(`  ${m.id}: ${formatEvent(e)}`);
    for (const msg of rd.messages) {
      out.push(`  ${m.id}: send ${msg.to} ${formatMessage(msg)}`);
      this.queue.push(msg);
    }
    node.advance();
  }
}

function describeState(n: RaftElection): string {
  const s = n.status();
  const lease = s.leaseExpiresAt === null ? '' : ` lease<${fmt(s.leaseExpiresAt)}`;
  return `${s.role} term=${s.term} vote=${s.vote ?? '-'} leader=${s.leader ?? '-'}${lease} next=${fmt(n.nextDeadline())}`;
}

/** A message without its addressing, for transcripts. */
export function formatMessage(m: ElectionMessage): string {
  switch (m.type) {
    case 'PreVoteResponse':
    case 'RequestVoteResponse':
      return `${m.type} term=${m.term} ${m.granted ? 'granted' : 'rejected'}`;
    case 'Heartbeat':
      return `${m.type} term=${m.term} sentAt=${fmt(m.sentAt)}`;
    case 'HeartbeatResponse':
      return `${m.type} term=${m.term} sentAt=${fmt(m.sentAt)} ${m.ok ? 'ok' : 'rejected'}`;
    default:
      return `${m.type} term=${m.term}`;
  }
}

function formatEvent(e: ElectionEvent): string {
  if (e.type === 'role-changed') return `became ${e.role} term=${e.term}`;
  return `leader ${e.leader ?? 'unknown'} term=${e.term}`;
}

function fmt(t: number): string {
  return String(Math.round(t * 10) / 10);
}

function errorCode(err: unknown): string {
  if (err instanceof ElectionError) return err.code;
  throw err;
}
