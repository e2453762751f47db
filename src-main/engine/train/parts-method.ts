/**
 * Method #1 on a project's faces: every source (A) face gets the chosen part of the target (B) face nearest to it
 * in the recognition net's averaged feature maps, before training. Deterministic, so a resumed run trains on the
 * same images.
 */
import sharp from 'sharp';
import type { MaskPart } from '../../../src-shared/math/masks.js';
import type { FaceSet } from './dataset.js';
import { FACE_SIZE } from './augment.js';
import { faceFeatures, nearest, pastePart } from './part-paste.js';
import type { PerceptualNet } from './perceptual.js';

export interface PartsAugmentation {
  part: MaskPart;
  /** Source face i took its part from target face `b`, at this feature distance. */
  pairs: Array<{ a: number; b: number; distance: number }>;
  meanMatchedDistance: number;
  /** The same faces against a fixed spread of other target faces: what matching gains. */
  meanOtherDistance: number;
  /** A few (source, matched target, augmented) triples for the pairs preview. */
  examples: Array<{ source: Uint8Array; target: Uint8Array; augmented: Uint8Array }>;
}

export async function augmentWithTargetParts(
  faces: FaceSet,
  net: PerceptualNet,
  part: MaskPart,
  exampleCount = 6,
): Promise<PartsAugmentation> {
  const a = faces.faces.a;
  const b = faces.faces.b;
  const fa = await faceFeatures(
    net,
    a.map((s) => s.rgb),
  );
  const fb = await faceFeatures(
    net,
    b.map((s) => s.rgb),
  );
  const matches = nearest(fa, fb);
  const distance = (x: Float32Array, y: Float32Array): number => Math.hypot(...x.map((v, i) => v - (y[i] as number)));
  const pick = new Set(
    Array.from({ length: Math.min(exampleCount, a.length) }, (_, k) => Math.floor((k * a.length) / exampleCount)),
  );
  const examples: PartsAugmentation['examples'] = [];
  let other = 0;
  matches.forEach((match, i) => {
    const source = a[i] as (typeof a)[number];
    const target = b[match.index] as (typeof b)[number];
    const pasted = pastePart(
      { rgb: source.rgb, landmarks: faces.landmarks.a[i] ?? [] },
      { rgb: target.rgb, landmarks: faces.landmarks.b[match.index] ?? [] },
      part,
    );
    if (pick.has(i)) examples.push({ source: source.rgb, target: target.rgb, augmented: pasted.rgb });
    a[i] = { ...source, rgb: pasted.rgb };
    other += distance(fa[i] as Float32Array, fb[(i * 7 + 3) % fb.length] as Float32Array);
  });
  const matched = matches.reduce((sum, m) => sum + m.distance, 0) / Math.max(1, matches.length);
  return {
    part,
    pairs: matches.map((m, i) => ({ a: i, b: m.index, distance: m.distance })),
    meanMatchedDistance: Math.round(matched * 10_000) / 10_000,
    meanOtherDistance: Math.round((other / Math.max(1, matches.length)) * 10_000) / 10_000,
    examples,
  };
}

/** The pairs preview: a row per example, source face | its matched target face | the training image made of them. */
export async function pairsPng(examples: PartsAugmentation['examples'], tile = 128): Promise<Buffer> {
  const rows = examples.length;
  const composites = await Promise.all(
    examples.flatMap((e, row) =>
      [e.source, e.target, e.augmented].map(async (rgb, column) => ({
        input: await sharp(Buffer.from(rgb), { raw: { width: FACE_SIZE, height: FACE_SIZE, channels: 3 } })
          .resize(tile, tile)
          .png()
          .toBuffer(),
        left: column * tile,
        top: row * tile,
      })),
    ),
  );
  return sharp({ create: { width: 3 * tile, height: rows * tile, channels: 3, background: '#111318' } })
    .composite(composites)
    .png()
    .toBuffer();
}
