import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { lookup, names } from '../../src/epmd/index.ts';
import { describeErl } from '../support/erl.ts';
import { Children, freePort, type LineChild, waitFor } from './support.ts';

const fixture = fileURLToPath(new URL('../fixtures/epmd-failover-node.ts', import.meta.url));

interface Status {
  event: 'registered' | 'lost' | 'reregistered' | 'error';
  name: string;
  port: number;
  hostsServer: boolean;
  creation: number;
  epmdCreation: number;
  pid: number;
  code?: string;
}

/** The status lines a fixture printed so far. */
function statuses(child: LineChild): Status[] {
  return child.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Status);
}

/** The last status line with one of `events`, if any. */
function last(child: LineChild, ...events: Status['event'][]): Status | undefined {
  return statuses(child)
    .filter((s) => events.includes(s.event))
    .at(-1);
}

const children = new Children();
afterEach(async () => {
  await children.killAll();
});

function startNode(name: string, epmdPort: number): LineChild {
  // One OS process per node (`--import tsx`, not the tsx CLI, which would fork a second one
  // that SIGKILL on the first would orphan).
  return children.spawn(process.execPath, ['--import', 'tsx', fixture, name, String(epmdPort)]);
}

async function registered(child: LineChild, name: string): Promise<Status> {
  await child.waitForLine(
    `${name} to register`,
    (l) => l.includes('"event":"registered"') || l.includes('"event":"error"'),
  );
  const status = last(child, 'registered', 'error');
  if (status?.event !== 'registered')
    throw new Error(`${name} failed: ${JSON.stringify(status)} ${child.stderr}`);
  return status;
}

describe('EPMD failover across OS processes', () => {
  it('the node hosting the embedded EPMD is SIGKILLed: a survivor hosts a new one and both re-register', async () => {
    const epmdPort = await freePort();
    const nodeNames = ['fo1', 'fo2', 'fo3'];
    const nodes = nodeNames.map((name) => startNode(name, epmdPort));
    const first = await Promise.all(nodes.map((child, i) => registered(child, nodeNames[i]!)));
    // They raced for the port; exactly one hosts, all are registered with it.
    expect(first.filter((s) => s.hostsServer)).toHaveLength(1);
    expect((await names({ epmdPort })).names.map((n) => n.name).sort()).toEqual(nodeNames);

    const hostIndex = first.findIndex((s) => s.hostsServer);
    const host = nodes[hostIndex]!;
    const survivors = nodes.filter((_, i) => i !== hostIndex);
    const survivorStatus = first.filter((_, i) => i !== hostIndex);
    host.process.kill('SIGKILL');
    await host.exited();

    const deadlineMs = 10_000;
    const started = Date.now();
    const again = await Promise.all(
      survivors.map((child) =>
        child
          .waitForLine('re-registration', (l) => l.includes('"event":"reregistered"'), deadlineMs)
          .then(() => last(child, 'reregistered')!),
      ),
    );
    const elapsedMs = Date.now() - started;
    expect(elapsedMs).toBeLessThan(deadlineMs);
    for (const child of survivors)
      expect(last(child, 'lost', 'reregistered', 'registered')?.event).toBe('reregistered');
    for (const child of survivors)
      expect(statuses(child).find((s) => s.event === 'lost')?.code).toBe('closed');
    // One survivor hosts the new server.
    expect(again.filter((s) => s.hostsServer)).toHaveLength(1);
    // Each keeps its first creation as its identity.
    expect(again.map((s) => s.creation)).toEqual(survivorStatus.map((s) => s.creation));
    // Both are reachable again through the port.
    for (const s of survivorStatus) {
      expect((await lookup(s.name, { epmdPort }))?.port).toBe(s.port);
    }
    expect((await names({ epmdPort })).names.map((n) => n.name).sort()).toEqual(
      survivorStatus.map((s) => s.name).sort(),
    );
  });
});

describeErl('EPMD failover with an erl node registered in the embedded EPMD', () => {
  it('the erl node re-registers with the survivor that hosts the new server', async () => {
    const epmdPort = await freePort();
    const a = startNode('foa', epmdPort);
    const aStatus = await registered(a, 'foa');
    expect(aStatus.hostsServer).toBe(true);
    const b = startNode('fob', epmdPort);
    const bStatus = await registered(b, 'fob');
    expect(bStatus.hostsServer).toBe(false);
    const erlName = `foerl${process.pid}`;
    children.spawn('erl', ['-noshell', '-name', `${erlName}@127.0.0.1`, '-setcookie', 'c'], {
      ERL_EPMD_PORT: String(epmdPort),
    });
    const erlPort = await waitFor(
      `${erlName} to register`,
      async () => (await lookup(erlName, { epmdPort }))?.port,
      20_000,
    );

    a.process.kill('SIGKILL');
    await b.waitForLine(
      'fob to host',
      (l) => l.includes('"event":"reregistered"') && l.includes('"hostsServer":true'),
    );
    // OTP's erl_epmd retries every 2 s after losing its EPMD connection.
    const back = await waitFor(
      `${erlName} to re-register`,
      async () => await lookup(erlName, { epmdPort }),
      10_000,
    );
    expect(back.port).toBe(erlPort);
  });
});
