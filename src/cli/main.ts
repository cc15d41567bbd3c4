/**
 * The `distribute` command: its commander program and the entry point bin/distribute.js calls.
 *
 * `main(argv)` parses, runs one command and resolves with the exit code (0 ok, 1 failure, 2
 * usage); it never calls `process.exit` itself. Commands live in commands/, one file each.
 *
 * @module
 */

import { Command, CommanderError, Option } from 'commander';
import pino from 'pino';
import { demo } from './commands/demo.ts';
import { leader } from './commands/leader.ts';
import { members } from './commands/members.ts';
import { names } from './commands/names.ts';
import { nodes } from './commands/nodes.ts';
import { ping } from './commands/ping.ts';
import { rpc } from './commands/rpc.ts';
import { send } from './commands/send.ts';
import { start } from './commands/start.ts';
import type { CliContext } from './context.ts';
import { describeError, EXIT } from './errors.ts';
import { type CliStreams, Output } from './output.ts';

/** How `main` reaches the outside world; the process's own by default. */
export interface MainOptions {
  readonly streams?: CliStreams;
  /** Resolves with the signal that stops `start`; SIGINT/SIGTERM of this process by default. */
  readonly waitForStop?: () => Promise<string>;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const EXIT_HELP = `
Exit codes: 0 ok, 1 failure (unknown node, unreachable EPMD, wrong cookie, bad term text,
remote error), 2 usage (unknown command or option, missing or malformed argument).
Terms are Erlang term text ('{ok, [1, 2.5, <<"bin">>, #{a => b}]}'); --json prints one JSON
document per result, terms tagged as {"$atom": "ok"}, {"$tuple": [...]}, {"$binary": "<base64>"}.
Environment: ERL_EPMD_PORT (EPMD port, default 4369), NO_COLOR.`;

function processSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Runs the CLI with `argv` (without `node` and the script) and resolves with the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const streams: CliStreams = options.streams ?? {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  };
  let ctx: CliContext | undefined;
  const context = (cmd: Command): CliContext => {
    const g = cmd.optsWithGlobals<{ json?: boolean; logLevel?: string }>();
    // A client's own connection warnings would repeat its one-line error; a node's are news.
    const level = g.logLevel ?? (cmd.name() === 'start' ? 'warn' : 'error');
    const logger = pino({ name: 'distribute', level }, pino.destination({ fd: 2, sync: true }));
    ctx = {
      out: new Output(streams, g.json === true),
      logger,
      waitForStop: options.waitForStop ?? processSignal,
    };
    return ctx;
  };

  const program = new Command('distribute')
    .description('Run and talk to nodes of an Erlang cluster, BEAM or TypeScript.')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => streams.stdout.write(s),
      writeErr: (s) => streams.stderr.write(s),
    })
    .showSuggestionAfterError()
    .option('--json', 'print machine-readable JSON instead of text')
    .addOption(
      new Option(
        '--log-level <level>',
        'log level on stderr (default: warn for start, error otherwise)',
      ).choices(LOG_LEVELS),
    )
    .addHelpText('after', EXIT_HELP);

  const cookieOption = (): Option =>
    new Option('--cookie <cookie>', 'the cluster cookie (default: ~/.erlang.cookie)');
  const withTls = (cmd: Command): Command =>
    cmd
      .option('--tls-cert <file>', 'TLS distribution: our certificate chain (PEM)')
      .option('--tls-key <file>', 'TLS distribution: our private key (PEM)')
      .option('--tls-ca <file>', 'TLS distribution: trusted CA certificates (PEM)');
  const timeoutOption = (): Option =>
    new Option('--timeout <ms>', 'how long to wait for an answer (ms, or infinity)');

  withTls(program.command('start'))
    .description('run a node in the foreground until SIGINT/SIGTERM')
    .requiredOption('--name <name>', 'node name, alive@host (long) or alive (short)')
    .addOption(cookieOption())
    .option('--epmd <mode>', 'auto, external, embedded or HOST:PORT', 'auto')
    .option('--hidden', 'connect as a hidden node')
    .option(
      '--expose <file>',
      'expose the functions of a module (export default { mod: { fn } }); repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--membership', 'run SWIM membership over UDP (prints the membership address it bound)')
    .option('--seeds <host:port,...>', 'membership addresses to join through (with --membership)')
    .option('--swim-port <port>', 'UDP port of the membership (default: any free port)')
    .option('--swim-host <host>', 'interface the membership binds (default 127.0.0.1)')
    .option('--probe-interval <ms>', 'membership protocol period (default 1000)')
    .option('--auto-connect', 'connect to alive members, disconnect from dead ones')
    .option('--election', 'run the Raft leader election (needs --voters)')
    .option('--voters <node,...>', 'node names of all voters, this one included (with --election)')
    .option(
      '--data-dir <dir>',
      'where the election keeps its term and vote (default <tmpdir>/distribute/<name>)',
    )
    .option(
      '--election-timeout <ms>',
      'minimum election timeout (default 1000; max is twice it, heartbeat a third)',
    )
    .action(async (o, cmd: Command) => start(context(cmd), o));

  withTls(program.command('ping'))
    .description('ping a node (net_adm:ping/1): pong or failure')
    .argument('<node>', 'node name')
    .addOption(cookieOption())
    .addOption(timeoutOption())
    .action(async (node: string, o, cmd: Command) => ping(context(cmd), node, o));

  program
    .command('names')
    .description('list the names registered with an EPMD')
    .option('--epmd <host:port>', 'the EPMD to ask (default 127.0.0.1 and ERL_EPMD_PORT or 4369)')
    .action(async (o, cmd: Command) => names(context(cmd), o));

  withTls(program.command('nodes'))
    .description('list the nodes a node is connected to')
    .requiredOption('--via <node>', 'the node to ask')
    .addOption(cookieOption())
    .addOption(timeoutOption())
    .action(async (o, cmd: Command) => nodes(context(cmd), o));

  withTls(program.command('rpc'))
    .description(
      "call MOD:FUN(ARG...) on a node; ARGs are Erlang terms (rpc erl@host lists reverse '[1,2,3]'); put -- before arguments that start with - (rpc n erlang abs -- -5)",
    )
    .argument('<node>', 'node name')
    .argument('<mod>', 'module (atom)')
    .argument('<fun>', 'function (atom)')
    .argument('[args...]', 'arguments, one Erlang term each')
    .addOption(cookieOption())
    .addOption(timeoutOption())
    .action(async (node: string, mod: string, fun: string, args: string[], o, cmd: Command) =>
      rpc(context(cmd), node, mod, fun, args, o),
    );

  withTls(program.command('members'))
    .description('list the membership view of a node started with `start --membership`')
    .requiredOption('--via <node>', 'the node to ask')
    .addOption(cookieOption())
    .addOption(timeoutOption())
    .action(async (o, cmd: Command) => members(context(cmd), o));

  withTls(program.command('leader'))
    .description('show the leader a node started with `start --election` (or --membership) knows of')
    .requiredOption('--via <node>', 'the node to ask')
    .addOption(cookieOption())
    .addOption(timeoutOption())
    .action(async (o, cmd: Command) => leader(context(cmd), o));

  withTls(program.command('send'))
    .description('send an Erlang term to a registered name on a node')
    .argument('<node>', 'node name')
    .argument('<name>', 'registered name (atom)')
    .argument('<term>', 'the message, as Erlang term text')
    .addOption(cookieOption())
    .action(async (node: string, name: string, term: string, o, cmd: Command) =>
      send(context(cmd), node, name, term, o),
    );

  program
    .command('demo')
    .description('start a local cluster and watch membership, election, pg and global at work (docs/demo.md)')
    .option('--nodes <n>', 'how many TypeScript nodes (3 to 9)', '5')
    .option('--with-erl', 'add a real erl node (needs Erlang/OTP)')
    .option('--interactive', 'keep the cluster running after the scenario, until Ctrl-C')
    .action(async (o, cmd: Command) => demo(context(cmd), o));

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version end with 0; every other commander error is a usage error.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const d = describeError(e);
    const out = ctx?.out ?? new Output(streams, argv.includes('--json'));
    out.failure(d.code, d.message);
    return d.exitCode;
  }
}
