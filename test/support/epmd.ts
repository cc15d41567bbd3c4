/**
 * A private `epmd` for tests: listens on a free loopback port, never on 4369, so tests
 * running in parallel (and any system epmd) do not see each other's nodes. Pass
 * `ERL_EPMD_PORT=<port>` to every `erl` the test starts (see {@link EpmdProcess.env}).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';

/** A running private epmd. */
export interface EpmdProcess {
  readonly port: number;
  /** `process.env` plus `ERL_EPMD_PORT`, for spawning `erl` against this epmd. */
  env(): NodeJS.ProcessEnv;
  /** Stops epmd and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options for {@link startEpmd}. */
export interface StartEpmdOptions {
  /** How long to wait for epmd to answer, per attempt. Default 10 000 ms. */
  readonly readyTimeoutMs?: number;
  /** Free ports to try before giving up (another process may take the port first). Default 5. */
  readonly attempts?: number;
}

/** `sh -c` script: epmd on port $1, killed once stdin reaches end of file; exits with epmd. */
// A background job's stdin is /dev/null in sh, so the watcher reads our pipe through fd 3.
const WATCHDOG =
  'exec 3<&0; epmd -port "$1" -address 127.0.0.1 & e=$!; (read -r _ <&3; kill "$e" 2>/dev/null) & wait "$e"';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

/** Starts `epmd -port P` on a free port and resolves once it answers a NAMES_REQ on that port. */
export async function startEpmd(options: StartEpmdOptions = {}): Promise<EpmdProcess> {
  const attempts = options.attempts ?? 5;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort();
    // epmd outlives a parent that dies without teardown (a killed test worker), so it runs under
    // a shell that kills it when our end of its stdin closes: on stop(), or when we die.
    const child = spawn('sh', ['-c', WATCHDOG, 'epmd-watchdog', String(port)], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // Without a listener, a spawn failure (no epmd on PATH) would be an uncaught error.
    const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));
    try {
      await waitReady(child, port, readyTimeoutMs, spawnFailed);
      return makeHandle(child, port);
    } catch (error) {
      lastError = new Error(`epmd on port ${port} did not start: ${String(error)} ${stderr.trim()}`);
      await stopChild(child);
    }
  }
  throw lastError;
}

function makeHandle(child: ChildProcess, port: number): EpmdProcess {
  return {
    port,
    env: () => ({ ...process.env, ERL_EPMD_PORT: String(port) }),
    stop: () => stopChild(child),
  };
}

/** Polls with NAMES_REQ until this epmd answers with its own port, the child exits, or the deadline. */
async function waitReady(
  child: ChildProcess,
  port: number,
  timeoutMs: number,
  spawnFailed: Promise<Error>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  const onExit = (): void => {
    exited = true;
  };
  child.once('exit', onExit);
  const failure = spawnFailed.then((error) => {
    throw error;
  });
  failure.catch(() => undefined);
  try {
    while (Date.now() < deadline) {
      if (exited) throw new Error(`epmd exited with ${child.exitCode ?? child.signalCode}`);
      const answered = await Promise.race([namesReq(port), failure]);
      if (answered === port) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no answer within ${timeoutMs} ms`);
  } finally {
    child.off('exit', onExit);
  }
}

/** Sends NAMES_REQ (110); resolves the port epmd reports, or undefined if nothing answers. */
async function namesReq(port: number): Promise<number | undefined> {
  return await new Promise<number | undefined>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (value: number | undefined): void => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1000, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write(Buffer.from([0, 1, 110])));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length >= 4) done(all.readUInt32BE(0));
    });
    socket.once('end', () => done(undefined));
  });
}

/** Closes the watchdog's stdin, which kills epmd; the shell then exits. SIGKILL after a deadline. */
async function stopChild(child: ChildProcess): Promise<void> {
  // No pid: the spawn itself failed, so there is nothing to stop.
  if (child.pid === undefined) return;
  child.stdin?.destroy();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
