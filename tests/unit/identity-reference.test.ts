import { utimesSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { independentReference } from '../../src-main/engine/metrics/conversion-metrics.js';
import type { Frame } from '../../src-main/engine/detect/types.js';
import { ProjectStore } from '../../src-main/engine/project/store.js';
import { scratch } from '../helpers/paths.js';
import { projectSources } from '../helpers/project-sources.js';

/** A crop of one grey level, where the project keeps its faces. */
async function writeCrop(dir: string, name: string, level: number): Promise<void> {
  await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: level, g: level, b: level } } })
    .png()
    .toFile(path.join(dir, 'faces', 'a', name));
}

describe("the independent identity net's reference of a side", () => {
  it('is remembered for the same faces, and made again when a crop changes or a face could not be read', async () => {
    const dir = path.join(scratch('identity-reference'), 'project');
    const store = ProjectStore.create(dir, { sources: projectSources() });
    const landmarks = JSON.stringify(Array.from({ length: 68 }, (_, k) => [k % 16, k % 13]));
    const insert = store.db.prepare(
      `INSERT INTO faces (side, frame_idx, track_id, x, y, w, h, score, landmarks, crop, transform, status)
       VALUES ('a', ?, 1, 0, 0, 16, 16, 0.9, ?, ?, '[1,0,0,0,1,0]', 'kept')`,
    );
    for (let i = 0; i < 3; i += 1) {
      await writeCrop(dir, `00000${i}.png`, 40 + 60 * i);
      insert.run(i, landmarks, `faces/a/00000${i}.png`);
    }
    // A stand-in for FaceRes: a descriptor from the crop's grey level; failing where asked.
    let runs = 0;
    let failOn: number | null = null;
    const identity = (frame: Frame): Promise<Float32Array> => {
      runs += 1;
      const level = frame.rgb[0] as number;
      if (level === failOn) return Promise.reject(new Error('worker stopped'));
      return Promise.resolve(Float32Array.from({ length: 1024 }, (_, i) => (i === 0 ? 1 : level / 255)));
    };
    const first = await independentReference(store, 'a', identity);
    expect(runs).toBe(3);
    expect(await independentReference(store, 'a', identity)).toEqual(first);
    expect(runs).toBe(3);

    // A face written again (another extraction): described again, and the reference changes.
    await writeCrop(dir, '000001.png', 250);
    utimesSync(path.join(dir, 'faces', 'a', '000001.png'), 2_000_000_000, 2_000_000_000);
    const changed = await independentReference(store, 'a', identity);
    expect(runs).toBe(6);
    expect(changed).not.toEqual(first);

    // A face that cannot be read this time leaves a reference of the others, not remembered.
    await writeCrop(dir, '000002.png', 200);
    failOn = 200;
    await independentReference(store, 'a', identity);
    expect(runs).toBe(9);
    failOn = null;
    await independentReference(store, 'a', identity);
    expect(runs).toBe(12);
    await independentReference(store, 'a', identity);
    expect(runs).toBe(12);
    store.close();
  });
});
