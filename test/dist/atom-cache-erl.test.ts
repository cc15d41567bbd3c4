/**
 * A real OTP 25 node sends us cached atom references (DFLAG_DIST_HDR_ATOM_CACHE): every message
 * arrives equal to what erl sent, across slot rebinding, unicode and 255-character atoms,
 * registered names and pids, and fragmented messages.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { AtomCache, type AtomCacheRefs } from '../../src/dist/atom-cache.ts';
import { atom, encode, equals, type Pid, type Term, tuple } from '../../src/term/index.ts';
import { useTestCluster } from '../support/cluster.ts';
import { until } from '../support/dist-helpers.ts';
import { describeErl } from '../support/erl.ts';

/** What the connections' atom caches read, counted by wrapping {@link AtomCache.read}. */
const seen = { headers: 0, refs: 0, maxRefs: 0, longAtoms: 0, fragmentStarts: 0 };

describeErl('atom cache with erl', () => {
  const { tsNode, erlNode } = useTestCluster({ cookie: 'atom-cache-cookie', prefix: 'ac' });

  beforeEach(() => {
    seen.headers = 0;
    seen.refs = 0;
    seen.maxRefs = 0;
    seen.longAtoms = 0;
    seen.fragmentStarts = 0;
    const read = AtomCache.prototype.read;
    vi.spyOn(AtomCache.prototype, 'read').mockImplementation(function (
      this: AtomCache,
      frame: Uint8Array,
      offset: number,
      count: number,
    ): AtomCacheRefs {
      const r = read.call(this, frame, offset, count);
      seen.headers++;
      seen.refs += r.refs.length;
      seen.maxRefs = Math.max(seen.maxRefs, r.refs.length);
      // The LongAtoms bit (2-byte text lengths), in the nibble after the last reference.
      if (((frame[offset + (count >> 1)]! >> ((count & 1) * 4)) & 1) !== 0) seen.longAtoms++;
      // A start fragment's references begin after `131 69 Seq:64 FragId:64 N`.
      if (frame[1] === 69 && offset === 19) seen.fragmentStarts++;
      return r;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A TS process registered as `name` that keeps everything it receives. */
  function sink(ts: Awaited<ReturnType<typeof tsNode>>, name: string): { got: Term[]; pid: Pid } {
    const got: Term[] = [];
    const pid = ts.spawn(
      async (self) => {
        for (;;) got.push(await self.receive());
      },
      { name: atom(name) },
    );
    return { got, pid };
  }

  it('receives thousands of distinct atoms, unicode and long ones, by name and by pid', async () => {
    const e = await erlNode('atoms1');
    const ts = await tsNode();
    const { got, pid } = sink(ts, 'sink');
    expect(await e.eval(`net_adm:ping('${ts.name}')`)).toBe(atom('pong'));
    await e.eval(`Sink = binary_to_term(base64:decode("${encode(pid).toString('base64')}"))`);
    // 3000 ASCII atoms (more than the 2048 slots, so slots are rebound), 300 unicode ones, and
    // atoms of 255 multi-byte characters (up to 1020 bytes, with 2-byte lengths in the header).
    await e.eval(`
      Ascii = [list_to_atom("atom_" ++ integer_to_list(I)) || I <- lists:seq(1, 3000)],
      Uni = [list_to_atom([16#3b1 + I rem 24, 16#4e00 + I, $_, 16#1F600 + I rem 50]) || I <- lists:seq(1, 300)],
      Long = [list_to_atom(lists:duplicate(255, C)) || C <- [16#20AC, 16#1F680, 16#E9, $z]]
        ++ [list_to_atom(lists:duplicate(254, 16#4e8c) ++ [16#30 + I]) || I <- lists:seq(1, 9)],
      All = Ascii ++ Uni ++ Long,
      Chunks = fun C([]) -> []; C(L) -> {H, T} = lists:split(min(7, length(L)), L), [H | C(T)] end,
      Msgs = [{msg, N, self(), Atoms, maps:from_list([{A, N} || A <- Atoms])}
              || {N, Atoms} <- lists:zip(lists:seq(1, length(Chunks(All))), Chunks(All))]
        ++ [{wide, All -- Long}, {wide_long, Long, lists:sublist(Ascii, 300)}],
      length(Msgs)`);
    const expected = (await e.eval('Msgs')) as Term[];
    expect(expected.length).toBeGreaterThan(470);

    await e.eval(`[{sink, '${ts.name}'} ! M || M <- Msgs], ok`);
    await until(() => got.length >= expected.length, 30_000, 'messages by name');
    await e.eval('[Sink ! M || M <- lists:reverse(Msgs)], ok');
    await until(() => got.length >= 2 * expected.length, 30_000, 'messages by pid');
    const all = [...expected, ...[...expected].reverse()];
    expect(got.length).toBe(all.length);
    const bad = all.findIndex((m, i) => !equals(got[i]!, m));
    expect(bad).toBe(-1);
    // The BEAM really used the cache: most atoms came as references, many per header.
    expect(seen.headers).toBeGreaterThan(expected.length);
    expect(seen.refs).toBeGreaterThan(2 * 3300);
    expect(seen.maxRefs).toBe(255);
    expect(seen.longAtoms).toBeGreaterThan(0);
  });

  it('receives an 8 MiB message full of atoms (fragments), interleaved with small ones', async () => {
    const e = await erlNode('atoms2');
    const ts = await tsNode();
    const { got } = sink(ts, 'sink');
    expect(await e.eval(`net_adm:ping('${ts.name}')`)).toBe(atom('pong'));
    await e.eval('register(acheck, self())');
    await e.eval(`
      Atoms = [list_to_atom("big_" ++ integer_to_list(I)) || I <- lists:seq(1, 4000)],
      Big = {big, self(), Atoms, binary:copy(<<"0123456789abcdef">>, 512 * 1024), Atoms},
      Small = [{small, I, lists:sublist(Atoms, I, 20)} || I <- lists:seq(1, 200)],
      Senders = [spawn(fun() -> {sink, '${ts.name}'} ! M end) || M <- [Big | Small] ++ [Big]],
      length(Senders)`);
    await until(() => got.length >= 202, 60_000, 'all messages');
    expect(got.length).toBe(202);
    // What we decoded, sent back, is exactly what erl sent (order between senders is not fixed).
    ts.send([atom('acheck'), atom(e.name)], tuple(atom('got'), got));
    const same = await e.eval(
      'receive {got, L} -> lists:sort(L) =:= lists:sort([Big | Small] ++ [Big]) after 60000 -> timeout end',
      70_000,
    );
    expect(same).toBe(true);
    expect(seen.refs).toBeGreaterThan(200 * 20);
    expect(seen.fragmentStarts).toBeGreaterThan(0);
  }, 120_000);
});
