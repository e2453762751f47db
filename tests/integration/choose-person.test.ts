import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { imageFolder, media, scratch } from '../helpers/paths.js';

describe('choosing the person by a reference photo', () => {
  it('follows the person in the photo instead of the most present one', async () => {
    const root = scratch('choose');
    const env = { FACEPARTS_HOME: path.join(root, 'home') };
    const a = imageFolder(path.join(root, 'a'), ['a_obama_1.jpg']);
    // Side B: Biden twice on his own, and once beside Obama.
    const b = imageFolder(path.join(root, 'b'), ['b_biden_1.jpg', 'b_biden_2.jpg', 'two_people.jpg']);
    const dir = path.join(root, 'project');
    expect((await runCli(['new', dir, '--a', a, '--b', b, '--json'], env)).code).toBe(0);
    const first = await runCli(['extract', dir, '--side', 'b', '--json'], env);
    expect(first.code, first.stdout).toBe(0);
    expect((first.json.sides as { b: { facesKept: number } }).b.facesKept).toBe(3);

    const chosen = await runCli(['choose', dir, '--side', 'b', '--reference', media('a_obama_2.jpg'), '--json'], env);
    expect(chosen.code, chosen.stdout).toBe(0);
    expect(chosen.json.distance as number).toBeLessThan(0.6);

    const again = await runCli(['extract', dir, '--side', 'b', '--json'], env);
    expect(again.code, again.stdout).toBe(0);
    expect((again.json.sides as { b: { facesKept: number; chosenTrack: number } }).b).toMatchObject({
      facesKept: 1,
      chosenTrack: chosen.json.trackId,
    });
    // The kept face is Obama's, the left one in two_people.jpg (hand-checked box x 237..387).
    const info = await runCli(['info', dir, '--json'], env);
    expect(info.code).toBe(0);
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
    const kept = db.prepare(`SELECT frame_idx, x, w FROM faces WHERE side = 'b' AND status = 'kept'`).all() as Array<{
      frame_idx: number;
      x: number;
      w: number;
    }>;
    db.close();
    expect(kept).toHaveLength(1);
    expect(kept[0]?.frame_idx).toBe(2);
    expect((kept[0]?.x ?? 0) + (kept[0]?.w ?? 0) / 2).toBeLessThan(563);
  });

  it('explains a reference photo without a face', async () => {
    const root = scratch('choose-bad');
    const env = { FACEPARTS_HOME: path.join(root, 'home') };
    const a = imageFolder(path.join(root, 'a'), ['a_obama_1.jpg']);
    const b = imageFolder(path.join(root, 'b'), ['b_biden_2.jpg']);
    const dir = path.join(root, 'project');
    await runCli(['new', dir, '--a', a, '--b', b, '--json'], env);
    await runCli(['extract', dir, '--side', 'b', '--json'], env);
    const blank = path.join(root, 'blank.png');
    await sharp({ create: { width: 300, height: 300, channels: 3, background: '#808080' } })
      .png()
      .toFile(blank);
    const result = await runCli(['choose', dir, '--side', 'b', '--reference', blank, '--json'], env);
    expect(result.code).toBe(1);
    expect(result.json.error).toMatchObject({
      code: 'BAD_MEDIA',
      file: blank,
      message: expect.stringMatching(/no face was found/),
    });
  });
});
