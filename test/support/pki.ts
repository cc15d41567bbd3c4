/**
 * Test certificates made by Debian's `openssl` in a temp dir: a CA, a node certificate for
 * 127.0.0.1 signed by it, and a self-signed stranger. The caller removes `dir`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';

/** Certificates in `dir` (`ca.pem`, `node.pem`, `node.key`, `stranger.pem`, `stranger.key`) and their texts. */
export interface Pki {
  dir: string;
  ca: string;
  cert: string;
  key: string;
  /** A certificate from another CA. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A self-signed certificate `<name>.pem` with its key `<name>.key` in `dir`, valid 2 days. */
function selfSigned(dir: string, name: string, subject: string, extra: readonly string[] = []): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    subject,
    ...extra,
  ]);
}

/** A CA, a node certificate for 127.0.0.1 signed by it, and a self-signed stranger. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'dist-tls-'));
  // OTP 25's TLS client checks the host part of the node name as a DNS name, even an IP literal:
  // hence DNS:127.0.0.1 beside IP:127.0.0.1 (which Node checks).
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  selfSigned(dir, 'ca', '/CN=dist-test-ca');
  openssl(dir, [
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
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'node.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'node.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  selfSigned(dir, 'stranger', '/CN=127.0.0.1', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    ca: read('ca.pem'),
    cert: read('node.pem'),
    key: read('node.key'),
    strangerCert: read('stranger.pem'),
    strangerKey: read('stranger.key'),
  };
}

function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `describe` for suites that need `openssl` (CI installs it); without it the suite skips. */
export function describeTls(name: string, body: () => void): void {
  if (opensslAvailable()) describe(name, body);
  else describe.skip(`${name} (skipped: no openssl on PATH)`, body);
}
