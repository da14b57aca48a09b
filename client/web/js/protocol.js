// protocol.js: parses the binary audio messages of listener protocol v1 (docs/protocol.md):
// a 16-byte big-endian header, then u16-length-prefixed Opus packets. Main thread.

export const FLAG_FALLBACK = 1;
export const FLAG_DISCONTINUITY = 2;

const HEADER_BYTES = 16;
const VERSION = 1;

// → {flags, channel, seq, captureUs, packets: Uint8Array[]}; throws on a malformed message.
// captureUs is a Number: µs since the Unix epoch stays below 2^53 until the year 2255.
export function parseFrame(arrayBuffer) {
  const bytes = arrayBuffer instanceof Uint8Array ? arrayBuffer : new Uint8Array(arrayBuffer);
  if (bytes.byteLength < HEADER_BYTES + 2) throw new Error('audio message too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== VERSION) throw new Error(`unknown audio message version ${version}`);
  const captureUs = view.getUint32(8) * 4294967296 + view.getUint32(12);
  const packets = [];
  let at = HEADER_BYTES;
  while (at < bytes.byteLength) {
    if (at + 2 > bytes.byteLength) throw new Error('truncated packet length');
    const length = view.getUint16(at);
    at += 2;
    if (length === 0 || at + length > bytes.byteLength) throw new Error('bad packet length');
    packets.push(bytes.subarray(at, at + length));
    at += length;
  }
  return {
    flags: view.getUint8(1),
    channel: view.getUint16(2),
    seq: view.getUint32(4),
    captureUs,
    packets,
  };
}
