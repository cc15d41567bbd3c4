/**
 * Real `erl` distribution nodes for interop tests.
 *
 * `startErlNode` boots `erl -name <name> -setcookie <cookie> -noshell` against a private EPMD
 * (`ERL_EPMD_PORT`) with a small read-eval-print loop on stdin/stdout: `node.eval('Expr')`
 * sends one Erlang expression sequence, the node evaluates it with the bindings of the earlier
 * ones (so `P = spawn(...)` then `P ! hi` works), and answers with the result as external term
 * format, decoded here. The loop is sequential: start servers with `spawn`.
 *
 * Every node started is tracked; `stopAllErlNodes()` (call it in afterEach/afterAll) kills
 * the ones still running, with SIGKILL, so a failing test never leaks an `erl`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { decode } from '../../src/term/index.ts';
import type { Term } from '../../src/term/types.ts';
import { killAll } from './processes.ts';

/** Options of {@link startErlNode}. */
export interface ErlNodeOptions {
  /** Full node name, e.g. `e1@127.0.0.1` (a long name) or `e1` (`-sname`). */
  readonly name: string;
  readonly cookie: string;
  /** Port of the private EPMD (`ERL_EPMD_PORT`). */
  readonly epmdPort: number;
  /** `net_ticktime` in seconds (OTP accepts 1 and up). */
  readonly netTicktimeSec?: number;
  /** Start with `-hidden`. */
  readonly hidden?: boolean;
  /** More `erl` arguments (e.g. `-proto_dist inet_tls ...`). */
  readonly args?: readonly string[];
  /** Deadline for boot and the first answer. Default 20 000 ms. */
  readonly startTimeoutMs?: number;
}

/** The outcome of one evaluation. */
export type EvalResult =
  | { readonly ok: true; readonly value: Term; readonly text: string }
  | { readonly ok: false; readonly error: Term; readonly text: string };

/** A running `erl` node. */
export interface ErlNode {
  /** The full node name. */
  readonly name: string;
  readonly pid: number;
  /** Evaluates Erlang expressions (a trailing `.` is optional) and resolves with the value; rejects when evaluation raises. */
  eval(expr: string, timeoutMs?: number): Promise<Term>;
  /** Like `eval`, and also returns the `~0tp` text; does not reject when the evaluation raises. */
  evalResult(expr: string, timeoutMs?: number): Promise<EvalResult>;
  /** Output lines that were not answers (logs, crash reports). */
  readonly log: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** Sends a signal (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<ChildProcess>();

const LOOP = `
EvalLoopEval = fun(Src, Bs) ->
    {ok, Toks, _} = erl_scan:string(Src),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, V, Bs2} = erl_eval:exprs(Exprs, Bs),
    {V, Bs2}
end,
EvalLoop = fun EvalLoop(Bs) ->
    case io:get_line('') of
        eof -> erlang:halt(0);
        {error, _} -> erlang:halt(0);
        Line ->
            [Id, B64] = string:split(string:trim(Line), " "),
            Src = unicode:characters_to_list(base64:decode(B64)),
            {Status, Val, Bs2} =
                try EvalLoopEval(Src, Bs) of
                    {V, B2} -> {ok, V, B2}
                catch C:R:St -> {error, {C, R, St}, Bs}
                end,
            Txt = try unicode:characters_to_binary(io_lib:format("~0tp", [Val]))
                  catch _:_ -> <<"?">> end,
            io:put_chars([<<"@@R ">>, Id, <<" ">>, atom_to_list(Status), <<" ">>,
                          base64:encode(term_to_binary(Val)), <<" ">>, base64:encode(Txt), <<"\\n">>]),
            EvalLoop(Bs2)
    end
end,
EvalLoop(erl_eval:new_bindings()).
`;

/** Starts an `erl` node and waits until it evaluates expressions. */
export async function startErlNode(opts: ErlNodeOptions): Promise<ErlNode> {
  const long = opts.name.includes('@') && opts.name.slice(opts.name.indexOf('@') + 1).includes('.');
  const args = [long ? '-name' : '-sname', opts.name, '-setcookie', opts.cookie, '-noshell'];
  if (opts.netTicktimeSec !== undefined) args.push('-kernel', 'net_ticktime', String(opts.netTicktimeSec));
  if (opts.hidden === true) args.push('-hidden');
  args.push(...(opts.args ?? []), '-eval', LOOP);
  const child = spawn('erl', args, {
    env: { ...process.env, ERL_EPMD_PORT: String(opts.epmdPort) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once('error', () => {
      running.delete(child);
      resolve(null);
    });
  });

  const log: string[] = [];
  const waiting = new Map<string, (r: EvalResult) => void>();
  let nextId = 1;
  let buffered = '';
  const onLine = (line: string): void => {
    const m = /^@@R (\d+) (ok|error) (\S*) (\S*)$/.exec(line);
    if (m === null) {
      if (line.length > 0) log.push(line);
      return;
    }
    const resolve = waiting.get(m[1]!);
    if (resolve === undefined) return;
    waiting.delete(m[1]!);
    const value = decode(Buffer.from(m[3]!, 'base64'));
    const text = Buffer.from(m[4]!, 'base64').toString('utf8');
    resolve(m[2] === 'ok' ? { ok: true, value, text } : { ok: false, error: value, text });
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      onLine(buffered.slice(0, nl).replace(/\r$/, ''));
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const l of chunk.split('\n')) if (l.length > 0) log.push(l);
  });
  child.stdin!.on('error', () => {
    // The node died; pending evaluations fail through their deadline or the exit below.
  });

  const evalResult = (expr: string, timeoutMs = 15_000): Promise<EvalResult> => {
    const id = String(nextId++);
    const src = /\.\s*$/.test(expr) ? expr : `${expr}.`;
    return new Promise<EvalResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(
          new Error(
            `erl ${opts.name}: no answer to ${JSON.stringify(expr)} within ${timeoutMs} ms\n${log.join('\n')}`,
          ),
        );
      }, timeoutMs);
      waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      void exited.then((code) => {
        if (!waiting.has(id)) return;
        waiting.delete(id);
        clearTimeout(timer);
        reject(new Error(`erl ${opts.name} exited (${code}) before answering\n${log.join('\n')}`));
      });
      child.stdin!.write(`${id} ${Buffer.from(src, 'utf8').toString('base64')}\n`);
    });
  };

  const node: ErlNode = {
    name: opts.name,
    pid: child.pid ?? -1,
    log,
    exited,
    evalResult,
    eval: async (expr, timeoutMs) => {
      const r = await evalResult(expr, timeoutMs);
      if (!r.ok) throw new Error(`erl ${opts.name}: ${expr} raised ${r.text}`);
      return r.value;
    },
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  try {
    await node.eval('ok', opts.startTimeoutMs ?? 20_000);
  } catch (e) {
    await node.kill();
    throw e;
  }
  return node;
}

/** Kills every node still running (SIGKILL). Call in afterEach/afterAll. */
export async function stopAllErlNodes(): Promise<void> {
  await killAll(running);
}
