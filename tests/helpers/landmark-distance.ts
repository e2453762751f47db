import { eyeCentres } from '../../src-shared/math/face.js';
import type { Point } from '../../src-shared/math/geometry.js';

/** Mean distance between corresponding points, in inter-ocular distances of `reference` (68 landmarks). */
export function meanDistanceIod(points: readonly Point[], reference: readonly Point[]): number {
  const { right, left } = eyeCentres(reference as Point[]);
  const interOcular = Math.hypot(left[0] - right[0], left[1] - right[1]);
  const sum = points.reduce((total, [x, y], i) => {
    const [rx, ry] = reference[i] as Point;
    return total + Math.hypot(x - rx, y - ry);
  }, 0);
  return sum / points.length / interOcular;
}
