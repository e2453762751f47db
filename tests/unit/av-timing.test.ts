import { describe, expect, it } from 'vitest';
import { nutCrc, nutFrameHeader, nutHeader, varInt, varUint } from '../../src-main/engine/media/nut.js';
import {
  exportTiming,
  lastFrameDuration,
  presentedFrames,
  type SourceTiming,
} from '../../src-main/engine/media/timing.js';

describe('NUT bytes', () => {
  it('codes numbers as NUT does: 7 bits a byte, most significant first; signed zig-zag from 1', () => {
    expect([...varUint(0)]).toEqual([0]);
    expect([...varUint(127)]).toEqual([127]);
    expect([...varUint(128)]).toEqual([0x81, 0x00]);
    expect([...varUint(32767)]).toEqual([0x81, 0xff, 0x7f]);
    expect([...varInt(0), ...varInt(1), ...varInt(-1), ...varInt(2)]).toEqual([0, 1, 2, 3]);
  });

  it('checksums with CRC-32 0x04C11DB7, initial 0, no final xor (a packet and its checksum leave 0)', () => {
    // The catalogue's CRC-32/CKSUM check value 0x765E7680 is this CRC xor 0xFFFFFFFF.
    expect(nutCrc(Buffer.from('123456789'))).toBe(0x89a1897f);
    const data = Buffer.from('any packet payload');
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(nutCrc(data));
    expect(nutCrc(Buffer.concat([data, sum]))).toBe(0);
  });

  it('writes the file id, the headers and one syncpoint per frame with the full pts', () => {
    const header = nutHeader({ width: 4, height: 2, timeBase: { num: 200, den: 5994 }, frameRate: '2997/100' });
    expect(header.subarray(0, 25).toString('latin1')).toBe('nut/multimedia container\0');
    // The time base is stored reduced (NUT requires coprime terms): 100/2997.
    expect(header.includes(Buffer.concat([varUint(100), varUint(2997)]))).toBe(true);
    expect(header.includes(Buffer.from('RGB\x18', 'latin1'))).toBe(true);
    const frame = nutFrameHeader(400, 24);
    expect(frame.subarray(0, 8).toString('hex')).toBe('4e4be4adeeca4569');
    expect(() => nutFrameHeader(-1, 24)).toThrow(RangeError);
  });
});

describe('frame timing', () => {
  it('keeps the frames a player shows, in presentation order (B-frames stored out of order, edit-list drops)', () => {
    const csv = ['-1024,512,KD_', '0,512,K__', '1536,512,___', '512,512,___', '1024,512,___', '2048,512,_D_', ''];
    expect(presentedFrames(csv.join('\n'))).toEqual({ pts: [0, 512, 1024, 1536], lastPacketDuration: 512 });
  });

  it('ends the last frame where the stream ends, else after its packet, else after one nominal frame', () => {
    expect(lastFrameDuration(41472, 512, 43008, 512)).toBe(1536);
    expect(lastFrameDuration(41472, 512, null, 512)).toBe(512);
    expect(lastFrameDuration(41472, 0, null, 400)).toBe(400);
    // A stream "end" far past the last frame (a longer audio track) is not the frame's.
    expect(lastFrameDuration(1000, 400, 900_000, 400)).toBe(400);
  });

  // The shared clip: 29.97 fps in 1/11988, first frame at 0.852 s, audio from 0.008 s.
  const sample: SourceTiming = {
    timeBase: { num: 1, den: 11988 },
    framePts: Array.from({ length: 275 }, (_, i) => 10214 + 400 * i),
    lastFrameDuration: 400,
    rates: ['2997/100', '2997/100'],
    audio: { start: 0.008005, end: 10.015805 },
  };

  it('a constant-rate clip is written at exactly its rate; audio that starts first is cut at the first frame', () => {
    const t = exportTiming(sample, { start: 0, end: 274 });
    expect(t.constantRate).toBe('2997/100');
    expect(t.timeBase).toEqual({ num: 100, den: 2997 });
    expect(t.pts.slice(0, 3)).toEqual([0, 1, 2]);
    expect(t.pts).toHaveLength(275);
    expect(t.startSeconds).toBeCloseTo(10214 / 11988, 9);
    expect(t.durationSeconds).toBeCloseTo((275 * 100) / 2997, 9);
    expect(t.audioOffsetSeconds).toBe(0);
  });

  it('a range starts the audio at frame start_frame and ends it with frame end_frame', () => {
    const t = exportTiming(sample, { start: 100, end: 200 });
    expect(t.firstFrame).toBe(100);
    expect(t.pts).toHaveLength(101);
    expect(t.startSeconds).toBeCloseTo((10214 + 40000) / 11988, 9);
    expect(t.endSeconds).toBeCloseTo((10214 + 201 * 400) / 11988, 9);
    // Audio that starts after the range's first frame keeps its delay.
    const late = exportTiming({ ...sample, audio: { start: 5, end: 12 } }, { start: 100, end: 200 });
    expect(late.audioOffsetSeconds).toBeCloseTo(5 - (10214 + 40000) / 11988, 9);
    // No audio under the range: none in the export.
    expect(exportTiming({ ...sample, audio: { start: 9.5, end: 10 } }, { start: 0, end: 100 }).audioOffsetSeconds).toBe(
      null,
    );
    // Out-of-range frames are clamped to the clip.
    expect(exportTiming(sample, { start: 270, end: 9999 }).pts).toHaveLength(5);
  });

  it('timestamps rounded to milliseconds still make an exact constant rate', () => {
    const ms: SourceTiming = {
      timeBase: { num: 1, den: 1000 },
      framePts: Array.from({ length: 90 }, (_, i) => Math.round((i * 1001) / 30)),
      lastFrameDuration: 33,
      rates: ['30000/1001'],
      audio: null,
    };
    const t = exportTiming(ms, { start: 0, end: 89 });
    expect(t.constantRate).toBe('30000/1001');
    expect(t.timeBase).toEqual({ num: 1001, den: 30000 });
    expect(t.audioOffsetSeconds).toBeNull();
  });

  it('a variable rate keeps the source timestamps, from the range start, and the last frame its length', () => {
    const framePts = [0, 512, 1024, 2560, 4096, 4608, 6144];
    const vfr: SourceTiming = {
      timeBase: { num: 1, den: 15360 },
      framePts,
      lastFrameDuration: 1536,
      rates: ['30/1', '255/14'],
      audio: { start: 0, end: 3 },
    };
    const t = exportTiming(vfr, { start: 2, end: 6 });
    expect(t.constantRate).toBeNull();
    expect(t.timeBase).toEqual({ num: 1, den: 15360 });
    expect(t.pts).toEqual([0, 1536, 3072, 3584, 5120]);
    expect(t.durationSeconds).toBeCloseTo((6144 + 1536 - 1024) / 15360, 9);
    expect(exportTiming(vfr, { start: 2, end: 4 }).durationSeconds).toBeCloseTo((4608 - 1024) / 15360, 9);
    expect(t.nominalRate).toBe('30/1');
  });
});
