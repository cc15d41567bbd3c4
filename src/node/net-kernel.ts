/**
 * The `net_kernel` service every node runs: a process registered as `net_kernel` that answers
 * `gen_server:call(net_kernel, {is_auth, Node})` with `yes`. That is what `net_adm:ping/1` asks,
 * so a BEAM node's ping of a TypeScript node returns `pong` (and ours of theirs).
 *
 * Other requests are ignored, as a BEAM node ignores what it does not understand from outside.
 *
 * @module
 */
import { type Atom, atom, ImproperList, Pid, Reference, type Term, Tuple } from '../term/types.ts';
import type { ProcessTable } from './process-table.ts';

/** Atoms of the service. */
export const netKernelAtoms: {
  readonly net_kernel: Atom;
  readonly $gen_call: Atom;
  readonly is_auth: Atom;
  readonly yes: Atom;
  readonly alias: Atom;
} = Object.freeze({
  net_kernel: atom('net_kernel'),
  $gen_call: atom('$gen_call'),
  is_auth: atom('is_auth'),
  yes: atom('yes'),
  alias: atom('alias'),
});

/** Where and what to answer. */
export interface Reply {
  readonly to: Pid | Reference;
  readonly message: Term;
}

/**
 * Where a gen_server reply for `from` (`{Pid, Tag}`) goes, as OTP's `gen:reply`: to the alias
 * when the tag is `[alias | Ref]` or `[[alias | Ref] | _]`, otherwise to the pid. The message is
 * `{Tag, Reply}`. Undefined when `from` is not a `{Pid, Tag}` pair.
 */
export function genReply(from: Term, reply: Term): Reply | undefined {
  if (!(from instanceof Tuple) || from.length !== 2) return undefined;
  const [pid, tag] = from.elements;
  if (!(pid instanceof Pid)) return undefined;
  const message = new Tuple([tag as Term, reply]);
  const alias = aliasOf(tag as Term);
  return { to: alias ?? pid, message };
}

function aliasOf(tag: Term): Reference | undefined {
  if (!(tag instanceof ImproperList)) {
    // [[alias | Ref] | Extra] as a proper list [[alias | Ref], ...]
    if (Array.isArray(tag) && tag.length > 0) return aliasOf(tag[0] as Term);
    return undefined;
  }
  const head = tag.elements[0];
  if (tag.elements.length === 1 && head === netKernelAtoms.alias && tag.tail instanceof Reference)
    return tag.tail;
  if (head instanceof ImproperList) return aliasOf(head);
  return undefined;
}

/** The answer to one message to `net_kernel`, or undefined when there is none to give. */
export function netKernelReply(message: Term): Reply | undefined {
  if (!(message instanceof Tuple) || message.length !== 3) return undefined;
  const [tag, from, request] = message.elements;
  if (tag !== netKernelAtoms.$gen_call) return undefined;
  if (!(request instanceof Tuple) || request.length !== 2 || request.elements[0] !== netKernelAtoms.is_auth) {
    return undefined;
  }
  // If the call came through at all, the caller passed the cookie check.
  return genReply(from as Term, netKernelAtoms.yes);
}

/** Spawns the service, registered as `net_kernel`. */
export function startNetKernel(table: ProcessTable): Pid {
  return table.spawn(
    async (self) => {
      for (;;) {
        const message = await self.receive();
        const reply = netKernelReply(message);
        if (reply !== undefined) self.send(reply.to, reply.message);
      }
    },
    { name: netKernelAtoms.net_kernel },
  );
}
