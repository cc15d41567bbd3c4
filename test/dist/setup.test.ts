/**
 * SetupRun (setup.ts) over a socket stand-in that records what reaches the wire: each uncorked
 * write, or each uncork of corked writes, is one segment.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Handshake } from '../../src/dist/handshake.ts';
import { SetupRun } from '../../src/dist/setup.ts';
import { a, b } from '../support/handshake-peers.ts';

/** A socket whose writes are collected as segments (corked writes leave together on uncork). */
class WireSocket extends EventEmitter {
  readonly segments: Buffer[] = [];
  writableCorked = 0;
  destroyed = false;
  #corked: Buffer[] = [];
  write(b: Buffer): boolean {
    if (this.writableCorked > 0) this.#corked.push(Buffer.from(b));
    else this.segments.push(Buffer.from(b));
    return true;
  }
  cork(): void {
    this.writableCorked++;
  }
  uncork(): void {
    if (this.writableCorked === 0) return;
    if (--this.writableCorked > 0) return;
    if (this.#corked.length > 0) this.segments.push(Buffer.concat(this.#corked));
    this.#corked = [];
  }
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

/** 2-byte length-prefixed frames in a segment. */
function frames(segment: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < segment.length) {
    const len = segment.readUInt16BE(off);
    out.push(segment.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  return out;
}

function run(socket: WireSocket, handshake: Handshake): { up: string[]; failed: string[]; run: SetupRun } {
  const up: string[] = [];
  const failed: string[] = [];
  const r = new SetupRun({
    socket: socket as unknown as Socket,
    handshake,
    headerBytes: 2,
    setupTimeoutMs: 60_000,
    decide: (q) => (q.kind === 'accept' ? 'ok' : true),
    // The node writes the final frames (the acceptor's challenge_ack) through the connection.
    onUp: (result, _socket, _parser, finalFrames) => {
      for (const f of finalFrames) socket.write(f);
      up.push(result.peer);
    },
    onFail: (e) => failed.push(e.code),
  });
  return { up, failed, run: r };
}

describe('SetupRun', () => {
  it("sends the acceptor's status and challenge in one segment, and completes both sides", () => {
    const initSock = new WireSocket();
    const accSock = new WireSocket();
    const init = run(initSock, Handshake.initiator({ ...a, peer: 'b@127.0.0.1' }));
    const acc = run(accSock, Handshake.acceptor(b));
    init.run.start();
    // Shuttle segments between the two until both are up.
    let iSent = 0;
    let aSent = 0;
    for (let step = 0; step < 10 && (init.up.length === 0 || acc.up.length === 0); step++) {
      while (iSent < initSock.segments.length) accSock.emit('data', initSock.segments[iSent++]);
      while (aSent < accSock.segments.length) initSock.emit('data', accSock.segments[aSent++]);
      if (step === 0) {
        // The answer to send_name: status `ok` and the challenge, two frames in one segment.
        expect(accSock.segments).toHaveLength(1);
        const f = frames(accSock.segments[0]!);
        expect(f.map((x) => String.fromCharCode(x[0]!))).toEqual(['s', 'N']);
      }
    }
    expect(init.failed).toEqual([]);
    expect(acc.failed).toEqual([]);
    expect(init.up).toEqual(['b@127.0.0.1']);
    expect(acc.up).toEqual(['a@127.0.0.1']);
    // Nothing is left corked once a step is done.
    expect(initSock.writableCorked).toBe(0);
    expect(accSock.writableCorked).toBe(0);
  });
});
