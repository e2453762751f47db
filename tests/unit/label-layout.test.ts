import { describe, expect, it } from 'vitest';
import { placeLabels, type Rect } from '../../src-renderer/src/lib/label-layout.js';

const H = 18;
const bounds = { width: 640, height: 360 };

function rects(boxes: Rect[], widths: number[]): Rect[] {
  return placeLabels(boxes, widths, H, bounds).map((p, i) => ({ ...p, width: widths[i] as number, height: H }));
}

function overlap(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

describe('face box labels', () => {
  it('sit above their box when there is room', () => {
    const [label] = rects([{ x: 100, y: 100, width: 60, height: 60 }], [90]);
    expect(label).toMatchObject({ x: 100, y: 100 - H - 3 });
  });

  it('never overlap, even for overlapping boxes', () => {
    // Three faces close together (a crowd): the boxes overlap each other, and so would labels all placed above.
    const boxes = [
      { x: 100, y: 100, width: 60, height: 60 },
      { x: 130, y: 95, width: 60, height: 60 },
      { x: 115, y: 110, width: 50, height: 50 },
    ];
    const labels = rects(boxes, [120, 70, 70]);
    for (let i = 0; i < labels.length; i += 1)
      for (let j = i + 1; j < labels.length; j += 1)
        expect(overlap(labels[i] as Rect, labels[j] as Rect), `${i} and ${j}`).toBe(false);
    for (const label of labels) {
      expect(label.y).toBeGreaterThanOrEqual(0);
      expect(label.y + H).toBeLessThanOrEqual(bounds.height);
    }
  });

  it('go below or inside a box at the top edge, and stay inside the frame', () => {
    const [label] = rects([{ x: 600, y: 0, width: 40, height: 40 }], [90]);
    expect(label?.y).toBe(43);
    expect((label?.x ?? 0) + 90).toBeLessThanOrEqual(640);
  });
});
