import { describe, expect, it } from 'vitest';
import {
  applyAffine,
  composeAffine,
  convexHull,
  invertAffine,
  iou,
  pointInPolygon,
  polygonArea,
  squareBox,
  umeyama,
  type Affine,
  type Point,
} from '../../src-shared/math/geometry.js';
import {
  MEAN_FACE,
  alignmentTransform,
  estimatePose,
  eyeCentres,
  meanDistanceIod,
  templateInCrop,
} from '../../src-shared/math/face.js';
import {
  dilate,
  gaussianBlur,
  laplacianVariance,
  maskIoU,
  rasterizePolygon,
  warpAffine,
} from '../../src-shared/math/raster.js';

function similarity(scale: number, degrees: number, tx: number, ty: number): Affine {
  const r = (degrees * Math.PI) / 180;
  return [scale * Math.cos(r), -scale * Math.sin(r), tx, scale * Math.sin(r), scale * Math.cos(r), ty];
}

describe('similarity transforms', () => {
  it('umeyama recovers a known similarity exactly', () => {
    const truth = similarity(2.5, 17, 40, -12);
    const src: Point[] = MEAN_FACE.map(([x, y]) => [x * 100, y * 100]);
    const dst = src.map((p) => applyAffine(truth, p));
    const fit = umeyama(src, dst);
    fit.forEach((v, i) => expect(v).toBeCloseTo(truth[i] as number, 6));
  });

  it('umeyama is the least-squares fit under noise, never a reflection', () => {
    const truth = similarity(0.8, -30, 5, 5);
    const src: Point[] = MEAN_FACE.map(([x, y]) => [x * 200, y * 200]);
    const dst = src.map((p, i) => {
      const [x, y] = applyAffine(truth, p);
      return [x + Math.sin(i) * 0.5, y + Math.cos(i * 1.7) * 0.5] as Point;
    });
    const fit = umeyama(src, dst);
    expect(fit[0] * fit[4] - fit[1] * fit[3]).toBeGreaterThan(0);
    expect(Math.hypot(fit[0], fit[3])).toBeCloseTo(0.8, 2);
  });

  it('inverts and composes', () => {
    const m = similarity(1.7, 33, 3, 9);
    const id = composeAffine(invertAffine(m), m);
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(id[i]).toBeCloseTo(v, 9));
  });

  it('aligning the template onto itself is the identity in crop pixels', () => {
    const crop = templateInCrop(256);
    const full: Point[] = [...new Array<Point>(17).fill([0, 0]), ...crop];
    const m = alignmentTransform(full, 256);
    [1, 0, 0, 0, 1, 0].forEach((v, i) => expect(m[i]).toBeCloseTo(v, 6));
  });

  it('estimates a level frontal template as near-zero pose', () => {
    const crop = templateInCrop(256);
    // Synthesize a jaw: symmetric around the nose.
    const jaw: Point[] = Array.from(
      { length: 17 },
      (_, i) => [40 + (176 * i) / 16, 150 + 60 * Math.sin((Math.PI * i) / 16)] as Point,
    );
    const pose = estimatePose([...jaw, ...crop]);
    expect(Math.abs(pose.yaw)).toBeLessThan(5);
    expect(Math.abs(pose.roll)).toBeLessThan(1);
  });
});

describe('boxes and polygons', () => {
  it('computes IoU and square boxes', () => {
    expect(iou({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 0, width: 10, height: 10 })).toBeCloseTo(50 / 150);
    expect(iou({ x: 0, y: 0, width: 1, height: 1 }, { x: 5, y: 5, width: 1, height: 1 })).toBe(0);
    expect(squareBox({ x: 0, y: 0, width: 10, height: 20 })).toEqual({ x: -5, y: 0, width: 20, height: 20 });
  });

  it('builds convex hulls that contain every input point', () => {
    const points: Point[] = Array.from({ length: 40 }, (_, i) => [
      Math.cos(i * 2.1) * (10 + (i % 7)),
      Math.sin(i * 2.1) * (10 + (i % 5)),
    ]);
    const hull = convexHull(points);
    expect(hull.length).toBeLessThan(points.length);
    for (const p of points) {
      const inside = pointInPolygon(p, hull) || hull.some((h) => Math.hypot(h[0] - p[0], h[1] - p[1]) < 1e-9);
      const nearEdge = hull.some((a, i) => {
        const b = hull[(i + 1) % hull.length] as Point;
        const cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
        return Math.abs(cross) < 1e-6;
      });
      expect(inside || nearEdge).toBe(true);
    }
  });

  it('rasterizes a polygon to its area', () => {
    const polygon: Point[] = [
      [10.2, 5.5],
      [50.7, 12.1],
      [42.3, 60.9],
      [8.8, 44.4],
    ];
    const mask = rasterizePolygon(polygon, 64, 64);
    const filled = mask.reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
    expect(filled / polygonArea(polygon)).toBeGreaterThan(0.95);
    expect(filled / polygonArea(polygon)).toBeLessThan(1.05);
  });
});

describe('filters', () => {
  it('dilates by the kernel radius', () => {
    const mask = new Uint8Array(21 * 21);
    mask[10 * 21 + 10] = 255;
    const grown = dilate(mask, 21, 21, 9);
    expect(grown.reduce((n, v) => n + (v ? 1 : 0), 0)).toBe(81);
    expect(maskIoU(grown, grown)).toBe(1);
  });

  it('dilates as cv2 does with a k x k box, the window cut at the border, for any size and kernel', () => {
    // Brute force: a pixel is set when any pixel of its window is.
    const reference = (mask: Uint8Array, w: number, h: number, k: number): Uint8Array => {
      const r = Math.floor(k / 2);
      const out = new Uint8Array(w * h);
      for (let y = 0; y < h; y += 1)
        for (let x = 0; x < w; x += 1)
          for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy += 1)
            for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx += 1)
              if (mask[yy * w + xx]) out[y * w + x] = 255;
      return out;
    };
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [w, h] of [
      [1, 1],
      [5, 3],
      [17, 29],
      [40, 23],
    ] as const)
      for (const k of [1, 2, 3, 5, 9, 13, 31]) {
        // Sparse spots, so that windows hold none, one and several of them.
        const mask = Uint8Array.from({ length: w * h }, () => (next() < 0.05 ? 255 : 0));
        expect(Array.from(dilate(mask, w, h, k)), `${w} x ${h}, kernel ${k}`).toEqual(
          Array.from(reference(mask, w, h, k)),
        );
      }
  });

  it('blurs while keeping the total mass', () => {
    const img = new Float32Array(31 * 31);
    img[15 * 31 + 15] = 1;
    const out = gaussianBlur(img, 31, 31, 7);
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(out[15 * 31 + 15]).toBeLessThan(0.2);
  });

  it('scores a sharp image above its blurred copy', () => {
    const w = 32;
    const sharp = new Float32Array(w * w).map((_, i) => (((i % w) + Math.floor(i / w)) % 2 ? 255 : 0));
    const soft = gaussianBlur(sharp, w, w, 5);
    expect(laplacianVariance(sharp, w, w)).toBeGreaterThan(10 * laplacianVariance(soft, w, w));
  });

  it('warps by a translation exactly', () => {
    const w = 8;
    const src = new Uint8Array(w * w * 3).map((_, i) => i % 251);
    const out = warpAffine(src, w, w, 3, [1, 0, 2, 0, 1, 1], w, w);
    expect(out[(3 * w + 4) * 3]).toBe(src[(2 * w + 2) * 3]);
  });
});

describe('landmark distances', () => {
  // A 68-point face: a jaw line, then the 51-point template (eyes at indices 36-47).
  const face: Point[] = [
    ...Array.from({ length: 17 }, (_, i): Point => [40 + i * 7, 160 + Math.sin(i / 5) * 20]),
    ...templateInCrop(200),
  ];
  const { right, left } = eyeCentres(face);
  const iod = Math.hypot(left[0] - right[0], left[1] - right[1]);

  it('measures the mean point distance in inter-ocular distances of the reference', () => {
    expect(iod).toBeGreaterThan(40);
    expect(meanDistanceIod(face, face)).toBe(0);
    const moved = face.map(([x, y]): Point => [x + 0.1 * iod, y]);
    expect(meanDistanceIod(moved, face)).toBeCloseTo(0.1, 9);
    // Half the points moved by 0.2 IOD diagonally: a mean of 0.1.
    const half = face.map(([x, y], i): Point =>
      i % 2 === 0 ? [x + (0.2 * iod) / Math.SQRT2, y + (0.2 * iod) / Math.SQRT2] : [x, y],
    );
    expect(meanDistanceIod(half, face)).toBeCloseTo(0.1, 9);
  });
});
