/**
 * Transcript tests (etcd-raft style): each file in testdata/ is a script of commands (lines
 * starting with `> `) driving one SWIM core, each followed by the exact output expected: the
 * packets it sends and the events it reports. `UPDATE_TESTDATA=1` rewrites the expectations
 * from the actual output (then review the diff). Comments (`#`) are kept.
 *
 * Commands:
 *   new <id> [members=a,b] [seed=N] [incarnation=N] [lifeguard=off] [gossip=<ms>] [autoack=a,b]
 *        autoack: pings to these members are answered at once by the runner and not printed
 *        (so a transcript about something else is not cluttered by routine probing)
 *   recv <from> <body> [| gossip gossip ...]     body: ping seq=N target=X | ack seq=N | nack seq=N
 *        | ping-req seq=N target=X [nack] | push-pull [join] [reply] members=id:status@inc,... | gossip
 *        gossip: alive:id@inc | suspect:id@inc:from | dead:id@inc:from
 *   tick +<ms>      advance the clock, ticking whenever the core asks; output lines carry their time (@ms)
 *   join <seed>,... | leave | members | health
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultLanConfig, withoutLifeguard } from '../../src/cluster/membership/config.ts';
import type {
  Body,
  Gossip,
  MemberState,
  MemberStatus,
  Packet,
} from '../../src/cluster/membership/messages.ts';
import { type MemberEvent, type Ready, Swim } from '../../src/cluster/membership/swim.ts';
import { Prng } from '../../src/sim/prng.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const update = process.env.UPDATE_TESTDATA === '1';

function parseGossip(s: string): Gossip {
  const m = /^(alive|suspect|dead):([^@]+)@(\d+)(?::(.+))?$/.exec(s);
  if (m === null) throw new Error(`bad gossip ${s}`);
  const [, kind, id, inc, other] = m;
  const incarnation = Number(inc);
  if (kind === 'alive') return { kind: 'alive', id: id!, incarnation, address: other ?? id! };
  if (other === undefined) throw new Error(`gossip ${s} needs :from`);
  return { kind: kind as 'suspect' | 'dead', id: id!, incarnation, from: other };
}

function fmtGossip(g: Gossip): string {
  if (g.kind === 'alive') return `alive:${g.id}@${g.incarnation}${g.address === g.id ? '' : `:${g.address}`}`;
  return `${g.kind}:${g.id}@${g.incarnation}:${g.from}`;
}

function kv(words: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const w of words) {
    const i = w.indexOf('=');
    if (i < 0) m.set(w, 'true');
    else m.set(w.slice(0, i), w.slice(i + 1));
  }
  return m;
}

function parseBody(words: string[]): Body {
  const [type, ...rest] = words;
  const a = kv(rest);
  const num = (k: string): number => Number(a.get(k) ?? Number.NaN);
  switch (type) {
    case 'ping':
      return { type: 'ping', seq: num('seq'), target: a.get('target')! };
    case 'ack':
      return { type: 'ack', seq: num('seq') };
    case 'nack':
      return { type: 'nack', seq: num('seq') };
    case 'ping-req':
      return {
        type: 'ping-req',
        seq: num('seq'),
        target: a.get('target')!,
        targetAddress: a.get('addr') ?? a.get('target')!,
        nack: a.has('nack'),
      };
    case 'push-pull': {
      const members: MemberState[] = (a.get('members') ?? '')
        .split(',')
        .filter((x) => x !== '')
        .map((x) => {
          const m = /^([^:]+):(alive|suspect|dead|left)@(\d+)$/.exec(x);
          if (m === null) throw new Error(`bad member ${x}`);
          return { id: m[1]!, address: m[1]!, status: m[2] as MemberStatus, incarnation: Number(m[3]) };
        });
      return { type: 'push-pull', join: a.has('join'), reply: a.has('reply'), members };
    }
    case 'gossip':
      return { type: 'gossip' };
    default:
      throw new Error(`bad body ${words.join(' ')}`);
  }
}

function fmtBody(b: Body): string {
  switch (b.type) {
    case 'ping':
      return `ping seq=${b.seq} target=${b.target}`;
    case 'ack':
    case 'nack':
      return `${b.type} seq=${b.seq}`;
    case 'ping-req':
      return `ping-req seq=${b.seq} target=${b.target}${b.targetAddress === b.target ? '' : ` addr=${b.targetAddress}`}${b.nack ? ' nack' : ''}`;
    case 'push-pull':
      return `push-pull${b.join ? ' join' : ''}${b.reply ? ' reply' : ''} members=${[...b.members]
        .sort((x, y) => (x.id < y.id ? -1 : 1))
        .map((m) => `${m.id}:${m.status}@${m.incarnation}`)
        .join(',')}`;
    case 'gossip':
      return 'gossip';
  }
}

function fmtEvent(e: MemberEvent): string {
  const m = `${e.member.id} ${e.member.status}@${e.member.incarnation}`;
  switch (e.type) {
    case 'suspect':
      return `event suspect ${m} by=${e.by}`;
    case 'dead':
      return `event dead ${m} cause=${e.cause}`;
    case 'refuted':
      return `event refuted ${m} accused=${e.accused}`;
    case 'join-complete':
      return `event join-complete ${m} seed=${e.seed}`;
    default:
      return `event ${e.type} ${m}`;
  }
}

function fmtReady(r: Ready): string[] {
  const out: string[] = [];
  for (const p of r.packets) {
    const g = p.packet.gossip.map(fmtGossip).join(' ');
    out.push(`send ${p.to} ${fmtBody(p.packet.body)}${g === '' ? '' : ` | ${g}`}`);
  }
  for (const e of r.events) out.push(fmtEvent(e));
  return out;
}

class Runner {
  swim: Swim | undefined;
  now = 0;
  autoack = new Set<string>();

  /** Outputs of the node, answering pings to autoack members and hiding them. */
  drain(): string[] {
    const s = this.swim!;
    const out: string[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const r = s.ready();
      const acks: Array<{ to: string; seq: number }> = [];
      const shown = r.packets.filter((p) => {
        const b = p.packet.body;
        if (b.type !== 'ping' || !this.autoack.has(p.to)) return true;
        acks.push({ to: p.to, seq: b.seq });
        return false;
      });
      out.push(...fmtReady({ ...r, packets: shown }));
      if (acks.length === 0) break;
      for (const a of acks)
        s.handle(a.to, { from: a.to, body: { type: 'ack', seq: a.seq }, gossip: [] }, this.now);
    }
    return out;
  }

  run(cmd: string): string[] {
    const [verb, ...words] = cmd.trim().split(/\s+/);
    if (verb === 'new') {
      const [id, ...rest] = words;
      const a = kv(rest);
      let config = defaultLanConfig;
      if (a.get('lifeguard') === 'off') config = withoutLifeguard(config);
      const gossipMs = a.get('gossip');
      if (gossipMs !== undefined) config = { ...config, gossipIntervalMs: Number(gossipMs) };
      const members = (a.get('members') ?? '')
        .split(',')
        .filter((x) => x !== '')
        .map((m) => ({ id: m }));
      this.autoack = new Set((a.get('autoack') ?? '').split(',').filter((x) => x !== ''));
      this.swim = new Swim({
        id: id!,
        config,
        rng: new Prng(Number(a.get('seed') ?? 1)),
        nowMs: this.now,
        members,
        incarnation: Number(a.get('incarnation') ?? 0),
      });
      return this.drain();
    }
    const s = this.swim;
    if (s === undefined) throw new Error('no node: start with `new`');
    switch (verb) {
      case 'recv': {
        const [from, ...rest] = words;
        const bar = rest.indexOf('|');
        const bodyWords = bar < 0 ? rest : rest.slice(0, bar);
        const gossip = bar < 0 ? [] : rest.slice(bar + 1).map(parseGossip);
        const packet: Packet = { from: from!, body: parseBody(bodyWords), gossip };
        s.handle(from!, packet, this.now);
        break;
      }
      case 'tick': {
        const ms = Number(words[0]!.replace('+', ''));
        const end = this.now + ms;
        // Tick at every wanted time up to `end`, as a driver would, collecting all output.
        const out: string[] = [];
        // Lines produced by ticks carry the virtual time they happened at.
        const at = (lines: string[]): string[] => lines.map((l) => `@${this.now} ${l}`);
        for (let guard = 0; guard < 10_000; guard++) {
          out.push(...at(this.drain()));
          const next = s.ready();
          if (next.nextTickAtMs > end) break;
          this.now = Math.max(this.now, next.nextTickAtMs);
          s.tick(this.now);
        }
        this.now = end;
        s.tick(end);
        out.push(...at(this.drain()));
        return out;
      }
      case 'join':
        s.join(words[0]!.split(','), this.now);
        break;
      case 'leave':
        s.leave(this.now);
        break;
      case 'members':
        return s
          .members()
          .sort((x, y) => (x.id < y.id ? -1 : 1))
          .map((m) => `member ${m.id} ${m.status}@${m.incarnation}`);
      case 'health':
        return [`health score=${s.healthScore} incarnation=${s.incarnation}`];
      default:
        throw new Error(`unknown command ${cmd}`);
    }
    return this.drain();
  }
}

interface Step {
  readonly cmd: string;
  readonly expected: string[];
  readonly comments: string[];
}

function parse(text: string): { steps: Step[]; header: string[] } {
  const steps: Step[] = [];
  const header: string[] = [];
  let pendingComments: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('> ')) {
      steps.push({ cmd: line.slice(2), expected: [], comments: pendingComments });
      pendingComments = [];
    } else if (line.startsWith('#') || line.trim() === '') {
      if (steps.length === 0) header.push(line);
      else if (line.startsWith('#')) pendingComments.push(line);
    } else {
      const last = steps.at(-1);
      if (last === undefined) throw new Error(`output before any command: ${line}`);
      last.expected.push(line);
    }
  }
  return { steps, header };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));

describe('SWIM transcripts', () => {
  it('has transcripts', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  for (const f of files) {
    it(f, () => {
      const text = readFileSync(join(dir, f), 'utf8');
      const { steps, header } = parse(text);
      const r = new Runner();
      const lines: string[] = [...header.filter((l) => l.startsWith('#'))];
      for (const step of steps) {
        const actual = r.run(step.cmd);
        if (update) {
          if (lines.length > 0) lines.push('');
          lines.push(...step.comments, `> ${step.cmd}`, ...actual);
        } else {
          expect(actual, `${f}: > ${step.cmd}`).toEqual(step.expected);
        }
      }
      if (update) writeFileSync(join(dir, f), `${lines.join('\n')}\n`);
    });
  }
});
