import { describe, expect, it } from 'vitest';
import { labelPlacement, renderLabel, stampLabel } from '../../src-main/engine/convert/label.js';

describe('the visible synthetic-media label', () => {
  it('is rendered text (light pixels on a dark tag) sized to the frame', async () => {
    const label = await renderLabel(360);
    expect(label.height).toBeGreaterThanOrEqual(20);
    expect(label.width).toBeGreaterThan(label.height * 4);
    let light = 0;
    let dark = 0;
    for (let i = 0; i < label.width * label.height; i += 1) {
      const v = label.rgba[i * 4] as number;
      if (v > 200) light += 1;
      else if (v < 40 && (label.rgba[i * 4 + 3] as number) > 100) dark += 1;
    }
    expect(light).toBeGreaterThan(100); // the letters
    expect(dark).toBeGreaterThan(light); // the tag behind them
  });

  it('changes only its corner of the frame', async () => {
    const w = 640;
    const h = 360;
    const frame = new Uint8Array(w * h * 3).fill(128);
    const label = await renderLabel(h);
    const at = labelPlacement(w, h, label);
    expect(at.x).toBeGreaterThan(0);
    expect(at.y + at.height).toBeLessThan(h);
    stampLabel(frame, w, label, at);
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < h; y += 1)
      for (let x = 0; x < w; x += 1) {
        if (frame[(y * w + x) * 3] === 128) continue;
        if (x >= at.x && x < at.x + at.width && y >= at.y && y < at.y + at.height) inside += 1;
        else outside += 1;
      }
    expect(inside).toBeGreaterThan(at.width * at.height * 0.5);
    expect(outside).toBe(0);
  });
});
