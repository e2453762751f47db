/**
 * The conversion's tracking pass, kept in the project for the next export of the same frames: a second export of a
 * clip (the eyes after the whole face, another colour correction or mask) follows the same person through the same
 * frames, which was about a third of a conversion's time. Keyed by everything the pass's result depends on: the
 * input file as it is now, the range, the tracking settings, the detector, the person looked for, and this format.
 * A file that does not read back whole is ignored (the pass runs again).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ConverterConfig } from '../../../src-shared/contract/index.js';
import type { Box, Point } from '../../../src-shared/math/geometry.js';
import { writeFileAtomic } from '../io/atomic.js';
import { fileIdentity } from '../io/file-identity.js';
import type { FrameRange } from '../track/parts.js';

/** The followed person in every frame of the range: the raw box and the 68 landmarks the tracking pass found. */
export interface Tracked {
  raw: Array<Box | null>;
  landmarks: Array<Point[] | null>;
}

/**
 * Raise when the tracking pass's results change (follow.ts, convert/tracking-pass.ts): old files then miss.
 * 2: the landmark fast path's point check and full fit after a miss (FaceNets.refine) give other landmarks.
 */
const TRACKING_FORMAT = 2;
/** Where in a project the kept passes lie. */
export const TRACKING_CACHE_DIR = 'cache/tracking';
/** Kept passes per project (the most recently used): a 10-minute 30 fps clip's is ~11 MB. */
const KEEP_FILES = 4;
/** Per frame: present (0/1) and the box as float64 (as detected); 68 landmarks as float32 (as the pass keeps them). */
const BOX_VALUES = 5;
const POINT_VALUES = 136;
const MAGIC = 'FPTRACK1';

/** What a tracking pass's result depends on. */
export interface TrackingInputs {
  input: string;
  range: FrameRange;
  config: Pick<ConverterConfig, 'detection_threshold' | 'min_face_area' | 'use_auto_downscaling'>;
  detector: string;
  /** The identity the pass picks the person by (null: the most present person). */
  reference: readonly number[] | null;
  /** The studio's version: a release may track differently. */
  version: string;
}

/** The key of a tracking pass (hex), from its inputs and the input file's identity (path, inode, size, time). */
export function trackingKey(inputs: TrackingInputs): string {
  const { detection_threshold, min_face_area, use_auto_downscaling } = inputs.config;
  return createHash('sha256')
    .update(
      JSON.stringify({
        format: TRACKING_FORMAT,
        version: inputs.version,
        file: fileIdentity(inputs.input),
        range: [inputs.range.start, inputs.range.end],
        settings: [detection_threshold, min_face_area, use_auto_downscaling, inputs.detector],
        reference: inputs.reference,
      }),
    )
    .digest('hex')
    .slice(0, 32);
}

const fileOf = (projectDir: string, key: string): string => path.join(projectDir, TRACKING_CACHE_DIR, `${key}.bin`);

/** The kept pass for `key` with `frames` frames, or null (none kept, or not readable whole). */
export async function readTracking(projectDir: string, key: string, frames: number): Promise<Tracked | null> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(fileOf(projectDir, key));
  } catch {
    return null;
  }
  const head = MAGIC.length + 4;
  const boxBytes = frames * BOX_VALUES * 8;
  if (bytes.length !== head + boxBytes + frames * POINT_VALUES * 4) return null;
  if (bytes.toString('latin1', 0, MAGIC.length) !== MAGIC || bytes.readUInt32LE(MAGIC.length) !== frames) return null;
  // Copies: the sections' offsets in the file are not aligned for typed arrays.
  const section = (from: number, to: number): ArrayBuffer =>
    bytes.buffer.slice(bytes.byteOffset + from, bytes.byteOffset + to) as ArrayBuffer;
  const boxes = new Float64Array(section(head, head + boxBytes));
  const points = new Float32Array(section(head + boxBytes, bytes.length));
  const raw: Array<Box | null> = [];
  const landmarks: Array<Point[] | null> = [];
  for (let i = 0; i < frames; i += 1) {
    const b = i * BOX_VALUES;
    if (boxes[b] !== 1) {
      raw.push(null);
      landmarks.push(null);
      continue;
    }
    raw.push({
      x: boxes[b + 1] as number,
      y: boxes[b + 2] as number,
      width: boxes[b + 3] as number,
      height: boxes[b + 4] as number,
    });
    const p = i * POINT_VALUES;
    landmarks.push(
      Array.from({ length: 68 }, (_, k): Point => [points[p + 2 * k] as number, points[p + 2 * k + 1] as number]),
    );
  }
  // Used now: the newest kept (the pruning keeps the most recently used).
  const now = new Date();
  await fs.utimes(fileOf(projectDir, key), now, now).catch(() => undefined);
  return { raw, landmarks };
}

/** Keep a finished pass (atomically), and only the KEEP_FILES most recently used passes of the project. */
export async function writeTracking(projectDir: string, key: string, tracked: Tracked): Promise<void> {
  const frames = tracked.raw.length;
  const boxes = new Float64Array(frames * BOX_VALUES);
  const points = new Float32Array(frames * POINT_VALUES);
  for (let i = 0; i < frames; i += 1) {
    const box = tracked.raw[i];
    const fitted = tracked.landmarks[i];
    if (!box || !fitted) continue;
    boxes.set([1, box.x, box.y, box.width, box.height], i * BOX_VALUES);
    fitted.forEach(([x, y], k) => points.set([x, y], i * POINT_VALUES + 2 * k));
  }
  const head = Buffer.alloc(MAGIC.length + 4);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(frames, MAGIC.length);
  const dir = path.join(projectDir, TRACKING_CACHE_DIR);
  await fs.mkdir(dir, { recursive: true });
  await writeFileAtomic(
    fileOf(projectDir, key),
    Buffer.concat([head, Buffer.from(boxes.buffer), Buffer.from(points.buffer)]),
  );
  const kept = await Promise.all(
    (await fs.readdir(dir))
      .filter((name) => /^[0-9a-f]{32}\.bin$/.test(name))
      .map(async (name) => ({ name, time: (await fs.stat(path.join(dir, name))).mtimeMs })),
  );
  kept.sort((a, b) => b.time - a.time);
  await Promise.all(kept.slice(KEEP_FILES).map((f) => fs.rm(path.join(dir, f.name), { force: true })));
}
