/**
 * The class of the Buffers the codec makes itself: decoded binaries (views into the input) and
 * small encoded results.
 *
 * @module
 */

import { Buffer } from 'node:buffer';

/**
 * A `Uint8Array` subclass whose prototype chain holds `Buffer.prototype` and whose `constructor`
 * is `Buffer`, built the way Node builds its own buffers. Its instances are Buffers in every
 * observable way (`Buffer.isBuffer`, `instanceof`, every method, `util.inspect`), and
 * `new BufferView(ab, offset, length)` is about twice as fast as `buf.subarray()` or
 * `Buffer.from(ab, offset, length)`, which check their arguments and look up the `buffer` getter
 * each time; `new BufferView(n)` of a small `n` lives on V8's heap, cheaper than `allocUnsafe`.
 */
export const BufferView: typeof Uint8Array = anonymousSubclass();
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype);
Object.defineProperty(BufferView.prototype, 'constructor', {
  value: Buffer,
  writable: true,
  configurable: true,
  enumerable: false,
});

/**
 * `class extends Uint8Array {}`, made where no name is bound to it: tools that keep class names
 * (esbuild's keepNames, which tsx uses) redefine a named class's `name`, and V8 then builds its
 * instances on a slow path.
 */
function anonymousSubclass(): typeof Uint8Array {
  return class extends Uint8Array {};
}
