/**
 * A minimal NUT muxer for raw RGB frames with explicit timestamps, to pipe into ffmpeg.
 *
 * Why: ffmpeg's rawvideo input has no timestamps (every frame is 1/rate after the previous one), so a
 * variable-frame-rate source would drift against its audio. NUT is ffmpeg's own simple container that carries a
 * pts per frame in any rational time base, and every ffmpeg since 0.x reads it from a pipe.
 *
 * Layout written: file id, main header, stream header, an info packet (the nominal frame rate), then for every
 * frame a syncpoint and a keyframe with a coded pts and a header checksum (frames are larger than max_distance).
 * Spec: https://ffmpeg.org/~michael/nut.txt (version 3).
 */

const FILE_ID = Buffer.from('nut/multimedia container\0', 'latin1');
const MAIN_STARTCODE = 0x4e4d7a561f5f04adn;
const STREAM_STARTCODE = 0x4e5311405bf2f9dbn;
const SYNCPOINT_STARTCODE = 0x4e4be4adeeca4569n;
const INFO_STARTCODE = 0x4e49ab68b596ba78n;

const FLAG_KEY = 1;
const FLAG_CODED_PTS = 8;
const FLAG_SIZE_MSB = 32;
const FLAG_CHECKSUM = 64;
/** Every frame code (but 'N') means: keyframe of stream 0, full pts and size coded, header checksum present. */
const FRAME_FLAGS = FLAG_KEY | FLAG_CODED_PTS | FLAG_SIZE_MSB | FLAG_CHECKSUM;
const MAX_DISTANCE = 65536;
/** Pts are always coded in full: a coded value >= 2^shift is read as pts + 2^shift. */
const MSB_PTS_SHIFT = 14;

export interface Rational {
  num: number;
  den: number;
}

/** Unsigned variable-length number: 7 bits a byte, most significant first, high bit set on all but the last. */
export function varUint(value: number | bigint): Buffer {
  let v = BigInt(value);
  if (v < 0n) throw new RangeError(`NUT v-coded value must be >= 0 (got ${v})`);
  const bytes = [Number(v & 0x7fn)];
  v >>= 7n;
  while (v > 0n) {
    bytes.unshift(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  return Buffer.from(bytes);
}

/** Signed: 0, 1, -1, 2, -2... as 0, 1, 2, 3, 4... */
export function varInt(value: number): Buffer {
  return varUint(value > 0 ? 2 * value - 1 : -2 * value);
}

function varBytes(data: Buffer): Buffer {
  return Buffer.concat([varUint(data.length), data]);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i += 1) {
    let c = i << 24;
    for (let k = 0; k < 8; k += 1) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32 as NUT uses it: polynomial 0x04C11DB7, most significant bit first, initial value 0, no final xor. */
export function nutCrc(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0;
  return crc;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function startcode(code: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(code);
  return b;
}

/** A packet: startcode, forward pointer (payload + checksum), the payload and its checksum. */
function packet(code: bigint, payload: Buffer): Buffer {
  const forward = varUint(payload.length + 4);
  const head = Buffer.concat([startcode(code), forward]);
  // Long packets also checksum their header, so a reader can trust forward_ptr before skipping.
  const headCheck = payload.length + 4 > 4096 ? u32(nutCrc(head)) : Buffer.alloc(0);
  return Buffer.concat([head, headCheck, payload, u32(nutCrc(payload))]);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export interface NutVideoStream {
  width: number;
  height: number;
  /** The unit of every pts written; reduced to lowest terms here (NUT requires it). */
  timeBase: Rational;
  /** The nominal frame rate ("30000/1001"), told to ffmpeg so it need not guess it from the first timestamps. */
  frameRate?: string;
}

/** Everything before the first frame. */
export function nutHeader(stream: NutVideoStream): Buffer {
  const g = gcd(stream.timeBase.num, stream.timeBase.den);
  const num = stream.timeBase.num / g;
  const den = stream.timeBase.den / g;
  if (!Number.isInteger(num) || !Number.isInteger(den) || num <= 0 || den <= 0)
    throw new RangeError(`invalid NUT time base ${stream.timeBase.num}/${stream.timeBase.den}`);
  const main = Buffer.concat([
    varUint(3), // version
    varUint(1), // stream_count
    varUint(MAX_DISTANCE),
    varUint(1), // time_base_count
    varUint(num),
    varUint(den),
    // One frame-code run: flags, 6 fields (pts delta, size_mul, stream, size_lsb, reserved, count) for codes 0..255.
    varUint(FRAME_FLAGS),
    varUint(6),
    varInt(0),
    varUint(1),
    varUint(0),
    varUint(0),
    varUint(0),
    varUint(255),
    varUint(0), // header_count_minus1: no elision headers (readers need the count to accept header_idx 0)
  ]);
  const fourcc = Buffer.from([0x52, 0x47, 0x42, 24]); // 'RGB' 24: packed rgb24
  const streamHeader = Buffer.concat([
    varUint(0), // stream_id
    varUint(0), // class: video
    varBytes(fourcc),
    varUint(0), // time_base_id
    varUint(MSB_PTS_SHIFT),
    varUint(MAX_DISTANCE), // max_pts_distance (frames carry a checksum, so it is not enforced)
    varUint(0), // decode_delay
    varUint(0), // stream_flags
    varBytes(Buffer.alloc(0)), // codec_specific_data
    varUint(stream.width),
    varUint(stream.height),
    varUint(0), // sample_width, sample_height: unknown aspect, as a raw pipe has
    varUint(0),
    varUint(0), // colorspace_type
  ]);
  const parts = [FILE_ID, packet(MAIN_STARTCODE, main), packet(STREAM_STARTCODE, streamHeader)];
  if (stream.frameRate) {
    const info = Buffer.concat([
      varUint(1), // stream_id_plus1
      varInt(0), // chapter_id
      varUint(0), // chapter_start
      varUint(0), // chapter_len
      varUint(1), // count
      varBytes(Buffer.from('r_frame_rate')),
      varInt(-1), // type: UTF-8 string
      varBytes(Buffer.from(stream.frameRate)),
    ]);
    parts.push(packet(INFO_STARTCODE, info));
  }
  return Buffer.concat(parts);
}

/** The syncpoint and frame header that go right before one frame's `size` bytes of RGB, at `pts` (time base units). */
export function nutFrameHeader(pts: number, size: number): Buffer {
  if (!Number.isSafeInteger(pts) || pts < 0) throw new RangeError(`NUT pts must be a whole number >= 0 (got ${pts})`);
  // back_ptr 0: every frame is a keyframe with its own syncpoint.
  const sync = packet(SYNCPOINT_STARTCODE, Buffer.concat([varUint(pts), varUint(0)]));
  const header = Buffer.concat([Buffer.from([0]), varUint(BigInt(pts) + (1n << BigInt(MSB_PTS_SHIFT))), varUint(size)]);
  return Buffer.concat([sync, header, u32(nutCrc(header))]);
}
