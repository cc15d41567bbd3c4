/**
 * A TypeScript node joins an Erlang cluster as a visible peer (`hidden: false`): it loads a small
 * gen_server onto the Erlang node and calls it, exposes a function that Erlang calls with
 * `rpc:call`, serves `gen_server:call` from Erlang, shares a `pg` group and a `global` name.
 *
 *   npx tsx examples/erlang-cluster.ts                        # starts its own `erl`
 *   npx tsx examples/erlang-cluster.ts erl@127.0.0.1 secret   # joins a running node (name, cookie)
 *
 * Without arguments it starts an embedded EPMD on a free port and an `erl` registered there
 * (`ERL_EPMD_PORT`), so it never touches an EPMD on 4369; `erl` is stopped at the end. With a
 * node name it uses the usual EPMD (`ERL_EPMD_PORT` or 4369) and `~/.erlang.cookie` unless a
 * cookie is given.
 */
import { type ChildProcess, spawn as spawnProcess } from 'node:child_process';
import {
  atom,
  type EpmdServer,
  inspect,
  Node,
  type NodeOptions,
  type Pid,
  startEpmdServer,
  type Term,
  tuple,
} from '../src/index.ts';

/** An Erlang gen_server keeping a map; loaded onto the Erlang node by {@link loadModule}. */
const KV_SOURCE = `
-module(distribute_example_kv).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).
init([]) -> {ok, #{}}.
handle_call({put, K, V}, _From, S) -> {reply, ok, S#{K => V}};
handle_call({get, K}, _From, S) -> {reply, maps:get(K, S, undefined), S}.
handle_cast(_Msg, S) -> {noreply, S}.
`;

const [givenNode, givenCookie] = process.argv.slice(2);
let epmd: EpmdServer | undefined;
let erl: ChildProcess | undefined;
let erlName: string;
let options: NodeOptions;

if (givenNode === undefined) {
  epmd = await startEpmdServer({ port: 0, host: '127.0.0.1' });
  const cookie = 'distribute-erlang-cluster';
  erlName = 'erl@127.0.0.1';
  // stdin stays a pipe: `erl` halts when it reads end of file, so it never outlives this process.
  erl = spawnProcess(
    'erl',
    ['-noshell', '-name', erlName, '-setcookie', cookie, '-eval', 'io:get_line(""), halt().'],
    { env: { ...process.env, ERL_EPMD_PORT: String(epmd.port) }, stdio: ['pipe', 'ignore', 'inherit'] },
  );
  erl.on('error', (e) => {
    console.error(`cannot start erl (install erlang-nox): ${e.message}`);
    process.exit(1);
  });
  console.log(`started ${erlName} with a private EPMD on port ${epmd.port}`);
  options = { name: 'ts@127.0.0.1', cookie, hidden: false, epmd: { host: '127.0.0.1', port: epmd.port } };
} else {
  erlName = givenNode;
  const host = givenNode.slice(givenNode.indexOf('@') + 1);
  options = {
    name: `ts@${host}`,
    hidden: false,
    ...(givenCookie === undefined ? {} : { cookie: givenCookie }),
  };
}

const node = await Node.start(options);
try {
  await run(node);
} finally {
  await node.stop();
  erl?.kill('SIGKILL');
  await epmd?.close();
}
console.log('stopped');

async function run(ts: Node): Promise<void> {
  console.log(`started ${ts.name} (visible)`);
  await waitFor(async () => (await ts.ping(erlName, 2000)) === 'pong', `${erlName} to answer a ping`);
  console.log(`${ts.name} pings ${erlName}: pong; visible nodes: ${ts.nodes().join(', ')}`);

  // 1. Load a gen_server onto erl over RPC (erl_scan, erl_parse, compile and code, all remote
  //    calls), start it, and call it from TypeScript as gen_server:call would.
  await loadModule(ts, KV_SOURCE);
  const started = await ts.rpc.call(erlName, 'gen_server', 'start', [
    tuple(atom('local'), atom('kv')),
    atom('distribute_example_kv'),
    [],
    [],
  ]);
  const kvPid = [...(started as Iterable<Term>)][1] as Pid;
  console.log(`started the gen_server kv on ${erlName}: ${inspect(kvPid)}`);
  const put = await ts.call([atom('kv'), atom(erlName)], tuple(atom('put'), atom('answer'), 42));
  const got = await ts.call([atom('kv'), atom(erlName)], tuple(atom('get'), atom('answer')));
  console.log(`gen_server:call kv {put, answer, 42} -> ${inspect(put)}; {get, answer} -> ${inspect(got)}`);

  // 2. Expose a function; erl calls it with rpc:call (we ask erl to, so the call starts there).
  ts.rpc.expose('ts_math', { add: (a: number, b: number) => a + b });
  const sum = await ts.rpc.call(erlName, 'rpc', 'call', [
    atom(ts.name),
    atom('ts_math'),
    atom('add'),
    [20, 22],
  ]);
  console.log(`${erlName} ran rpc:call('${ts.name}', ts_math, add, [20, 22]) -> ${inspect(sum)}`);

  // 3. A TypeScript gen_server that erl calls with gen_server:call({ts_counter, Node}, incr).
  await ts.spawnServer<number>(
    { init: () => 0, handleCall: (_req, _from, n) => ({ reply: n + 1, state: n + 1 }) },
    { name: 'ts_counter' },
  );
  const callArgs = [tuple(atom('ts_counter'), atom(ts.name)), atom('incr')];
  await ts.rpc.call(erlName, 'gen_server', 'call', callArgs);
  const count = await ts.rpc.call(erlName, 'gen_server', 'call', callArgs);
  console.log(`${erlName} ran gen_server:call({ts_counter, '${ts.name}'}, incr) twice -> ${inspect(count)}`);

  // 4. pg: erl's kv server and a TypeScript process join the group `workers` of the scope `pg`.
  const started2 = await ts.rpc.call(erlName, 'pg', 'start', [atom('pg')]);
  console.log(`pg:start(pg) on ${erlName} -> ${inspect(started2)}`);
  await ts.rpc.call(erlName, 'pg', 'join', [atom('workers'), kvPid]);
  const worker = ts.spawn(async (self) => {
    for await (const _ of self) {
      // a member that only waits
    }
  });
  ts.groups.join(atom('workers'), worker);
  await waitFor(async () => ts.groups.members(atom('workers')).length === 2, 'both pg members on ts');
  console.log(`ts sees pg members of workers: ${ts.groups.members(atom('workers')).map(String).join(', ')}`);
  let fromErl: Term = [];
  await waitFor(async () => {
    fromErl = await ts.rpc.call(erlName, 'pg', 'get_members', [atom('workers')]);
    return Array.isArray(fromErl) && fromErl.length === 2;
  }, 'both pg members on erl');
  console.log(`${erlName} sees pg:get_members(workers) = ${inspect(fromErl)}`);

  // 5. global: a name registered from TypeScript is seen by erl's global:whereis_name/1.
  await ts.global.register(atom('ts_worker'), worker);
  let whereis: Term = atom('undefined');
  await waitFor(async () => {
    whereis = await ts.rpc.call(erlName, 'global', 'whereis_name', [atom('ts_worker')]);
    return whereis !== atom('undefined');
  }, 'the global name on erl');
  console.log(`${erlName} sees global:whereis_name(ts_worker) = ${inspect(whereis)}`);
}

/**
 * Compiles and loads Erlang source on the Erlang node through RPC only. Erlang's text functions
 * take charlists: a JS string would arrive as a binary, so the text goes as an array of code points.
 */
async function loadModule(ts: Node, source: string): Promise<void> {
  const charlist = (s: string): number[] => [...s].map((c) => c.codePointAt(0) as number);
  const forms: Term[] = [];
  for (const text of source.split(/(?<=\.)\n/).filter((t) => t.trim() !== '')) {
    const scanned = [
      ...((await ts.rpc.call(erlName, 'erl_scan', 'string', [charlist(text)])) as Iterable<Term>),
    ];
    const parsed = [
      ...((await ts.rpc.call(erlName, 'erl_parse', 'parse_form', [scanned[1] as Term])) as Iterable<Term>),
    ];
    if (parsed[0] !== atom('ok')) throw new Error(`cannot parse ${text}: ${inspect(parsed as Term)}`);
    forms.push(parsed[1] as Term);
  }
  const compiled = [
    ...((await ts.rpc.call(erlName, 'compile', 'forms', [forms, [atom('binary')]])) as Iterable<Term>),
  ];
  if (compiled[0] !== atom('ok')) throw new Error(`compile failed: ${inspect(compiled as Term)}`);
  const loaded = await ts.rpc.call(erlName, 'code', 'load_binary', [
    compiled[1] as Term,
    charlist('kv.erl'),
    compiled[2] as Term,
  ]);
  console.log(`loaded a gen_server module onto ${erlName} over RPC: ${inspect(loaded)}`);
}

async function waitFor(check: () => Promise<boolean>, what: string, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
