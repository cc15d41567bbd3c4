/**
 * The case for connecting TS nodes visible by default: three TS nodes and two erl nodes, every
 * one visible (`hidden: false`), connected through one seed. `global` must mesh them fully,
 * `global:sync()` must return on each erl node within 5 s, every node must hold the same names,
 * and no node may log an unexpected message or a crash.
 */
import { expect, it } from 'vitest';
import type { Logger } from '../../src/dist/logger.ts';
import { Node } from '../../src/node/node.ts';
import { type Atom, atom, equals, Pid, type Term } from '../../src/term/index.ts';
import { inspect } from '../../src/term/inspect.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';
import { describeErl } from '../support/erl.ts';
import type { ErlNode } from '../support/erl-node.ts';

const COOKIE = 'visible-default';

interface Record {
  readonly node: string;
  readonly level: string;
  readonly fields: { readonly [k: string]: unknown };
  readonly message: string | undefined;
}

describeErl('visible TS nodes in a mixed cluster', () => {
  const cluster = useTestCluster({ cookie: COOKIE, prefix: 'vis_ts' });
  let seq = 0;

  /** A logger that keeps warn and error records. */
  function recorder(node: string, into: Record[]): Logger {
    const keep =
      (level: string) =>
      (fields: { readonly [k: string]: unknown }, message?: string): void => {
        into.push({ node, level, fields, message });
      };
    return { warn: keep('warn'), error: keep('error') };
  }

  it('3 TS + 2 erl, all visible: global:sync() returns on every erl within 5 s, names agree, no errors', async () => {
    const records: Record[] = [];
    const ts: Node[] = [];
    for (let i = 0; i < 3; i++) {
      const name = `vis_ts${++seq}@127.0.0.1`;
      ts.push(await cluster.tsNode({ name, hidden: false, logger: recorder(name, records) }));
    }
    const erl: ErlNode[] = [];
    for (let i = 0; i < 2; i++) {
      erl.push(await cluster.erlNode(`vis_erl${++seq}`));
    }
    const all = [...ts.map((n) => n.name), ...erl.map((e) => e.name)];

    // A name on every node before they meet, so the first sync merges five tables.
    for (const [i, node] of ts.entries()) {
      const p = node.spawn(async (self) => {
        await self.receive({ match: (m) => m === atom('stop') });
      });
      expect(await node.global.register(atom(`before_ts${i}`), p)).toBe(true);
    }
    for (const [i, e] of erl.entries()) {
      await e.eval(
        `P${i} = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(before_erl${i}, P${i})`,
      );
    }

    // Everyone dials the first TS node only; global meshes the rest.
    const seed = ts[0]!;
    for (const node of ts.slice(1)) await node.connect(seed.name);
    for (const e of erl) expect(await e.eval(`net_kernel:connect_node('${seed.name}')`)).toBe(true);

    for (const e of erl) {
      const t0 = Date.now();
      expect(await e.eval('global:sync()', 10_000)).toBe(atom('ok'));
      expect(Date.now() - t0, `global:sync() on ${e.name}`).toBeLessThan(5000);
    }
    for (const node of ts) await node.global.sync();

    // A full visible mesh everywhere.
    const others = (me: string): string[] => all.filter((n) => n !== me).sort();
    for (const node of ts) {
      await until(
        () =>
          node.global.knownNodes().sort().join() === others(node.name).join() &&
          node.nodes('visible').sort().join() === others(node.name).join(),
        5000,
        `${node.name} connected to and synced with every node`,
      );
    }
    for (const e of erl) {
      const seen = (await e.eval('lists:sort(nodes())')) as Atom[];
      expect(seen.map((a) => a.name)).toEqual(others(e.name));
    }

    // One more name after the mesh, from an erl node, then the tables must agree.
    await erl[1]!.eval(
      'PA = spawn(fun() -> receive stop -> ok end end), yes = global:register_name(after_erl, PA)',
    );
    const expected = [
      ...ts.map((_, i) => `before_ts${i}`),
      ...erl.map((_, i) => `before_erl${i}`),
      'after_erl',
    ].sort();
    const tableOf = async (who: Node | ErlNode): Promise<string> => {
      if (who instanceof Node) {
        return expected
          .map((n) => `${n}=${inspect(who.global.whereis(atom(n)) ?? atom('undefined'))}`)
          .join(' ');
      }
      const owners = (await who.eval(`[global:whereis_name(N) || N <- [${expected.join(',')}]]`)) as Term[];
      return expected.map((n, i) => `${n}=${inspect(owners[i]!)}`).join(' ');
    };
    await until(
      async () => {
        const tables = await Promise.all([...ts, ...erl].map(tableOf));
        return tables.every((t) => t === tables[0]) && !tables[0]!.includes('undefined');
      },
      5000,
      'every node holds every name',
    );
    for (const e of erl) {
      const names = (await e.eval('lists:sort(global:registered_names())')) as Term[];
      expect(names.map((n) => inspect(n))).toEqual(expected);
      const owner = await e.eval('global:whereis_name(before_ts0)');
      expect(owner).toBeInstanceOf(Pid);
      expect(equals(owner, seed.global.whereis(atom('before_ts0'))!)).toBe(true);
    }
    for (const node of ts)
      expect(
        node.global
          .registeredNames()
          .map((n) => inspect(n))
          .sort(),
      ).toEqual(expected);

    // Nothing unexpected anywhere: no TS error, no TS warning about an unexpected message or call,
    // no erl error report. (A dial that loses a simultaneous connect, when global tells both
    // sides to dial each other, is warned about by the dist layer; that is not a fault.)
    const bad = records.filter(
      (r) =>
        r.level === 'error' ||
        /unexpected/.test(String(r.fields.code)) ||
        /unexpected/i.test(r.message ?? ''),
    );
    expect(bad.map((r) => `${r.node} ${r.level} ${String(r.fields.code)} ${r.message ?? ''}`)).toEqual([]);
    for (const e of erl) {
      expect(
        e.log.filter((l) => /unexpected|error|crash|disconnected node/i.test(l)),
        `log of ${e.name}`,
      ).toEqual([]);
    }
  }, 60_000);
});
