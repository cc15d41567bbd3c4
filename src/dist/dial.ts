/**
 * The TCP connect of an outgoing distribution connection, reading through Node's `onread`.
 *
 * A plain socket delivers every read through the Readable stream machinery (push, buffer state,
 * a `nextTick` to read more) after Node has allocated a 64 KiB backing store for it and shrunk
 * it to the bytes read. With `onread`, the kernel's bytes land in one buffer the socket owns and
 * a callback gets them at once; the callback copies them out (what arrived is referenced by the
 * decoded terms: binaries are views of it, so the reused buffer must never be handed on) and
 * emits them as `data`, so the handshake and the connection read this socket as any other.
 * Measured on a loopback round trip: about 7 us less CPU per read than the stream path.
 *
 * Only the dialling side can read this way: Node's `net.Server` offers no `onread` for the
 * sockets it accepts. TLS sockets read through the TLS layer, so they keep the plain path.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';

/** Bytes one read can take: Node's own read size. */
export const READ_BUFFER_BYTES: number = 64 * 1024;

/** Connects to `host:port` with TCP_NODELAY; the socket reads through one reusable buffer. */
export function dialTcp(host: string, port: number): Socket {
  const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  const socket: Socket = connect({
    host,
    port,
    noDelay: true,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        // A copy: the next read overwrites `buf`. Small copies come from Node's shared pool.
        const chunk = Buffer.allocUnsafe(n);
        chunk.set(buf.subarray(0, n));
        socket.emit('data', chunk);
        return true;
      },
    },
  });
  return socket;
}
