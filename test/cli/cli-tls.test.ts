/**
 * `distribute start` and a client command over TLS distribution (`--tls-cert/--tls-key/--tls-ca`),
 * with certificates made by `openssl` in a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EpmdProcess, startEpmd } from '../support/epmd.ts';
import { type CliProcess, killAllCli, runCli, startCli } from './support.ts';

const COOKIE = 'cli-tls-cookie';
const T = 't@127.0.0.1';

function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A CA and a certificate for 127.0.0.1 signed by it; returns the directory. */
function makePki(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dist-cli-tls-'));
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
      '-days',
      '2',
      '-subj',
      '/CN=dist-cli-test-ca',
    ]),
  );
  openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'node.key',
    '-out',
    'node.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  openssl(
    ['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      'node.pem',
      '-days',
      '2',
      '-extfile',
      'ext.cnf',
    ]),
  );
  return dir;
}

const describeTls = opensslAvailable() ? describe : describe.skip;

describeTls('distribute CLI over TLS distribution', () => {
  let epmd: EpmdProcess;
  let dir: string;
  let t: CliProcess;
  let tlsArgs: string[];

  beforeAll(async () => {
    dir = makePki();
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
