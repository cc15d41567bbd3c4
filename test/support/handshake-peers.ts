/** Two nodes' handshake options, shared by the handshake and setup tests. */
import { ourFlags } from '../../src/dist/flags.ts';
import type { HandshakeOptions } from '../../src/dist/handshake.ts';

export const a: HandshakeOptions = {
  thisNode: 'a@127.0.0.1',
  thisFlags: ourFlags(false),
  thisCreation: 0x11223344,
  cookie: 'secret',
  challenge: 1234567890,
};

export const b: HandshakeOptions = {
  thisNode: 'b@127.0.0.1',
  thisFlags: ourFlags(false),
  thisCreation: 0x55667788,
  cookie: 'secret',
  challenge: 0xdeadbeef,
};
