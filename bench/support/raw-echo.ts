/**
 * The `node-raw` calibration of the benchmarks: a plain TCP echo (bytes back as they come, in the
 * same turn, no protocol) in a peer process, and the client's connection to it. What a round trip
 * or a fan-out costs Node.js and the kernel before any distribution work.
 *
 * @module
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Starts the echo on a loopback ephemeral port (TCP_NODELAY); resolves with the server and its port. */
export async function startRawEcho(): Promise<{ server: Server; port: number }> {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** A TCP_NODELAY connection to the echo on `port`, once connected. */
export async function connectRaw(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
  } catch (e) {
    socket.destroy();
    throw e;
  }
  return socket;
}
