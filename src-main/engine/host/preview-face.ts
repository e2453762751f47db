import { ConverterConfig, type ConverterPatch, type ResultOf, type Side } from '../../../src-shared/contract/index.js';
import { invertAffine } from '../../../src-shared/math/geometry.js';
import { patchTransform } from '../convert/frame.js';
import { FacesRepo } from '../project/faces-repo.js';
import type { ProjectStore } from '../project/store.js';
import type { z } from 'zod';

type PreviewFace = NonNullable<ResultOf<'convert.preview'>['face']>;

/**
 * Where convert.preview's face lies in its frame, for the Convert page's face view: the chosen person's box, and
 * the map from the model's patch (its unit square) to frame pixels, the same placement the preview blended with
 * (the landmarks the index holds, the converter's roi_coverage). No placement when the face has no landmarks.
 */
export function previewFace(
  store: ProjectStore,
  side: Side,
  frameIndex: number,
  overrides: z.output<typeof ConverterPatch>,
): PreviewFace | null {
  const repo = new FacesRepo(store.db);
  const chosen = repo.chosenTrack(side);
  const face = repo.list(side, frameIndex, 0, 50).faces.find((f) => f.trackId === chosen);
  if (!face) return null;
  const config = ConverterConfig.safeParse({ ...store.project.settings.converter, ...overrides });
  let patchToFrame: PreviewFace['patchToFrame'] = null;
  if (face.landmarks && config.success) {
    try {
      patchToFrame = invertAffine(patchTransform(face.landmarks, 1, config.data.roi_coverage));
    } catch {
      // Degenerate landmarks: the face view falls back to the box alone.
    }
  }
  return { box: face.box, patchToFrame };
}
