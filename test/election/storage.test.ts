/** Term and vote storage (storage.ts): memory, and a file replaced atomically with fsync. */
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ElectionError } from '../../src/cluster/election/errors.ts';
import {
  decodeHardState,
  encodeHardState,
  FileStorage,
  initialHardState,
  MemoryStorage,
} from '../../src/cluster/election/storage.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'election-storage-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    expect(err).toBeInstanceOf(ElectionError);
    return (err as ElectionError).code;
  }
}

describe('MemoryStorage', () => {
  it('keeps the last state saved', async () => {
    const s = new MemoryStorage();
    expect(await s.load()).toEqual(initialHardState);
    await s.save({ term: 3, vote: 'a' });
    expect(s.loadSync()).toEqual({ term: 3, vote: 'a' });
    expect(s.saves).toBe(1);
  });

  it('refuses a malformed state', async () => {
    const s = new MemoryStorage();
    expect(await codeOf(s.save({ term: -1, vote: null }))).toBe('invalid-config');
    expect(await codeOf(s.save({ term: 1, vote: '' }))).toBe('invalid-config');
  });
});

describe('FileStorage', () => {
  it('reads the initial state when no file exists', async () => {
    expect(await new FileStorage(join(dir, 'none.json')).load()).toEqual(initialHardState);
  });

  it('round-trips through a restart (a new object on the same file)', async () => {
    const path = join(dir, 'sub', 'election.json');
    await new FileStorage(path).save({ term: 7, vote: 'node@host' });
    expect(await new FileStorage(path).load()).toEqual({ term: 7, vote: 'node@host' });
  });

  it('applies saves in call order; the last one wins', async () => {
    const path = join(dir, 'e.json');
    const s = new FileStorage(path);
    await Promise.all([1, 2, 3, 4, 5].map((term) => s.save({ term, vote: null })));
    expect(await s.load()).toEqual({ term: 5, vote: null });
    expect(await readdir(dir)).toEqual(['e.json']); // no temporary file left behind
  });

  it('fsyncs the file and its directory on every save', async () => {
    const path = join(dir, 'e.json');
    // FileHandle is not exported; take its prototype from an open handle.
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    await rm(join(dir, 'probe'));
    const sync = vi.spyOn(proto, 'sync');
    await new FileStorage(path).save({ term: 1, vote: 'a' });
    expect(sync).toHaveBeenCalledTimes(2);
  });

  it('detects a corrupt or tampered file', async () => {
    const path = join(dir, 'e.json');
    const s = new FileStorage(path);
    await s.save({ term: 2, vote: 'a' });
    const good = await readFile(path, 'utf8');
    await writeFile(path, good.replace('"term\\":2', '"term\\":9'));
    expect(await codeOf(s.load())).toBe('storage-corrupt');
    await writeFile(path, good.slice(0, 10));
    expect(await codeOf(s.load())).toBe('storage-corrupt');
    await writeFile(path, '');
    expect(await codeOf(s.load())).toBe('storage-corrupt');
  });

  it('reports a write it cannot make as storage-failed', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'x');
    expect(await codeOf(new FileStorage(join(blocker, 'e.json')).save({ term: 1, vote: null }))).toBe(
      'storage-failed',
    );
  });
});

describe('encodeHardState / decodeHardState', () => {
  it('round-trip and check the version', () => {
    const text = encodeHardState({ term: 5, vote: null });
    expect(decodeHardState(text)).toEqual({ term: 5, vote: null });
    expect(() => decodeHardState(text.replace('"version\\":1', '"version\\":2'))).toThrow(/checksum|version/);
  });
});
