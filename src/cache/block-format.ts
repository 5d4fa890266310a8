// The bytes of one block file on disk: a 32-byte header, then the data.
// The header lets a reader reject anything that is not exactly the block it
// asked for (a torn write, a file moved between entries, a changed block
// size, bit rot): any mismatch is a cache miss, never wrong bytes.
//
//   0  8  magic "DVFSBLK1"
//   8  4  block size of the cache that wrote it
//  12  4  block index in the file
//  16  4  data length
//  20  4  CRC-32 of the data
//  24  4  entry tag (first 32 bits of the entry's key hash)
//  28  4  CRC-32 of bytes 0..27
import { crc32 } from 'node:zlib';

export const HEADER_SIZE = 32;
const MAGIC = Buffer.from('DVFSBLK1', 'latin1');

export interface BlockHeader {
  blockSize: number;
  index: number;
  length: number;
  dataCrc: number;
  entryTag: number;
}

/** The 32-bit tag of an entry: its hex key hash's first 8 digits. */
export function entryTag(hash: string): number {
  return parseInt(hash.slice(0, 8), 16) >>> 0;
}

export function encodeHeader(h: BlockHeader): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE);
  MAGIC.copy(b, 0);
  b.writeUInt32LE(h.blockSize, 8);
  b.writeUInt32LE(h.index, 12);
  b.writeUInt32LE(h.length, 16);
  b.writeUInt32LE(h.dataCrc >>> 0, 20);
  b.writeUInt32LE(h.entryTag >>> 0, 24);
  b.writeUInt32LE(crc32(b.subarray(0, 28)) >>> 0, 28);
  return b;
}

/** The header of `b`, or undefined when it is not a well-formed block header. */
export function decodeHeader(b: Buffer): BlockHeader | undefined {
  if (b.length < HEADER_SIZE || !b.subarray(0, 8).equals(MAGIC)) return undefined;
  if (b.readUInt32LE(28) !== crc32(b.subarray(0, 28)) >>> 0) return undefined;
  return {
    blockSize: b.readUInt32LE(8),
    index: b.readUInt32LE(12),
    length: b.readUInt32LE(16),
    dataCrc: b.readUInt32LE(20),
    entryTag: b.readUInt32LE(24),
  };
}

export function dataCrc(data: Buffer): number {
  return crc32(data) >>> 0;
}
