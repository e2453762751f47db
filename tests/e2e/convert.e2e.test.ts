import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenshot } from '../helpers/browser.js';
import { TINY_MODEL } from '../helpers/cli.js';
import { copyMedia, scratch } from '../helpers/paths.js';
import {
  cli,
  expectNoProblems,
  load,
  makeProject,
  openProject,
  requireBuiltRenderer,
  squash,
  startStudio,
  waitText,
  type Studio,
} from '../helpers/studio.js';
import { synthClip } from '../helpers/synth.js';
import sharp from 'sharp';

/**
 * The Convert page in a real browser (serve mode, the built renderer in dist/renderer, so `npm run build` first) on
 * a project made with the CLI like tests/integration/convert.test.ts: synthesised stills of two people, extracted and
 * trained for two iterations of a tiny model (the checks are about the page, not swap quality), and the sample video
 * as the conversion input.
 */

const VIDEO = 'whitehouse_performance_360p.mp4';
const NAME = 'Convert e2e';

let root: string;
let dir: string;
let video: string;
let studio: Studio;

beforeAll(async () => {
  requireBuiltRenderer();
  root = scratch('e2e-convert');
  // HOME at the test's folder: the pages show its paths as ~/…, and the screenshots hold no machine's own folders.
  const env = { FACEPARTS_HOME: path.join(root, 'home'), HOME: root };
  [video] = copyMedia(path.join(root, 'media'), [VIDEO]) as [string];
  const a = await synthClip(path.join(root, 'clips', 'a'), ['a_obama_1.jpg', 'a_obama_2.jpg'], 2);
  // A last frame without anyone in it: the preview must say so on the frame, not after a click.
  await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 96, b: 104 } } })
    .jpeg()
    .toFile(path.join(a, 'frame999.jpg'));
  const b = await synthClip(path.join(root, 'clips', 'b'), ['b_biden_2.jpg', 'b_biden_1.jpg'], 2);
  dir = path.join(root, 'project');
  await makeProject(dir, { a, b, name: NAME }, env);
  await cli(['train', dir, '--iterations', '2', ...TINY_MODEL, '--json'], env);
  studio = await startStudio(env);
}, 120_000);

afterAll(() => studio?.close());

interface ImageStats {
  width: number;
  height: number;
  mean: number;
  spread: number;
}

/** Size, mean and standard deviation of an <img>'s pixels, read back through a canvas. */
async function imageStats(page: Page, testid: string): Promise<ImageStats> {
  return (await page.evaluate(`(() => {
    const img = document.querySelector('[data-testid="${testid}"]');
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const g = canvas.getContext('2d');
    g.drawImage(img, 0, 0);
    const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0, squares = 0, n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const v = (data[i] + data[i + 1] + data[i + 2]) / 3;
      sum += v; squares += v * v; n += 1;
    }
    const mean = n ? sum / n : 0;
    return { width: canvas.width, height: canvas.height, mean, spread: Math.sqrt(Math.max(0, squares / Math.max(n, 1) - mean * mean)) };
  })()`)) as ImageStats;
}

/** How many pixels differ clearly between the before and after images. */
async function changedPixels(page: Page): Promise<number> {
  return (await page.evaluate(`(() => {
    const read = (id) => {
      const img = document.querySelector('[data-testid="' + id + '"]');
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const g = canvas.getContext('2d');
      g.drawImage(img, 0, 0);
      return g.getImageData(0, 0, canvas.width, canvas.height).data;
    };
    const a = read('preview-before');
    const b = read('preview-after');
    if (a.length !== b.length) return -1;
    let changed = 0;
    for (let i = 0; i < a.length; i += 4) {
      if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) > 30) changed += 1;
    }
    return changed;
  })()`)) as number;
}

async function loaded(locator: Locator): Promise<number> {
  return locator.evaluate((img) => {
    const image = img as unknown as { complete: boolean; naturalWidth: number };
    return image.complete ? image.naturalWidth : 0;
  });
}

describe('Convert page (serve mode)', () => {
  it('previews a frame with the eyes swapped, exports the sample video and shows its metrics', async () => {
    const { page, server } = studio;
    await load(page, server.url);

    // No project yet: the page says what to do.
    await page.getByTestId('nav-convert').click();
    await page.getByTestId('convert-empty').waitFor();

    await page.getByTestId('nav-projects').click();
    await openProject(page, NAME);
    await page.getByTestId('nav-convert').click();
    await page.getByTestId('convert-page').waitFor();
    expect(page.url()).toMatch(/#\/convert$/);

    // The form starts from the project's defaults; the model's input shape is shown read-only.
    const segmentation = page.getByTestId('cfg-segmentation');
    expect(await segmentation.inputValue()).toBe('ALL');
    expect(await segmentation.locator('optgroup').count()).toBe(5);
    expect(await segmentation.locator('option').count()).toBe(16);
    await segmentation.selectOption('EYES_ONLY');
    expect(squash(await page.getByTestId('converter-dirty').textContent())).toBe('not saved');

    // The frame slider starts on a frame where side A's person was kept.
    await waitText(page.getByTestId('preview-frame-label'), /Frame \d+.*Kept/);
    await page.getByTestId('preview-run').click();
    const before = page.getByTestId('preview-before');
    const after = page.getByTestId('preview-after');
    await before.waitFor();
    await expect.poll(() => loaded(before), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => loaded(after), { timeout: 30_000 }).toBeGreaterThan(0);
    const shownBefore = await imageStats(page, 'preview-before');
    const shownAfter = await imageStats(page, 'preview-after');
    expect(shownBefore.width).toBeGreaterThan(100);
    expect(shownAfter).toMatchObject({ width: shownBefore.width, height: shownBefore.height });
    // Real pictures, not blank frames, and the swap changed something.
    expect(shownBefore.spread).toBeGreaterThan(10);
    expect(shownAfter.spread).toBeGreaterThan(10);
    expect(await changedPixels(page)).toBeGreaterThan(20);

    // The face view beside the whole frame: the face region enlarged, before and after, the blend mask over it.
    const face = page.getByTestId('face-view-svg');
    await face.waitFor();
    expect(squash(await page.getByTestId('face-title').textContent())).toBe('Face · Eyes');
    const [, , viewWidth] = ((await face.getAttribute('data-view')) ?? '').split(' ').map(Number);
    // A part of the frame, shown larger than the whole frame shows it.
    expect(viewWidth).toBeGreaterThan(10);
    expect(viewWidth).toBeLessThan(shownBefore.width);
    const fitted = Number(((await page.getByTestId('face-zoom').textContent()) ?? '').replace('×', ''));
    const wholeScale = ((await before.boundingBox())?.width ?? 0) / shownBefore.width;
    expect(fitted).toBeGreaterThan(wholeScale * 1.5);
    expect(await face.locator('[data-testid="face-before"]').getAttribute('href')).toBe(
      await before.getAttribute('src'),
    );
    expect(await face.locator('[data-testid="face-after"]').getAttribute('href')).toBe(await after.getAttribute('src'));
    // The mask is placed over the face (its image inside the SVG mask), and can be hidden.
    expect(await page.getByTestId('face-mask').count()).toBe(1);
    expect(await face.locator('mask image').getAttribute('href')).toMatch(/previews%2Fconvert%2F|previews\/convert\//);
    await page.getByTestId('face-mask-toggle').uncheck();
    expect(await page.getByTestId('face-mask').count()).toBe(0);
    await page.getByTestId('face-mask-toggle').check();
    // The whole frame outlines what the face view shows.
    await page.getByTestId('compare-region').waitFor();
    // The wheel zooms in towards the pointer; Fit (double-click) goes back.
    const faceBox = await face.boundingBox();
    if (!faceBox) throw new Error('no face view');
    await page.mouse.move(faceBox.x + faceBox.width / 2, faceBox.y + faceBox.height / 2);
    await page.mouse.wheel(0, -300);
    await expect
      .poll(async () => Number(((await page.getByTestId('face-zoom').textContent()) ?? '').replace('×', '')))
      .toBeGreaterThan(fitted * 1.1);
    await screenshot(page, 'convert-face-zoomed');
    await face.dblclick();
    await expect
      .poll(async () => Number(((await page.getByTestId('face-zoom').textContent()) ?? '').replace('×', '')))
      .toBeCloseTo(fitted, 1);

    // A frame without the person says so on the frame, and Preview is not offered there.
    const slider = page.getByTestId('preview-frame');
    const kept = await slider.inputValue();
    await slider.focus();
    await page.keyboard.press('End');
    await page.getByTestId('preview-not-here').waitFor();
    expect(squash(await page.getByTestId('preview-not-here').textContent())).toMatch(
      /The chosen person is not in this frame.*No face/,
    );
    expect(await page.getByTestId('preview-run').isDisabled()).toBe(true);
    await page.getByTestId('preview-still').waitFor();
    await screenshot(page, 'convert-no-person');
    await slider.fill(kept);
    await page.getByTestId('face-view-svg').waitFor();

    // Dragging the split line moves the boundary between before and after.
    const view = await page.getByTestId('compare-view').locator('.frame').boundingBox();
    if (!view) throw new Error('no compare view');
    await page.mouse.move(view.x + view.width / 2, view.y + view.height / 2);
    await page.mouse.down();
    await page.mouse.move(view.x + view.width * 0.3, view.y + view.height / 2, { steps: 4 });
    await page.mouse.up();
    expect(Number(await page.getByTestId('compare-handle').getAttribute('aria-valuenow'))).toBeLessThan(35);
    expect(await after.getAttribute('style')).toMatch(/inset\(0(px)? 0(px)? 0(px)? 3\d(\.\d+)?%\)/);

    // Live: a change to the form converts the frame again, after a short pause.
    const firstAfter = await after.getAttribute('src');
    await page.getByTestId('cfg-color_correction').selectOption('ADAIN');
    await expect.poll(() => after.getAttribute('src'), { timeout: 30_000 }).not.toBe(firstAfter);
    await expect.poll(() => loaded(after), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('preview-busy').count()).toBe(0);

    // Save the form as the project's defaults.
    await page.getByTestId('converter-save').click();
    await waitText(page.getByTestId('converter-dirty'), /project defaults/);
    const reopened = await server.engine.client.request('project.open', { dir });
    expect(reopened.settings.converter).toMatchObject({ segmentation: 'EYES_ONLY', color_correction: 'ADAIN' });

    // Export: the sources are stills, so the input is empty until the video is named; the output has a default.
    const output = path.join(dir, 'exports', 'convert-e2e-eyes.mp4');
    expect(await page.getByTestId('convert-input').inputValue()).toBe('');
    expect(await page.getByTestId('convert-output').inputValue()).toBe(output);
    await page.getByTestId('convert-input').fill(video);
    await page.getByTestId('convert-export').click();
    await page.getByTestId('convert-progress').waitFor();
    await waitText(page.getByTestId('convert-progress-numbers'), /\d+ \/ 275 frames/, 30_000);
    await page.getByTestId('convert-result').waitFor({ timeout: 90_000 });

    expect(squash(await page.getByTestId('metric-frames').textContent())).toBe('275');
    const swapped = Number(squash(await page.getByTestId('metric-swapped').textContent()).split(' ')[0]);
    expect(swapped).toBeGreaterThan(120);
    const jitter = squash(await page.getByTestId('metric-jitter').textContent());
    const [raw, smoothed] = [...jitter.matchAll(/([\d.]+) px/g)].map((m) => Number(m[1]));
    expect(smoothed).toBeLessThan(raw as number);
    expect(squash(await page.getByTestId('convert-output-path').textContent())).toBe(output);
    expect(statSync(output).size).toBeGreaterThan(10_000);
    expect(existsSync(`${output}.metrics.json`)).toBe(true);

    // The export is listed, and the next default output does not overwrite it.
    await waitText(page.getByTestId('export-row'), /convert-e2e-eyes\.mp4.*Eyes/);
    await expect
      .poll(() => page.getByTestId('convert-output').inputValue())
      .toBe(path.join(dir, 'exports', 'convert-e2e-eyes-2.mp4'));

    // The output player: the export plays in the page, served with byte ranges so it can seek.
    await page.getByTestId('export-play').first().click();
    const player = page.getByTestId('export-player');
    // The page's <video> as far as these checks read it (the tests compile without the DOM library).
    type Video = { error: unknown; readyState: number; videoWidth: number; videoHeight: number; duration: number };
    await player.waitFor();
    await expect
      .poll(() => player.evaluate((v) => ((v as unknown as Video).error ? -1 : (v as unknown as Video).readyState)), {
        timeout: 20_000,
      })
      .toBeGreaterThanOrEqual(1);
    expect(
      await player.evaluate((v) => [(v as unknown as Video).videoWidth, (v as unknown as Video).videoHeight]),
    ).toEqual([640, 360]);
    // The video's own length, 275 frames at 29.97 fps: the export starts with the first frame, so the source's
    // 0.844 s of sound before its first picture (its file lasts 10.02 s) is not in it.
    expect(await player.evaluate((v) => (v as unknown as Video).duration)).toBeCloseTo((275 * 100) / 2997, 1);
    await screenshot(page, 'convert-player');
    await page.getByTestId('export-play').first().click();

    // Preview, export result and form all fit the 1280x720 window from the top of the page.
    await page.locator('main.content').evaluate((element) => element.scrollTo(0, 0));
    await page.mouse.move(1, 1);
    await screenshot(page, 'convert');

    // A second export, cancelled part-way: the page says so and no file is left behind.
    const second = path.join(dir, 'exports', 'convert-e2e-eyes-2.mp4');
    await page.getByTestId('convert-export').click();
    await waitText(page.getByTestId('convert-progress-numbers'), /\d+ \/ 275 frames/, 30_000);
    await screenshot(page, 'convert-exporting');
    await page.getByTestId('convert-cancel').click();
    await page.getByTestId('convert-cancelled').waitFor({ timeout: 30_000 });
    expect(existsSync(second)).toBe(false);
    expect(await page.getByTestId('export-row').count()).toBe(1);
    expect(await page.getByTestId('convert-export').isEnabled()).toBe(true);

    expectNoProblems(studio);
  }, 150_000);
});
