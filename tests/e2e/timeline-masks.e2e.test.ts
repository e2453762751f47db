import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRings } from '../../src-renderer/src/lib/mask-editor/polygon.js';
import type { Point } from '../../src-shared/math/geometry.js';
import { screenshot } from '../helpers/browser.js';
import { copyMedia, imageFolder, scratch } from '../helpers/paths.js';
import {
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

/**
 * The Timeline and Masks pages in a real browser (serve mode, the built renderer in dist/renderer, so
 * `npm run build` first) on a project made and extracted with the CLI once for the whole file: the sample video as
 * side A, two stills as side B. The engine's HOME is a "you" folder inside the test's folder, holding the media
 * under Videos/ and the projects under FaceParts/, as a user's would: the pages show ~/… paths, and the README's
 * screenshot is taken here.
 */

const VIDEO = 'whitehouse_performance_360p.mp4';
const STILLS = ['b_biden_1.jpg', 'b_biden_2.jpg'];
const NAME = 'Obama to Biden';
const FRAME = 100;

let root: string;
let home: string;
let dir: string;
let bare: string;
let studio: Studio;

beforeAll(async () => {
  requireBuiltRenderer();
  root = scratch('e2e-timeline-masks');
  home = path.join(root, 'studio-home');
  const you = path.join(root, 'you');
  const [video] = copyMedia(path.join(you, 'Videos'), [VIDEO]) as [string];
  const stills = imageFolder(path.join(you, 'Pictures', 'biden stills'), STILLS);
  const env = { FACEPARTS_HOME: home, HOME: you };
  dir = path.join(you, 'FaceParts', 'obama-to-biden');
  await makeProject(dir, { a: video, b: stills, name: NAME }, env);
  // A second project that was never extracted, for the empty states.
  bare = path.join(you, 'FaceParts', 'not extracted');
  await makeProject(bare, { a: video, b: stills, name: 'Not extracted', extract: false }, env);
  studio = await startStudio(env);
}, 150_000);

afterAll(() => studio?.close());

/** The state a mask part's toggle shows: automatic, edited or unsaved. */
function partState(page: Page, part: string): Promise<string | null> {
  return page.getByTestId(`part-${part}`).getAttribute('data-state');
}

/** One pixel of the editor canvas (CSS pixels from its top left), as [r, g, b, a]. */
async function canvasPixel(page: Page, x: number, y: number): Promise<number[]> {
  return (await page.evaluate(`(() => {
    const canvas = document.querySelector('[data-testid="mask-canvas"]');
    const ratio = canvas.width / canvas.getBoundingClientRect().width;
    return Array.from(canvas.getContext('2d').getImageData(Math.round(${x} * ratio), Math.round(${y} * ratio), 1, 1).data);
  })()`)) as number[];
}

describe('Timeline and Masks pages (serve mode)', () => {
  it('shows empty states before a project is open and before extraction', async () => {
    const { page } = studio;
    await load(page, studio.server.url);
    await page.getByTestId('nav-timeline').click();
    await page.getByTestId('timeline-empty').waitFor();
    await page.getByTestId('nav-masks').click();
    await page.getByTestId('masks-empty').waitFor();

    await page.getByTestId('nav-projects').click();
    await openProject(page, 'Not extracted');
    await page.getByTestId('nav-timeline').click();
    const card = page.getByTestId('timeline-not-extracted');
    await card.waitFor();
    expect(squash(await card.textContent())).toMatch(/not been extracted/);
    expect(await page.getByTestId('timeline-extract').isEnabled()).toBe(true);
    await page.getByTestId('nav-masks').click();
    await page.getByTestId('masks-no-faces').waitFor();
  }, 60_000);

  it('steps to frame 100 of side A with the keyboard and shows its face box and aligned crop', async () => {
    const { page } = studio;
    await page.getByTestId('nav-projects').click();
    await openProject(page, NAME);
    await page.getByTestId('nav-timeline').click();
    await page.getByTestId('frame-cell').first().waitFor();
    expect(await page.getByTestId('side-a').getAttribute('aria-pressed')).toBe('true');

    // Home, then ten jumps of ten frames; a step back and forth checks the single steps.
    await page.keyboard.press('End');
    await waitText(page.getByTestId('frame-position'), /Frame 274\b/);
    await page.keyboard.press('Home');
    await waitText(page.getByTestId('frame-position'), /Frame 0\b/);
    for (let i = 0; i < FRAME / 10; i += 1) await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('ArrowRight');
    await waitText(page.getByTestId('frame-position'), new RegExp(`Frame ${FRAME + 1}\\b`));
    await page.keyboard.press('ArrowLeft');
    await waitText(page.getByTestId('frame-position'), new RegExp(`Frame ${FRAME}\\b`));
    expect(squash(await page.getByTestId('frame-position').textContent())).toMatch(/101 of 275/);
    expect(await page.locator('[data-testid="frame-cell"][aria-selected="true"]').getAttribute('data-position')).toBe(
      String(FRAME),
    );
    // Only the visible part of the strip is in the page.
    const cells = await page.getByTestId('frame-cell').count();
    expect(cells).toBeGreaterThan(5);
    expect(cells).toBeLessThan(40);

    // The engine's view of the frame: one face of the chosen person, kept, with a crop.
    const listed = await studio.server.engine.client.request('faces.list', { dir, side: 'a', frameIndex: FRAME });
    const face = listed.faces.find((f) => f.status === 'kept');
    expect(face?.crop).toBeTruthy();
    const chosen = page.locator('[data-testid="face-box"][data-chosen="true"]');
    await chosen.waitFor();
    expect(await chosen.getAttribute('data-face-id')).toBe(String(face?.id));
    expect(squash(await page.getByTestId('frame-status').textContent())).toBe('Kept');

    // The box sits where the engine's box is, scaled from 640x360 frame pixels to the shown frame.
    const frameBox = await page.getByTestId('frame-view').boundingBox();
    const shown = await chosen.boundingBox();
    if (!frameBox || !shown || !face) throw new Error('the frame or the face box is not shown');
    const scale = frameBox.width / 640;
    expect(Math.abs(frameBox.height - 360 * scale)).toBeLessThan(2);
    expect(Math.abs(shown.x - frameBox.x - face.box.x * scale)).toBeLessThan(2);
    expect(Math.abs(shown.y - frameBox.y - face.box.y * scale)).toBeLessThan(2);
    expect(Math.abs(shown.width - face.box.width * scale)).toBeLessThan(2);

    // The aligned crop, with the generated part outlines over it.
    const crop = page.getByTestId('face-crop');
    await crop.locator('polygon').first().waitFor();
    expect(await crop.locator('polygon').count()).toBe(7);
    await expect
      .poll(() => crop.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBe(256);
    // Each face's label sits by its box, and no two labels overlap.
    const labels = page.getByTestId('face-label');
    expect(await labels.count()).toBe(await page.getByTestId('face-box').count());
    const rects = await labels.evaluateAll((nodes) =>
      nodes.map((node) => {
        const r = (node as unknown as { getBoundingClientRect(): DOMRectLike }).getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height };
      }),
    );
    for (let i = 0; i < rects.length; i += 1)
      for (let j = i + 1; j < rects.length; j += 1)
        expect(overlap(rects[i], rects[j]), `labels ${i}, ${j}`).toBe(false);
    expect(squash(await labels.filter({ hasText: /Person/ }).textContent())).toMatch(/^Person · track \d+$/);
    await screenshot(page, 'timeline');

    // An image folder's frames show their file names, not a time.
    await page.getByTestId('side-b').click();
    await waitText(page.getByTestId('frame-when'), /^b_biden_1\.jpg$/);
    await page.keyboard.press('ArrowRight');
    await waitText(page.getByTestId('frame-when'), /^b_biden_2\.jpg$/);
    await screenshot(page, 'timeline-images');
    await page.getByTestId('side-a').click();
    await waitText(page.getByTestId('frame-position'), new RegExp(`Frame ${FRAME}\\b`));
    expect(squash(await page.getByTestId('frame-when').textContent())).toMatch(/^\d+\.\d\d s$/);
  }, 60_000);

  it('edits the eyes polygon, saves it, keeps it across a reload, paints and undoes', async () => {
    const { page } = studio;
    await page.getByTestId('edit-masks').click();
    const editor = page.getByTestId('mask-editor');
    await editor.waitFor();
    const faceId = Number(await editor.getAttribute('data-face-id'));
    expect(page.url()).toMatch(new RegExp(`#/masks/a/${FRAME}/${faceId}$`));
    const before = await studio.server.engine.client.request('masks.get', { dir, faceId });
    expect(before.edits).toEqual([]);
    expect(await partState(page, 'eyes')).toBe('automatic');

    // Drag the first point of the first eye up and to the left: 12 x 16 screen pixels, 6 x 8 crop pixels at 512 px.
    const canvas = page.getByTestId('mask-canvas');
    await page.getByTestId('tool-polygon').click();
    const box = await canvas.boundingBox();
    if (!box) throw new Error('no editor canvas');
    const k = box.width / 256;
    expect(k).toBeCloseTo(2, 5);
    const [vx, vy] = before.generated['eyes']?.[0] as Point;
    await page.mouse.move(box.x + vx * k, box.y + vy * k);
    await page.mouse.down();
    await page.mouse.move(box.x + vx * k - 6, box.y + vy * k - 8, { steps: 3 });
    await page.mouse.move(box.x + vx * k - 12, box.y + vy * k - 16, { steps: 3 });
    await page.mouse.up();
    expect(await partState(page, 'eyes')).toBe('unsaved');
    expect(await page.getByTestId('undo').isEnabled()).toBe(true);

    await page.getByTestId('save').click();
    await waitText(page.getByTestId('mask-message'), /Saved eyes/);
    expect(await partState(page, 'eyes')).toBe('edited');
    const saved = await studio.server.engine.client.request('masks.get', { dir, faceId });
    expect(saved.edits.map((edit) => edit.part)).toEqual(['eyes']);
    const rings = decodeRings(saved.edits[0]?.polygon ?? []);
    // Both eyes are kept, the first with its moved point.
    expect(rings).toHaveLength(2);
    expect(rings[0]?.[0]?.[0]).toBeCloseTo(vx - 6, 0);
    expect(rings[0]?.[0]?.[1]).toBeCloseTo(vy - 8, 0);
    expect(rings[0]?.slice(1)).toEqual(before.generated['eyes']?.slice(1).map(([x, y]) => [round(x), round(y)]));
    expect(rings[1]).toHaveLength(before.generated['eyes.1']?.length ?? -1);
    expect(saved.edits[0]?.raster).toBeNull();

    // A reload reads the edit back from the engine.
    await page.reload();
    await editor.waitFor();
    expect(await editor.getAttribute('data-face-id')).toBe(String(faceId));
    expect(await partState(page, 'eyes')).toBe('edited');
    expect(squash(await page.getByTestId('part-state').textContent())).toMatch(/Eyes: edited by hand \(polygon\)/);
    expect(await page.getByTestId('undo').isDisabled()).toBe(true);

    // Two brush strokes: one widening the second eye outwards, one across the cheek; then undo the second.
    await page.getByTestId('tool-brush').click();
    const eye = before.generated['eyes.1'] as Point[];
    const corner = eye.reduce((best, p) => (p[0] > best[0] ? p : best));
    const first = { x: box.x + corner[0] * k - 6, y: box.y + corner[1] * k };
    const second = { x: box.x + 150, y: box.y + 330 };
    const untouched = await canvasPixel(page, second.x - box.x + 40, second.y - box.y);
    const strokes = [
      { start: first, dx: 20, dy: 3 },
      { start: second, dx: 40, dy: 6 },
    ];
    for (const { start, dx, dy } of strokes) {
      await page.mouse.move(start.x, start.y);
      await page.mouse.down();
      await page.mouse.move(start.x + dx, start.y + dy, { steps: 6 });
      await page.mouse.up();
    }
    expect(await partState(page, 'eyes')).toBe('unsaved');
    const painted = await canvasPixel(page, second.x - box.x + 40, second.y - box.y);
    expect(painted).not.toEqual(untouched);

    await page.keyboard.press('Control+z');
    await expect.poll(() => canvasPixel(page, second.x - box.x + 40, second.y - box.y)).toEqual(untouched);
    const firstStroke = await canvasPixel(page, first.x - box.x + 18, first.y - box.y + 3);
    expect(await partState(page, 'eyes')).toBe('unsaved');
    expect(await page.getByTestId('redo').isEnabled()).toBe(true);
    // Undoing the first stroke too brings back the saved polygon edit.
    await page.keyboard.press('Control+z');
    expect(await partState(page, 'eyes')).toBe('edited');
    expect(await canvasPixel(page, first.x - box.x + 18, first.y - box.y + 3)).not.toEqual(firstStroke);
    await page.keyboard.press('Control+Shift+z');
    expect(await partState(page, 'eyes')).toBe('unsaved');
    await page.mouse.move(box.x + 330, box.y + 390);
    await screenshot(page, 'mask-editor');

    // Nothing was saved by painting: the engine still has the polygon-only edit.
    const after = await studio.server.engine.client.request('masks.get', { dir, faceId });
    expect(after.edits[0]?.raster).toBeNull();
  }, 90_000);

  it('zooms and pans, keeps one tool looking selected, and steps to the next face of the person', async () => {
    const { page } = studio;
    const editor = page.getByTestId('mask-editor');
    const canvas = page.getByTestId('mask-canvas');
    const faceId = Number(await editor.getAttribute('data-face-id'));
    const box = await canvas.boundingBox();
    if (!box) throw new Error('no editor canvas');

    // The wheel zooms towards the pointer; 0 shows the whole face again.
    expect(squash(await page.getByTestId('mask-zoom').textContent())).toBe('100 %');
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.4);
    await page.mouse.wheel(0, -300);
    await expect.poll(async () => Number(await canvas.getAttribute('data-zoom'))).toBeGreaterThan(1.2);
    const zoomed = await canvasPixel(page, 256, 256);
    // The View tool pans: the picture under a fixed point moves.
    await page.getByTestId('tool-view').click();
    await page.mouse.move(box.x + 300, box.y + 300);
    await page.mouse.down();
    await page.mouse.move(box.x + 200, box.y + 250, { steps: 4 });
    await page.mouse.up();
    await expect.poll(() => canvasPixel(page, 256, 256)).not.toEqual(zoomed);
    await screenshot(page, 'mask-editor-zoomed');
    await page.keyboard.press('0');
    await expect.poll(async () => Number(await canvas.getAttribute('data-zoom'))).toBe(1);

    // A shortcut moves the focus with the choice: no second tool looks selected.
    await page.getByTestId('tool-brush').click();
    await page.keyboard.press('v');
    expect(await page.getByTestId('tool-view').getAttribute('aria-pressed')).toBe('true');
    expect(await page.evaluate(`document.activeElement?.dataset?.testid ?? null`)).toBe('tool-view');
    expect(await page.locator('[data-testid^="tool-"][aria-pressed="true"]').count()).toBe(1);

    // Next face of the same person, inside the editor; the unsaved painting is saved on the way.
    await waitText(page.getByTestId('face-position'), /^face \d+ of \d+ of this person$/);
    const [position, count] = (
      /face (\d+) of (\d+)/.exec(squash(await page.getByTestId('face-position').textContent())) ?? []
    )
      .slice(1)
      .map(Number) as [number, number];
    expect(count).toBeGreaterThan(position);
    await page.getByTestId('face-next').click();
    await expect.poll(async () => Number(await editor.getAttribute('data-face-id'))).not.toBe(faceId);
    await waitText(page.getByTestId('face-position'), new RegExp(`^face ${position + 1} of ${count} of this person$`));
    const next = Number(await editor.getAttribute('data-face-id'));
    expect(page.url()).toMatch(new RegExp(`#/masks/a/\\d+/${next}$`));
    const saved = await studio.server.engine.client.request('masks.get', { dir, faceId });
    expect(saved.edits.find((edit) => edit.part === 'eyes')?.raster).toBeTruthy();
    // And back with the keyboard.
    await page.keyboard.press('a');
    await expect.poll(async () => Number(await editor.getAttribute('data-face-id'))).toBe(faceId);
    expectNoProblems(studio);
  }, 60_000);

  it('takes the README screenshot: the open, extracted project, paths under the home folder as ~/…', async () => {
    const { page } = studio;
    await page.getByTestId('nav-projects').click();
    await page.getByTestId('project-summary').waitFor();
    expect(squash(await page.getByTestId('project-summary').textContent())).toContain('~/FaceParts/obama-to-biden');
    expect(squash(await page.getByTestId('source-a').textContent())).toContain(
      '~/Videos/whitehouse_performance_360p.mp4',
    );
    expect(await page.locator('main').textContent()).not.toContain(root);
    await page.locator('main.content').evaluate((element) => element.scrollTo(0, 0));
    await screenshot(page, 'readme');
  }, 30_000);
});

interface DOMRectLike {
  x: number;
  y: number;
  width: number;
  height: number;
}

function overlap(a: DOMRectLike | undefined, b: DOMRectLike | undefined): boolean {
  if (!a || !b) return false;
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
