/** Axis-aligned rectangle in display pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const GAP = 3;

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * Where each face box's label goes so that no two labels overlap (boxes of faces close together overlap, and so
 * did their labels): above the box if there is room, else below it, else inside its top; when all of those are
 * taken, stacked further up (or down). Boxes are placed top to bottom, left to right; labels stay inside `bounds`.
 * Returns the labels' top-left corners, in the order of `boxes`.
 */
export function placeLabels(
  boxes: readonly Rect[],
  widths: readonly number[],
  height: number,
  bounds: { width: number; height: number },
): Array<{ x: number; y: number }> {
  const order = boxes
    .map((_, i) => i)
    .sort((a, b) => {
      const A = boxes[a] as Rect;
      const B = boxes[b] as Rect;
      return A.y - B.y || A.x - B.x;
    });
  const placed: Rect[] = [];
  const result: Array<{ x: number; y: number }> = boxes.map(() => ({ x: 0, y: 0 }));
  for (const i of order) {
    const box = boxes[i] as Rect;
    const width = Math.min(widths[i] ?? 0, bounds.width);
    const x = Math.max(0, Math.min(bounds.width - width, box.x));
    const fits = (y: number): boolean => y >= 0 && y + height <= bounds.height;
    const above = box.y - height - GAP;
    const below = box.y + box.height + GAP;
    const candidates = [above, below, box.y + GAP];
    for (let k = 1; k <= boxes.length; k += 1) candidates.push(above - k * (height + GAP), below + k * (height + GAP));
    const free = candidates.find((y) => fits(y) && !placed.some((other) => overlaps(other, { x, y, width, height })));
    const y = free ?? Math.max(0, Math.min(bounds.height - height, above));
    placed.push({ x, y, width, height });
    result[i] = { x, y };
  }
  return result;
}
