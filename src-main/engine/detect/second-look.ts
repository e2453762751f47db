/**
 * The second look at a detection, once the landmark net has fitted a face to it. Zoomed tiles make a detector see
 * faces in textures, hands, jewellery or a forehead; the landmark net, though, always draws a face, and where there
 * is none its eyes, nose and mouth land far from the detector's own keypoints. On the shared stills and the sample
 * clip (tests/integration/false-faces.test.ts) real faces agreed within 0.17 of their box width (profiles
 * included) and false ones differed by 0.22 to 0.61. Two detections whose fitted faces coincide are one face seen
 * twice (a whole-frame box and a tile's box on its forehead). Pure.
 */
import { eyeCentres } from '../../../src-shared/math/face.js';
import { boxOfPoints, iou, type Box, type Point } from '../../../src-shared/math/geometry.js';
import type { Detection } from './types.js';

/** Largest keypoint disagreement (share of the box width) of a face seen for the first time. */
export const FIT_LIMIT = 0.2;
/** ... and of a face already followed for a few frames (blur, a turn of the head). */
export const FOLLOWED_FIT_LIMIT = 0.3;
/** Fitted faces overlapping more than this are one face. */
const SAME_FACE_IOU = 0.5;

/**
 * How far the detector's eye, nose and mouth keypoints lie from the landmark net's, as a share of the box width
 * (the largest of the four); null when the detector gives no keypoints.
 */
export function keypointFit(detection: Detection, landmarks: readonly Point[]): number | null {
  if (detection.keypoints.length < 4 || landmarks.length !== 68) return null;
  const { right, left } = eyeCentres(landmarks);
  const at = (i: number): Point => landmarks[i] as Point;
  const mouth: Point = [
    (at(48)[0] + at(54)[0] + at(51)[0] + at(57)[0]) / 4,
    (at(48)[1] + at(54)[1] + at(51)[1] + at(57)[1]) / 4,
  ];
  const fitted = [right, left, at(30), mouth];
  let worst = 0;
  fitted.forEach(([x, y], k) => {
    const [kx, ky] = detection.keypoints[k] as Point;
    worst = Math.max(worst, Math.hypot(x - kx, y - ky));
  });
  return worst / Math.max(1, detection.box.width);
}

export interface Looked {
  detection: Detection;
  landmarks: Point[];
  /** Followed for a few frames already: a looser limit. */
  followed: boolean;
}

/** Which detections are faces: the fit within its limit, and one detection per fitted face (the best scored). */
export function secondLook(candidates: readonly Looked[]): boolean[] {
  const keep = candidates.map((c) => {
    const fit = keypointFit(c.detection, c.landmarks);
    return fit === null || fit <= (c.followed ? FOLLOWED_FIT_LIMIT : FIT_LIMIT);
  });
  const boxes = candidates.map((c) => boxOfPoints(c.landmarks));
  const order = candidates
    .map((_, i) => i)
    .sort((a, b) => (candidates[b] as Looked).detection.score - (candidates[a] as Looked).detection.score);
  for (let i = 0; i < order.length; i += 1) {
    const a = order[i] as number;
    if (!keep[a]) continue;
    for (let j = i + 1; j < order.length; j += 1) {
      const b = order[j] as number;
      if (keep[b] && iou(boxes[a] as Box, boxes[b] as Box) > SAME_FACE_IOU) keep[b] = false;
    }
  }
  return keep;
}
