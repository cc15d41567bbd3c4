/**
 * Erlang term text as the wire logs in shared/reference/global-traces/ print it, to terms and back:
 * pids as `<node@host.Id.Serial>`, references as `#Ref<N>`, and BEAM's default resolve method
 * (a local fun of module `global`) as `#Fun<global>`.
 */
import { Atom, atom, decode, Pid, Reference, type Term, TermMap, Tuple } from '../../../src/term/index.ts';
import { inspect } from '../../../src/term/inspect.ts';
import { parseTerm } from '../../../src/term/parse.ts';
import { ImproperList } from '../../../src/term/types.ts';

/** `fun random_exit_name/3` of module global, as OTP 25.2.3 encodes it (from `ets:lookup(global_names, _)`). */
export const BEAM_DEFAULT_METHOD: Term = decode(
  Buffer.from([
    131, 112, 0, 0, 0, 73, 3, 215, 64, 169, 178, 165, 243, 6, 57, 45, 13, 118, 130, 71, 140, 64, 34, 0, 0, 0,
    0, 0, 0, 0, 0, 100, 0, 6, 103, 108, 111, 98, 97, 108, 97, 0, 98, 6, 186, 5, 77, 88, 100, 0, 12, 102, 117,
    110, 120, 49, 57, 57, 56, 52, 64, 118, 109, 0, 0, 0, 9, 0, 0, 0, 0, 107, 7, 192, 94,
  ]),
);

/** The creation every pid of these transcripts carries. */
export const CREATION = 1;

/** A pid of `node`. */
export function pid(node: string, id: number, serial = 0): Pid {
  return new Pid(atom(node), id, serial, CREATION);
}

const PID = /<([A-Za-z0-9_]+@[A-Za-z0-9_.-]+?)\.(\d+)\.(\d+)>/g;
const REF = /#Ref<(\d+)>/g;
const FUN = /#Fun<global(?:\.\d+\.\d+)?>/g;

/** Parses term text that may contain pids, `#Ref<N>` and `#Fun<global>`. */
export function term(text: string): Term {
  const holes: Term[] = [];
  const hole = (t: Term): string => {
    holes.push(t);
    return `'$hole${holes.length - 1}'`;
  };
  const src = text
    .replace(PID, (_, node: string, id: string, serial: string) =>
      hole(pid(node, Number(id), Number(serial))),
    )
    .replace(REF, (_, n: string) => hole(new Reference(atom('ref@host'), CREATION, [Number(n), 0, 0])))
    .replace(FUN, () => hole(BEAM_DEFAULT_METHOD));
  return fill(parseTerm(src), holes);
}

function fill(t: Term, holes: readonly Term[]): Term {
  if (t instanceof Atom) {
    const m = /^\$hole(\d+)$/.exec(t.name);
    return m === null ? t : holes[Number(m[1])]!;
  }
  if (t instanceof Tuple) return new Tuple(t.elements.map((e) => fill(e, holes)));
  if (Array.isArray(t)) return t.map((e: Term) => fill(e, holes));
  if (t instanceof ImproperList)
    return new ImproperList(
      t.elements.map((e) => fill(e, holes)),
      fill(t.tail, holes),
    );
  if (t instanceof Map) {
    const m = new TermMap();
    for (const [k, v] of t) m.set(fill(k, holes), fill(v, holes));
    return m;
  }
  return t;
}

/** Term text in the wire logs' style. */
export function show(t: Term): string {
  return inspect(t).replace(/#Fun<global\.0\.112854349>/g, '#Fun<global>');
}
