import { readdirSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Point } from '../../src-shared/math/geometry.js';
import {
  TRACKING_CACHE_DIR,
  readTracking,
  trackingKey,
  writeTracking,
  type Tracked,
  type TrackingInputs,
} from '../../src-main/engine/project/tracking-cache.js';
import { scratch } from '../helpers/paths.js';

/** A pass over `frames` frames with the person in every frame but every fifth. */
function pass(frames: number): Tracked {
  const raw: Tracked['raw'] = [];
  const landmarks: Tracked['landmarks'] = [];
  for (let i = 0; i < frames; i += 1) {
    const seen = i % 5 !== 4;
    raw.push(seen ? { x: 10.123456789 + i, y: 20.5, width: 80.25, height: 90.0625 + i / 3 } : null);
    // Landmarks as the tracking pass keeps them: float32 values.
    landmarks.push(
      seen ? Array.from({ length: 68 }, (_, k): Point => [Math.fround(i + k / 7), Math.fround(k * 1.3)]) : null,
    );
  }
  return { raw, landmarks };
}

describe('the tracking pass kept for the next export', () => {
  it('reads back exactly what was written, and nothing from a damaged file or another length', async () => {
    const dir = scratch('tracking-cache');
    const tracked = pass(23);
    await writeTracking(dir, 'ab'.repeat(16), tracked);
    expect(await readTracking(dir, 'ab'.repeat(16), 23)).toEqual(tracked);
    expect(await readTracking(dir, 'ab'.repeat(16), 22)).toBeNull();
    expect(await readTracking(dir, 'cd'.repeat(16), 23)).toBeNull();
    truncateSync(path.join(dir, TRACKING_CACHE_DIR, `${'ab'.repeat(16)}.bin`), 100);
    expect(await readTracking(dir, 'ab'.repeat(16), 23)).toBeNull();
  });

  it('keeps the four most recently used passes of a project', async () => {
    const dir = scratch('tracking-cache-prune');
    const key = (d: number): string => String(d).repeat(32);
    for (let n = 0; n < 4; n += 1) {
      await writeTracking(dir, key(n), pass(3));
      // Distinct times, oldest first, whatever the file system's resolution.
      const file = path.join(dir, TRACKING_CACHE_DIR, `${key(n)}.bin`);
      utimesSync(file, 1_000_000 + n, 1_000_000 + n);
    }
    // The oldest pass is used again: the next oldest goes when a fifth is written.
    expect(await readTracking(dir, key(0), 3)).not.toBeNull();
    await writeTracking(dir, key(4), pass(3));
    expect(readdirSync(path.join(dir, TRACKING_CACHE_DIR)).sort()).toEqual([0, 2, 3, 4].map((n) => `${key(n)}.bin`));
  });

  it('keys a pass by the input file as it is, the range, the tracking settings, the detector and the person', () => {
    const dir = scratch('tracking-key');
    const input = path.join(dir, 'clip.mp4');
    writeFileSync(input, 'frames');
    const inputs: TrackingInputs = {
      input,
      range: { start: 0, end: 99 },
      config: { detection_threshold: 0.6, min_face_area: 1225, use_auto_downscaling: false },
      detector: 'blazeface',
      reference: [0.1, 0.2],
      version: '1.0.0',
    };
    const key = trackingKey(inputs);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(trackingKey({ ...inputs })).toBe(key);
    const changed: TrackingInputs[] = [
      { ...inputs, range: { start: 0, end: 98 } },
      { ...inputs, config: { ...inputs.config, detection_threshold: 0.7 } },
      { ...inputs, config: { ...inputs.config, min_face_area: 1000 } },
      { ...inputs, config: { ...inputs.config, use_auto_downscaling: true } },
      { ...inputs, detector: 'other' },
      { ...inputs, reference: [0.1, 0.3] },
      { ...inputs, reference: null },
      { ...inputs, version: '1.0.1' },
    ];
    for (const other of changed) expect(trackingKey(other), JSON.stringify(other)).not.toBe(key);
    // The same path with other contents (a new file put in its place).
    writeFileSync(input, 'other frames');
    expect(trackingKey(inputs)).not.toBe(key);
  });
});
