/**
 * Transcript tests of the global core: a script of commands, each followed by the outputs the core
 * must produce, in the style of the wire logs in shared/reference/global-traces/.
 *
 * ```
 * # comment
 * node ts@127.0.0.1 tag=-576460752303423000 [seed=N] [pop=false] [batch=true]
 * > nodeup a@127.0.0.1
 * SEND cast -> a@127.0.0.1 {init_connect,...}
 * ```
 *
 * Commands (after `> `):
 * - `nodeup N`, `nodedown N`, `connect_failed N`
 * - `recv cast T`, `recv info T`: a message at global_name_server; `recv call <Pid> T`: a gen_server
 *   call from Pid (tag `{#Ref<n>, Me}`); `recv locker T`: a message at the locker's pid
 * - `reply T` / `reply bad`: answers the oldest unanswered `call` output (`bad`: the node did not answer)
 * - `resolve T`: answers the oldest unanswered `resolve_it` output
 * - `down <Pid>`, `fire #Id` (a timer)
 * - `register Name <Pid> [Method]`, `reregister ...`, `unregister Name`, `set_lock {R,Q} [Nodes] Retries`,
 *   `del_lock {R,Q} [Nodes]`, `sync [Nodes]`
 * - `names`, `known`, `locks`, `whereis Name`: print the state
 *
 * Outputs print one per line: `SEND cast -> N T`, `SEND raw -> N T`, `SEND call -> N T`,
 * `SEND to <Pid> T`, `REPLY <Pid> T`, `WATCH <Pid>`, `UNWATCH <Pid>`, `TIMER #Id Ms`, `CANCEL #Id`,
 * `CONNECT N`, `DISCONNECT N`, `EXIT <Pid> R`, `RESOLVE_IT #Id on N [M,Name,P1,P2]`, `DONE #Op R`,
 * `LOG level code`. `UPDATE_TESTDATA=1` rewrites the expectations.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { GlobalCore, type GlobalOutput } from '../../../src/services/global/core.ts';
import { RANDOM_EXIT_NAME, readLockId } from '../../../src/services/global/messages.ts';
import { Prng } from '../../../src/sim/prng.ts';
import { type Atom, atom, type Pid, Reference, type Term, Tuple } from '../../../src/term/index.ts';
import { CREATION, pid, show, term } from './terms.ts';

interface Pending {
  id: number;
  node: Atom;
}

/** Runs a transcript; returns the expected text and the text the core produced. */
export function runTranscriptFile(path: string): { expected: string; actual: string } {
  const text = readFileSync(path, 'utf8');
  const actual = runTranscript(text);
  if (process.env.UPDATE_TESTDATA === '1' && actual !== text) writeFileSync(path, actual);
  return { expected: text, actual };
}

/** Runs transcript text; returns it with the outputs the core produced. */
export function runTranscript(text: string): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let core: GlobalCore | undefined;
  const dead = new Set<string>();
  let me: Atom = atom('ts@127.0.0.1');
  const calls: Pending[] = [];
  const resolves: number[] = [];
  let refs = 0;
  let ops = 0;
  const print = (outputs: readonly GlobalOutput[]): void => {
    for (const o of outputs) {
      if (o.kind === 'call') calls.push({ id: o.id, node: o.node });
      if (o.kind === 'resolve_it') resolves.push(o.id);
      out.push(render(o));
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('node ')) {
      out.push(line);
      const [, name, ...opts] = line.split(/\s+/);
      me = atom(name!);
      const o = Object.fromEntries(opts.map((kv) => kv.split('=') as [string, string]));
      let tag = BigInt(o.tag ?? '-576460752303423000');
      core = new GlobalCore({
        node: me,
        creation: CREATION,
        pids: {
          server: pid(me.name, 1),
          locker: pid(me.name, 2),
          registrar: pid(me.name, 3),
          client: pid(me.name, 4),
        },
        rng: new Prng(Number(o.seed ?? '1')),
        isAlive: (p) => !dead.has(`${p.id}.${p.serial}`),
        newTag: () => tag++,
        creationExtension: 0n,
        ...(o.pop === 'false' ? { preventOverlappingPartitions: false } : {}),
        // The wire logs are OTP's: its registrar sequence unless a transcript asks for batching.
        batchRegistrations: o.batch === 'true',
      });
      continue;
    }
    if (!line.startsWith('> ')) {
      // Expected outputs are regenerated; comments and blank lines are kept.
      if (line.startsWith('#') || line.trim() === '') out.push(line);
      continue;
    }
    out.push(line);
    if (core === undefined) throw new Error(`line ${i + 1}: no 'node' line before the first command`);
    const cmd = line.slice(2).trim();
    const sp = cmd.indexOf(' ');
    const verb = sp < 0 ? cmd : cmd.slice(0, sp);
    const rest = sp < 0 ? '' : cmd.slice(sp + 1).trim();
    const c = core;
    switch (verb) {
      case 'nodeup':
      case 'nodedown':
      case 'connect_failed':
        print(c.step({ kind: verb, node: atom(rest) }));
        break;
      case 'recv': {
        const sp2 = rest.indexOf(' ');
        const how = rest.slice(0, sp2);
        const body = rest.slice(sp2 + 1);
        if (how === 'cast')
          print(c.step({ kind: 'message', message: new Tuple([atom('$gen_cast'), term(body)]) }));
        else if (how === 'info') print(c.step({ kind: 'message', message: term(body) }));
        else if (how === 'locker') print(c.step({ kind: 'locker_message', message: term(body) }));
        else if (how === 'call') {
          const m = /^(<[^>]+>)\s+(.*)$/.exec(body);
          if (m === null) throw new Error(`line ${i + 1}: recv call <Pid> Request`);
          const from = term(m[1]!) as Pid;
          const tag = new Tuple([new Reference(atom('ref@host'), CREATION, [++refs, 0, 0]), me]);
          const msg = new Tuple([atom('$gen_call'), new Tuple([from, tag]), term(m[2]!)]);
          print(c.step({ kind: 'message', message: msg }));
        } else throw new Error(`line ${i + 1}: recv cast|info|call|locker`);
        break;
      }
      case 'reply': {
        const p = calls.shift();
        if (p === undefined) throw new Error(`line ${i + 1}: no call to answer`);
        print(
          c.step({ kind: 'reply', id: p.id, node: p.node, reply: rest === 'bad' ? undefined : term(rest) }),
        );
        break;
      }
      case 'resolve': {
        const id = resolves.shift();
        if (id === undefined) throw new Error(`line ${i + 1}: no resolve_it to answer`);
        print(c.step({ kind: 'resolve_result', id, result: term(rest) }));
        break;
      }
      case 'down': {
        const p = term(rest) as Pid;
        dead.add(`${p.id}.${p.serial}`);
        print(c.step({ kind: 'down', pid: p }));
        break;
      }
      case 'fire':
        print(c.step({ kind: 'timeout', id: Number(rest.replace('#', '')) }));
        break;
      case 'register':
      case 'reregister': {
        const [name, p, method] = splitTerms(rest);
        print(
          c.step({
            kind: 'register',
            op: ++ops,
            entry: { name: name!, pid: p as Pid, method: method ?? RANDOM_EXIT_NAME },
            force: verb === 'reregister',
          }),
        );
        break;
      }
      case 'unregister':
        print(c.step({ kind: 'unregister', op: ++ops, name: term(rest) }));
        break;
      case 'set_lock': {
        const [id, nodes, retries] = splitTerms(rest);
        print(
          c.step({
            kind: 'set_lock',
            op: ++ops,
            id: readLockId(id!)!,
            nodes: nodes as Atom[],
            retries: retries === atom('infinity') ? Number.POSITIVE_INFINITY : (retries as number),
          }),
        );
        break;
      }
      case 'del_lock': {
        const [id, nodes] = splitTerms(rest);
        print(c.step({ kind: 'del_lock', op: ++ops, id: readLockId(id!)!, nodes: nodes as Atom[] }));
        break;
      }
      case 'sync':
        print(c.step({ kind: 'sync', op: ++ops, nodes: term(rest) as Atom[] }));
        break;
      case 'names':
        for (const e of c.nameEntries()) out.push(`  ${show(e.name)} -> ${show(e.pid)} ${show(e.method)}`);
        break;
      case 'known':
        out.push(
          `  known ${show(c.knownNodes())} synced ${show(c.syncedNodes())} sessions ${show(c.sessions())}`,
        );
        break;
      case 'locks':
        for (const l of c.lockEntries())
          out.push(`  ${show(l.resource)} ${show(l.requester)} ${show(l.holders)}`);
        break;
      case 'whereis':
        out.push(`  ${show(c.whereis(term(rest)) ?? atom('undefined'))}`);
        break;
      default:
        throw new Error(`line ${i + 1}: unknown command ${verb}`);
    }
  }
  return out.join('\n');
}

/** Splits `a b c` where each part is a term (parts separated by spaces at nesting depth 0). */
function splitTerms(text: string): Term[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  let quote: string | undefined;
  for (const ch of text) {
    if (quote !== undefined) {
      cur += ch;
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    if ('{[<('.includes(ch)) depth++;
    if ('}]>)'.includes(ch)) depth--;
    if (ch === ' ' && depth === 0 && cur !== 'fun') {
      if (cur !== '') parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur !== '') parts.push(cur);
  return parts.map(term);
}

function render(o: GlobalOutput): string {
  switch (o.kind) {
    case 'cast':
      return `SEND cast -> ${o.node.name} ${show(o.message)}`;
    case 'info':
      return `SEND raw -> ${o.node.name} ${show(o.message)}`;
    case 'send':
      return `SEND to ${show(o.to)} ${show(o.message)}`;
    case 'call':
      return `SEND call -> ${o.node.name} ${show(o.request)}`;
    case 'reply':
      return `REPLY ${show(o.to.elements[0]!)} ${show(o.reply)}`;
    case 'watch':
      return `WATCH ${show(o.pid)}`;
    case 'unwatch':
      return `UNWATCH ${show(o.pid)}`;
    case 'timer':
      return `TIMER #${o.id} ${o.ms}`;
    case 'cancel_timer':
      return `CANCEL #${o.id}`;
    case 'connect':
      return `CONNECT ${o.node.name}`;
    case 'disconnect':
      return `DISCONNECT ${o.node.name}`;
    case 'exit':
      return `EXIT ${show(o.pid)} ${show(o.reason)}`;
    case 'resolve_it':
      return `RESOLVE_IT #${o.id} on ${o.node.name} ${show([o.method, o.name, o.pid1, o.pid2])}`;
    case 'done':
      return `DONE #${o.op} ${show(o.result)}`;
    case 'log':
      return `LOG ${o.level} ${o.code}`;
  }
}
