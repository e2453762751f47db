/**
 * Gives an MP4/MOV export's video track the duration its frames really have.
 *
 * Why: an encoder packet has no duration unless ffmpeg derives one from a constant frame rate, and ffmpeg 4.x
 * (@ffmpeg-installer's build) does not for variable-rate video. The mov muxer then ends the track's edit list at the
 * last packet's decode time: with B-frames that is before the last frames are shown, so players (and ffprobe) drop
 * them, and even newer builds guess one nominal frame for the last one. Rewriting a few fixed-size fields of the
 * moov box (never its size, nothing is moved) makes the edit list cover every frame to the end of the last one.
 */
import { promises as fs } from 'node:fs';

interface Box {
  type: string;
  /** Offset of the box header, of its payload, and of the end of the box. */
  start: number;
  body: number;
  end: number;
}

/** The boxes directly inside buf[start, end). */
function boxes(buf: Buffer, start: number, end: number): Box[] {
  const out: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > end) break;
      size = Number(buf.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) size = end - at;
    if (size < body - at || at + size > end) break;
    out.push({ type, start: at, body, end: at + size });
    at += size;
  }
  return out;
}

const child = (buf: Buffer, parent: Box, type: string): Box | undefined =>
  boxes(buf, parent.body, parent.end).find((b) => b.type === type);

/** A version-0/1 full box's 32- or 64-bit field at `offset0` / `offset1` bytes into its payload. */
function field(buf: Buffer, box: Box, offset0: number, offset1: number): { get(): number; set(v: number): void } {
  const v1 = buf.readUInt8(box.body) === 1;
  const at = box.body + (v1 ? offset1 : offset0);
  return v1
    ? { get: () => Number(buf.readBigUInt64BE(at)), set: (v) => buf.writeBigUInt64BE(BigInt(v), at) }
    : { get: () => buf.readUInt32BE(at), set: (v) => buf.writeUInt32BE(v, at) };
}

const timescaleOf = (buf: Buffer, box: Box): number =>
  buf.readUInt32BE(box.body + (buf.readUInt8(box.body) === 1 ? 20 : 12));

/**
 * Patches a moov box in place so its video track lasts `durationSeconds` (the exported frames' span); returns whether
 * anything changed. Left alone: a track already that long, or one without the boxes this needs.
 */
export function fixVideoTrackDuration(buf: Buffer, moov: Box, durationSeconds: number): boolean {
  const mvhd = child(buf, moov, 'mvhd');
  if (!mvhd) return false;
  const movieScale = timescaleOf(buf, mvhd);
  const traks = boxes(buf, moov.body, moov.end).filter((b) => b.type === 'trak');
  const video = traks.find((trak) => {
    const hdlr = (() => {
      const mdia = child(buf, trak, 'mdia');
      return mdia && child(buf, mdia, 'hdlr');
    })();
    return hdlr !== undefined && buf.toString('latin1', hdlr.body + 8, hdlr.body + 12) === 'vide';
  });
  const mdia = video && child(buf, video, 'mdia');
  const mdhd = mdia && child(buf, mdia, 'mdhd');
  const stbl = (() => {
    const minf = mdia && child(buf, mdia, 'minf');
    return minf && child(buf, minf, 'stbl');
  })();
  const stts = stbl && child(buf, stbl, 'stts');
  const tkhd = video && child(buf, video, 'tkhd');
  const edts = video && child(buf, video, 'edts');
  const elst = edts && child(buf, edts, 'elst');
  if (!video || !mdhd || !stts || !tkhd || !elst) return false;
  const trackScale = timescaleOf(buf, mdhd);

  // The edit that shows the media (media_time >= 0): the last one, after any empty (delay) edit.
  const elstV1 = buf.readUInt8(elst.body) === 1;
  const entrySize = elstV1 ? 20 : 12;
  const editCount = buf.readUInt32BE(elst.body + 4);
  let edit = -1;
  let editsBefore = 0;
  for (let i = 0; i < editCount; i += 1) {
    const at = elst.body + 8 + i * entrySize;
    const mediaTime = elstV1 ? Number(buf.readBigInt64BE(at + 8)) : buf.readInt32BE(at + 4);
    if (mediaTime >= 0) edit = i;
  }
  if (edit < 0) return false;
  const editAt = elst.body + 8 + edit * entrySize;
  for (let i = 0; i < edit; i += 1) {
    const at = elst.body + 8 + i * entrySize;
    editsBefore += elstV1 ? Number(buf.readBigUInt64BE(at)) : buf.readUInt32BE(at);
  }
  const segment = elstV1 ? Number(buf.readBigUInt64BE(editAt)) : buf.readUInt32BE(editAt);
  const mediaTime = elstV1 ? Number(buf.readBigInt64BE(editAt + 8)) : buf.readInt32BE(editAt + 4);

  const sttsCount = buf.readUInt32BE(stts.body + 4);
  if (sttsCount === 0) return false;
  let decodeEnd = 0;
  for (let i = 0; i < sttsCount; i += 1)
    decodeEnd += buf.readUInt32BE(stts.body + 8 + i * 8) * buf.readUInt32BE(stts.body + 12 + i * 8);
  const lastAt = stts.body + 8 + (sttsCount - 1) * 8;
  const lastCount = buf.readUInt32BE(lastAt);
  const lastDelta = buf.readUInt32BE(lastAt + 4);

  const wantSegment = Math.ceil(durationSeconds * movieScale - 1e-6);
  // A tick short is rounding, not a missing frame: a correct file is left byte for byte as ffmpeg wrote it.
  if (segment >= wantSegment - 1 && lastDelta > 0) return false;
  // The last stts entry must hold the last sample alone to change its delta without resizing the box.
  if (lastCount !== 1) return false;

  // Decode timeline long enough to cover what the edit shows: media_time + duration.
  const wantMediaEnd = mediaTime + Math.round(durationSeconds * trackScale);
  const newDelta = Math.max(lastDelta, wantMediaEnd - (decodeEnd - lastDelta), 1);
  buf.writeUInt32BE(newDelta, lastAt + 4);
  const newSegment = Math.max(segment, wantSegment);
  if (elstV1) buf.writeBigUInt64BE(BigInt(newSegment), editAt);
  else buf.writeUInt32BE(newSegment, editAt);

  field(buf, mdhd, 16, 24).set(decodeEnd - lastDelta + newDelta);
  const trackDuration = editsBefore + newSegment;
  field(buf, tkhd, 20, 28).set(trackDuration);
  const movieDuration = field(buf, mvhd, 16, 24);
  if (movieDuration.get() < trackDuration) movieDuration.set(trackDuration);
  return true;
}

/**
 * For an MP4/MOV file (a top-level moov box; others are left as they are): makes the video track last
 * `durationSeconds`. Returns whether the file changed.
 */
export async function fixMp4VideoDuration(file: string, durationSeconds: number): Promise<boolean> {
  const handle = await fs.open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(16);
    let at = 0;
    let moov: { start: number; size: number } | null = null;
    while (at + 8 <= size) {
      await handle.read(head, 0, 16, at);
      let boxSize = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      if (at === 0 && type !== 'ftyp') return false;
      if (boxSize === 1) boxSize = Number(head.readBigUInt64BE(8));
      else if (boxSize === 0) boxSize = size - at;
      if (boxSize < 8) return false;
      if (type === 'moov') {
        moov = { start: at, size: boxSize };
        break;
      }
      at += boxSize;
    }
    if (!moov || moov.start + moov.size > size) return false;
    const buf = Buffer.alloc(moov.size);
    await handle.read(buf, 0, moov.size, moov.start);
    const [box] = boxes(buf, 0, buf.length);
    if (!box || box.type !== 'moov' || !fixVideoTrackDuration(buf, box, durationSeconds)) return false;
    await handle.write(buf, 0, buf.length, moov.start);
    return true;
  } finally {
    await handle.close();
  }
}
