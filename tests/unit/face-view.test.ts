import { describe, expect, it } from 'vitest';
import { faceRegion, fitFace, panBy, svgMatrix, viewBoxOf, zoomAt } from '../../src-renderer/src/lib/face-view.js';
import { FIT, panView, unzoom, zoomAround } from '../../src-renderer/src/lib/mask-editor/view.js';

const frame = { width: 640, height: 360 };

describe('Convert face view', () => {
  it('writes an affine as the SVG matrix (x = a x + b y + c -> matrix(a d b e c f))', () => {
    expect(svgMatrix([2, 0.5, 10, -0.5, 2, 20])).toBe('matrix(2 -0.5 0.5 2 10 20)');
  });

  it("fits the face: the box and the model's patch together, with a margin, in the view's shape", () => {
    // A 30 px face (the sample video's size) and a patch a little larger around it.
    const box = { x: 300, y: 100, width: 30, height: 30 };
    const patch = [40, 0, 295, 0, 40, 95];
    const region = faceRegion(box, patch, frame);
    expect(region).toEqual({ x: 295, y: 95, width: 40, height: 40 });
    const view = fitFace(region, 4 / 3, frame);
    expect(view).toEqual({ cx: 315, cy: 115, size: 50 });
    // A 300 px tall face view shows those 50 frame pixels six times larger.
    expect(300 / view.size).toBe(6);
    const shown = viewBoxOf(view, 4 / 3);
    expect([shown.x, shown.y, shown.width, shown.height].map((v) => Math.round(v * 100) / 100)).toEqual([
      281.67, 90, 66.67, 50,
    ]);
    expect(faceRegion(null, null, frame)).toEqual({ x: 0, y: 0, ...frame });
  });

  it('zooms towards the pointer and never past the frame', () => {
    const view = { cx: 315, cy: 115, size: 50 };
    const box = viewBoxOf(view, 1);
    // The frame point under the pointer (a quarter in from the left, the middle) stays under it.
    const under = [box.x + box.width / 4, box.y + box.height / 2];
    const zoomed = zoomAt(view, 0.5, 0.25, 0.5, 1, frame);
    const after = viewBoxOf(zoomed, 1);
    expect(zoomed.size).toBe(25);
    expect(after.x + after.width / 4).toBeCloseTo(under[0] as number);
    expect(after.y + after.height / 2).toBeCloseTo(under[1] as number);
    expect(zoomAt(view, 100, 0.5, 0.5, 1, frame).size).toBe(640);
    expect(zoomAt(view, 0.001, 0.5, 0.5, 1, frame).size).toBe(12);
    expect(panBy(view, 1000, -1000, 1, frame)).toEqual({ cx: 640, cy: 0, size: 50 });
  });
});

describe('mask editor zoom and pan', () => {
  it('zooms around a point and keeps the crop covering the canvas', () => {
    const zoomed = zoomAround(FIT, 2, 128, 256, 512);
    expect(zoomed).toEqual({ zoom: 2, x: -128, y: -256 });
    // The point under the pointer is the same crop point before and after.
    expect(unzoom(zoomed, 128, 256)).toEqual([128, 256]);
    expect(panView(zoomed, 500, 500, 512)).toEqual({ zoom: 2, x: 0, y: 0 });
    expect(panView(zoomed, -1000, 0, 512)).toEqual({ zoom: 2, x: -512, y: -256 });
    expect(zoomAround(zoomed, 0.1, 0, 0, 512)).toEqual(FIT);
  });
});
