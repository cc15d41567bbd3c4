import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { describeTls, makePki } from '../support/pki.ts';
import { type CliProcess, killAllCli, runCli, startCli } from './support.ts';

const COOKIE = 'cli-tls-cookie';
const T = 't@127.0.0.1';

describeTls('distribute CLI over TLS distribution', () => {
  let epmd: EpmdProcess;
  let dir: string;
  let t: CliProcess;
  let tlsArgs: string[];

  beforeAll(async () => {
    dir = makePki().dir;
    tlsArgs = [
      '--tls-cert',
      join(dir, 'node.pem'),
      '--tls-key',
      join(dir, 'node.key'),
      '--tls-ca',
      join(dir, 'ca.pem'),
    ];
    epmd = await startEpmd();
    t = startCli(['start', '--name', T, '--cookie', COOKIE, '--epmd', 'external', ...tlsArgs], epmd.port);
    await t.waitForLine((l) => l.startsWith(`up ${T}`) && l.includes('tls'));
  });

  afterAll(async () => {
    await killAllCli();
    await epmd?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a TLS client pings a TLS node; a plain one cannot; a missing key file is exit 1', async () => {
    const [tls, plain, missing] = await Promise.all([
      runCli(['ping', T, '--cookie', COOKIE, ...tlsArgs], epmd.port),
      runCli(['ping', T, '--cookie', COOKIE, '--timeout', '3000'], epmd.port),
      runCli(
        [
          'ping',
          T,
          '--cookie',
          COOKIE,
          '--tls-cert',
          join(dir, 'node.pem'),
          '--tls-key',
          join(dir, 'nope.key'),
        ],
        epmd.port,
      ),
    ]);
    expect(tls.code, tls.stderr).toBe(0);
    expect(tls.stdout).toMatch(/^pong t@127\.0\.0\.1 /);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^error: cannot reach t@127\.0\.0\.1: /);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read --tls-key .*nope\.key/);
  });
});
