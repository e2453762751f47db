import path from 'node:path';
import sharp from 'sharp';
import {
  ConverterConfig,
  ErrorCode,
  StudioError,
  parseOrThrow,
  type Side,
} from '../../../src-shared/contract/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { FaceNets } from '../landmarks/face-nets.js';
import { decodeFrames } from '../media/decode.js';
import { probeSource } from '../media/probe.js';
import { Generator } from '../model/generator.js';
import { MaskStore } from '../masks/edits.js';
import { FacesRepo } from '../project/faces-repo.js';
import { GENERATOR_FILE, type ProjectStore } from '../project/store.js';
import { patchTransform, swapFace } from '../convert/frame.js';

let cached: { file: string; mtimeMs: number; generator: Generator } | null = null;

async function generatorFor(store: ProjectStore, direction: 'AtoB' | 'BtoA'): Promise<Generator> {
  const file = path.join(store.dir, GENERATOR_FILE);
  const { statSync } = await import('node:fs');
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    throw new StudioError(ErrorCode.notFound, 'there is no trained model to preview with yet', {
      file,
      fix: 'train the project first',
    });
  }
  if (cached && cached.file === file && cached.mtimeMs === mtimeMs) return cached.generator;
  cached?.generator.dispose();
  cached = { file, mtimeMs, generator: await Generator.load(file, direction) };
  return cached.generator;
}

/**
 * Convert one frame of a side's source with the given config, for the before/after view: writes three PNGs
 * under previews/convert/ and returns their project-relative paths.
 *
 * The frame is found by index, never by time: `frameIndex` is the n-th frame a player shows (as extraction numbered
 * it, and as faces and hand-edited masks are stored), whatever its timestamp; "before" and "after" are that frame.
 */
export async function previewFrame(
  store: ProjectStore,
  side: Side,
  frameIndex: number,
  overrides: Partial<ConverterConfig>,
): Promise<{ before: string; after: string; mask: string }> {
  const config = parseOrThrow(
    ConverterConfig,
    { ...store.project.settings.converter, ...overrides },
    ErrorCode.invalidParams,
    'params.config',
  );
  const source = await probeSource(store.project.sources[side].path);
  const frames = decodeFrames(source, { stride: 1, startIndex: frameIndex });
  const frame = (await frames.next()).value;
  await frames.return(undefined);
  if (!frame?.rgb || frame.index !== frameIndex)
    throw new StudioError(ErrorCode.notFound, `side ${side.toUpperCase()} has no readable frame ${frameIndex}`, {
      field: 'params.frameIndex',
    });
  const repo = new FacesRepo(store.db);
  const chosen = repo.chosenTrack(side);
  const face = repo.list(side, frameIndex, 0, 50).faces.find((f) => f.trackId === chosen) ?? null;
  if (!face)
    throw new StudioError(ErrorCode.notFound, `the chosen person is not in frame ${frameIndex}`, {
      fix: 'pick a frame marked kept or skipped on the timeline',
    });
  const generator = await generatorFor(store, config.direction);
  const nets = await FaceNets.load();
  const landmarks = face.landmarks ?? (await nets.landmarks(frame.rgb, frame.width, frame.height, face.box));
  const after = Uint8Array.from(frame.rgb);
  const override = await new MaskStore(store).override(face.id);
  const toPatch = patchTransform(landmarks, generator.arch.resolution, config.roi_coverage);
  const swap = await swapFace(after, frame.width, frame.height, landmarks, toPatch, generator, config, override);
  const r = generator.arch.resolution;
  const dir = path.posix.join('previews', 'convert');
  const stamp = `${side}-${String(frameIndex).padStart(6, '0')}`;
  const rel = {
    before: `${dir}/${stamp}-before.png`,
    after: `${dir}/${stamp}-after.png`,
    mask: `${dir}/${stamp}-mask.png`,
  };
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.join(store.dir, dir), { recursive: true });
  const png = (rgb: Uint8Array, w: number, h: number, channels: 1 | 3): Promise<Buffer> =>
    sharp(Buffer.from(rgb), { raw: { width: w, height: h, channels } })
      .png()
      .toBuffer();
  await writeFileAtomic(path.join(store.dir, rel.before), await png(frame.rgb, frame.width, frame.height, 3));
  await writeFileAtomic(path.join(store.dir, rel.after), await png(after, frame.width, frame.height, 3));
  await writeFileAtomic(
    path.join(store.dir, rel.mask),
    await png(
      Uint8Array.from(swap.mask, (v) => Math.round(v * 255)),
      r,
      r,
      1,
    ),
  );
  return rel;
}
