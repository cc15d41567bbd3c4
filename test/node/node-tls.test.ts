import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Node } from '../../src/node/node.ts';
import type { NodeOptions, TlsOptions } from '../../src/node/options.ts';
import { atom, decode, encode, equals } from '../../src/term/index.ts';
import { echoVia, nextEvent, RecordingLogger, startEcho } from '../support/dist-helpers.ts';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeErl } from '../support/erl.ts';
import { startErlNode, stopAllErlNodes } from '../support/erl-node.ts';
import { describeTls, makePki, type Pki } from '../support/pki.ts';

const COOKIE = 'tls-cookie';

describeTls('TLS distribution', () => {
  let epmd: EpmdProcess;
  let pki: Pki;
  let tls: TlsOptions;
  const started: Node[] = [];
  let seq = 0;

  beforeAll(async () => {
    epmd = await startEpmd();
    pki = makePki();
    tls = { cert: pki.cert, key: pki.key, ca: pki.ca, verify: true };
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((n) => n.stop()));
    await stopAllErlNodes();
  });
  afterAll(async () => {
    await epmd?.stop();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  async function tsNode(opts: Partial<NodeOptions> = {}): Promise<Node> {
    const node = await Node.start({
      name: `tls${++seq}@127.0.0.1`,
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
      tls,
      ...opts,
    });
    started.push(node);
    return node;
  }

  it('connects two TS nodes over TLS with verified certificates, both directions', async () => {
    const a = await tsNode();
    const b = await tsNode();
    startEcho(b);
    startEcho(a);
    expect(await a.ping(b.name)).toBe('pong');
    const big = Buffer.alloc(1 << 20, 7);
    const back = await echoVia(a, [atom('echo'), b.atom], big);
    expect(equals(back, decode(encode(big)))).toBe(true);
    const down = nextEvent(b, 'nodedown', 5000);
    a.disconnect(b.name);
    await down;
    expect(await b.ping(a.name)).toBe('pong');
    expect(await echoVia(b, [atom('echo'), a.atom], 'hello')).toEqual(Buffer.from('hello'));
  });

  it('refuses a peer whose certificate our CA did not sign', async () => {
    const log = new RecordingLogger();
    const a = await tsNode({ logger: log });
    const stranger = await tsNode({
      tls: { cert: pki.strangerCert, key: pki.strangerKey, ca: pki.ca, verify: true },
    });
    expect(await stranger.ping(a.name)).toBe('pang');
    await log.waitFor('tls_failed');
    expect(await a.ping(stranger.name)).toBe('pang');
    expect(a.nodes('connected')).toEqual([]);
  });

  it('does not talk to a plain-TCP node', async () => {
    const a = await tsNode({ setupTimeoutMs: 1000 });
    const plain = await Node.start({
      name: `plain${++seq}@127.0.0.1`,
      cookie: COOKIE,
      epmd: 'external',
      epmdPort: epmd.port,
      setupTimeoutMs: 1000,
    });
    started.push(plain);
    expect(await a.ping(plain.name)).toBe('pang');
    expect(await plain.ping(a.name)).toBe('pang');
  });

  describeErl('with erl -proto_dist inet_tls', () => {
    function erlTls(name: string) {
      const conf = join(pki.dir, `${name}.conf`);
      const f = (x: string): string => JSON.stringify(join(pki.dir, x));
      writeFileSync(
        conf,
        `[{server, [{certfile, ${f('node.pem')}}, {keyfile, ${f('node.key')}}, {cacertfile, ${f('ca.pem')}},
                    {verify, verify_peer}, {fail_if_no_peer_cert, true}, {secure_renegotiate, true}]},
          {client, [{certfile, ${f('node.pem')}}, {keyfile, ${f('node.key')}}, {cacertfile, ${f('ca.pem')}},
                    {verify, verify_peer}, {secure_renegotiate, true}]}].\n`,
      );
      return startErlNode({
        name: `${name}@127.0.0.1`,
        cookie: COOKIE,
        epmdPort: epmd.port,
        args: ['-proto_dist', 'inet_tls', '-ssl_dist_optfile', conf],
      });
    }

    it('pings and exchanges messages both ways', async () => {
      const e = await erlTls('etls1');
      const ts = await tsNode();
      startEcho(ts, 'tsecho');
      expect(await e.eval(`net_adm:ping('${ts.name}')`)).toBe(atom('pong'));
      await e.eval('register(echo, spawn(fun L() -> receive {P, M} -> P ! {echo, M}, L() end end)), ok');
      const big = Buffer.alloc(1 << 20, 3);
      expect(equals(await echoVia(ts, [atom('echo'), atom(e.name)], big), big)).toBe(true);
      expect(
        await e.eval(
          `{tsecho, '${ts.name}'} ! {self(), {hello, [1, 2.5, <<"x">>]}}, receive {echo, R} -> R after 5000 -> timeout end`,
        ),
      ).toEqual(
        decode(
          encode(
            new (await import('../../src/term/index.ts')).Tuple([atom('hello'), [1, 2.5, Buffer.from('x')]]),
          ),
        ),
      );
      const ts2 = await tsNode();
      expect(await ts2.ping(e.name)).toBe('pong');
    });
  });
});
