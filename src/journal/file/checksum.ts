// CRC-32 (IEEE, the one zlib and gzip use) for the journal's checksums. Small inputs (a log
// transaction, the mark) are summed here, so a command that commits one task does not load
// node:zlib (≈2 ms); large ones (a snapshot, a bulk transaction) go to zlib's native crc32.
import type * as Zlib from "node:zlib";

const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** Past this many bytes native code wins even counting zlib's load. */
const NATIVE_FROM = 64 * 1024;
let native: typeof Zlib.crc32 | undefined;

/** The CRC-32 of `data` (a string counts as its UTF-8 bytes), continuing from `value` like zlib.crc32. */
export function crc32(data: Buffer | string, value = 0): number {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  if (bytes.length >= NATIVE_FROM) {
    native ??= (process.getBuiltinModule("node:zlib") as typeof Zlib).crc32;
    return native(bytes, value);
  }
  let c = ~value;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
