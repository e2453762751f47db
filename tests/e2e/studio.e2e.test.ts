import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/serve/server.js';
import { launchBrowser, screenshot, type StudioBrowser, type StudioPage } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { REPO, copyMedia, imageFolder, scratch, shownPath } from '../helpers/paths.js';

/**
 * The studio in a real browser, through serve mode: the built renderer (dist/renderer, so `npm run build` first)
 * talking to a real engine over the WebSocket. Each test gets its own FACEPARTS_HOME (recent-projects list), server
 * and browser context; one Chromium serves the whole file. The engine's HOME is the test's scratch folder, so the
 * pages show its paths as ~/… and the screenshots hold no machine's own folders.
 */

const VIDEO = 'whitehouse_performance_360p.mp4';
const STILLS = ['b_biden_1.jpg', 'b_biden_2.jpg'];

interface Studio extends StudioPage {
  root: string;
  home: string;
  server: RunningServer;
  video: string;
  stills: string;
  close(): Promise<void>;
}

let browser: StudioBrowser;
const open: Studio[] = [];

beforeAll(async () => {
  if (!existsSync(path.join(REPO, 'dist/renderer/index.html')))
    throw new Error('dist/renderer is missing: run npm run build');
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const studio of open.splice(0)) await studio.close().catch(() => undefined);
  await browser?.close();
});

/** A scratch folder with copies of the sample media, a server on its own home, and a fresh page (not loaded yet). */
async function studio(name: string): Promise<Studio> {
  const root = scratch(`e2e-${name}`);
  const home = path.join(root, 'home');
  const [video] = copyMedia(path.join(root, 'media'), [VIDEO]) as [string];
  const stills = imageFolder(path.join(root, 'media', 'biden stills'), STILLS);
  const server = await startServer({ host: '127.0.0.1', port: 0, env: { FACEPARTS_HOME: home, HOME: root } });
  const page = await browser.newPage();
  page.page.setDefaultTimeout(20_000);
  const result: Studio = {
    ...page,
    root,
    home,
    server,
    video,
    stills,
    close: async () => {
      open.splice(open.indexOf(result), 1);
      await page.context.close();
      await server.close();
    },
  };
  open.push(result);
  return result;
}

/** Loads the studio and waits until it is connected to the engine and the engine reports itself ready. */
async function load(page: Page, server: RunningServer): Promise<void> {
  await page.goto(server.url);
  await waitText(page.getByTestId('status-connection'), /Connected/);
  await waitText(page.getByTestId('status-engine'), /ready|busy/);
}

/** Waits until the locator's (first) element shows text matching `pattern`; returns that text. */
async function waitText(locator: Locator, pattern: RegExp, timeout?: number): Promise<string> {
  const match = locator.filter({ hasText: pattern }).first();
  await match.waitFor({ state: 'visible', ...(timeout === undefined ? {} : { timeout }) });
  return (await match.textContent()) ?? '';
}

/** Waits until the sidebar marks `route` as the current page (the router follows hashchange, asynchronously). */
async function current(page: Page, route: string): Promise<void> {
  await page.locator(`[data-testid="nav-${route}"][aria-current="page"]`).waitFor();
  expect(await page.locator('nav [aria-current="page"]').count()).toBe(1);
}

/** Dismisses every error in the banner. */
async function dismissErrors(page: Page): Promise<void> {
  while ((await page.getByTestId('error-dismiss').count()) > 0) await page.getByTestId('error-dismiss').first().click();
}

function squash(text: string | null): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

async function newProjectWithCli(s: Studio, dir: string, name: string): Promise<void> {
  const created = await runCli(['new', dir, '--a', s.video, '--b', s.stills, '--name', name, '--json'], {
    FACEPARTS_HOME: s.home,
  });
  expect(created.code, created.stderr).toBe(0);
}

describe('FaceParts Studio in a browser (serve mode)', () => {
  it('lists a project made with the CLI and opens it with its media info', async () => {
    const s = await studio('open');
    const name = 'Obama to Biden';
    const dir = path.join(s.root, 'obama-to-biden');
    await newProjectWithCli(s, dir, name);
    const { page } = s;
    await load(page, s.server);

    const row = page.getByTestId('project-row').filter({ hasText: name });
    await row.waitFor();
    // Under the engine's home folder, paths read ~/…; the full path is in the title.
    expect(squash(await row.textContent())).toContain(shownPath(dir, s.root));
    expect(shownPath(dir, s.root)).toMatch(/^~\//);
    expect(await row.locator(`[title="${dir}"]`).count()).toBe(1);
    await expect(page.getByTestId('project-title').count()).resolves.toBe(0);
    await row.getByTestId('project-open').click();

    await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`));
    expect(squash(await page.getByTestId('summary-name').textContent())).toBe(name);
    const a = squash(await page.getByTestId('source-a').textContent());
    expect(a).toMatch(/640×360/);
    expect(a).toMatch(/275 frames/);
    expect(a).toContain(shownPath(s.video, s.root));
    const b = squash(await page.getByTestId('source-b').textContent());
    expect(b).toMatch(/image folder/);
    expect(b).toMatch(/2 images/);
    await waitText(row, /open/);
    expect(await page.title()).toContain(name);
    await screenshot(page, 'projects-open');
    await s.close();
  }, 60_000);

  it('creates a project from the form, extracts, and keeps it open across a reload', async () => {
    const s = await studio('create');
    const { page } = s;
    await load(page, s.server);
    await page.getByTestId('projects-empty').waitFor();

    const dir = path.join(s.root, 'made in the ui');
    const name = 'Made in the UI';
    const submit = page.getByTestId('create-submit');
    expect(await submit.isDisabled()).toBe(true);
    await page.getByTestId('create-dir').fill(dir);
    await page.getByTestId('create-name').fill(name);
    await page.getByTestId('create-a').fill(s.video);
    await page.getByTestId('create-b').fill(s.stills);
    await submit.click();

    await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`), 30_000);
    expect(existsSync(path.join(dir, 'project.json'))).toBe(true);
    await page.getByTestId('project-row').filter({ hasText: name }).waitFor();
    expect(await page.getByTestId('create-dir').inputValue()).toBe('');

    // Record every state the status bar's job area goes through: a short job (indexing alone takes a second or two)
    // can start and end between two looks at the page.
    await page.evaluate(`(() => {
      const target = document.querySelector('[data-testid="status-job"]');
      const seen = (globalThis.__jobSeen = []);
      const record = () => {
        const bar = target.querySelector('[role="progressbar"]');
        seen.push((bar ? '[bar ' + (bar.getAttribute('aria-valuenow') ?? '?') + '] ' : '') + target.textContent.replace(/\\s+/g, ' ').trim());
      };
      new MutationObserver(record).observe(target, { subtree: true, childList: true, characterData: true, attributes: true });
    })()`);
    await page.getByTestId('extract-start').click();

    const outcome = squash(await waitText(page.getByTestId('status-job'), /Extraction (completed|failed)/, 80_000));
    const seen = (await page.evaluate('globalThis.__jobSeen')) as string[];
    const running = seen.filter((line) => line.startsWith('[bar') && /Extraction/.test(line));
    expect(running.length, seen.join('\n')).toBeGreaterThan(0);
    expect(
      running.some((line) => /\d+\/\d+/.test(line)),
      running.join('\n'),
    ).toBe(true);
    if (/failed/.test(outcome)) {
      // This engine indexes frames, then stops: face detection is not built yet.
      const banner = squash(await waitText(page.getByTestId('error-item'), /frames indexed/));
      expect(banner).toMatch(/A: 275, B: 2/);
    } else {
      expect(outcome).toMatch(/Extraction completed/);
    }
    // The project is re-read once the job ends: the frame counts fill in.
    await waitText(page.getByTestId('source-a').locator('[title="Frames indexed"] dd'), /^275$/);
    await waitText(page.getByTestId('source-b').locator('[title="Frames indexed"] dd'), /^2$/);
    expect(await page.getByTestId('extract-start').isEnabled()).toBe(true);
    await screenshot(page, 'extract');

    await page.reload();
    await waitText(page.getByTestId('status-connection'), /Connected/);
    await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`));
    expect(await page.evaluate(`localStorage.getItem('faceparts.currentProject')`)).toBe(dir);
    await waitText(page.getByTestId('source-a').locator('[title="Frames indexed"] dd'), /^275$/);
    await expect(page.getByTestId('error-banner').count()).resolves.toBe(0);
    await s.close();
  }, 110_000);

  it('names the missing file in the error banner when the form has a bad path', async () => {
    const s = await studio('create-error');
    const { page } = s;
    await load(page, s.server);
    const dir = path.join(s.root, 'never made');
    const missing = path.join(s.root, 'media', 'no-such-video.mp4');
    await page.getByTestId('create-dir').fill(dir);
    await page.getByTestId('create-a').fill(missing);
    await page.getByTestId('create-b').fill(s.stills);
    await page.getByTestId('create-submit').click();

    const item = squash(await waitText(page.getByTestId('error-item'), /no-such-video\.mp4/, 30_000));
    expect(item).toMatch(/Could not create the project/);
    expect(item).toMatch(/does not exist/);
    await expect(page.getByTestId('project-title').count()).resolves.toBe(0);
    // The form keeps what was typed so the path can be fixed, and the field the error is about is highlighted.
    expect(await page.getByTestId('create-a').inputValue()).toBe(missing);
    expect(await page.getByTestId('create-a').getAttribute('aria-invalid')).toBe('true');
    expect(squash(await page.getByTestId('create-a-error').textContent())).toMatch(/no-such-video\.mp4 does not exist/);
    for (const other of ['create-dir', 'create-b']) {
      expect(await page.getByTestId(other).getAttribute('aria-invalid'), other).toBeNull();
    }
    expect(existsSync(path.join(dir, 'project.json'))).toBe(false);
    await screenshot(page, 'create-error');

    // A file that is no video: the headline says so in plain words, ffprobe's own text waits behind Details.
    const broken = path.join(s.root, 'media', 'broken.mp4');
    writeFileSync(broken, 'this is not a video');
    await dismissErrors(page);
    await page.getByTestId('create-a').fill(broken);
    await page.getByTestId('create-submit').click();
    const message = page.getByTestId('error-message').filter({ hasText: /broken\.mp4/ });
    await message.waitFor({ timeout: 30_000 });
    expect(squash(await message.textContent())).toMatch(/broken\.mp4 is not a readable video$/);
    const details = page.getByTestId('error-details');
    expect(await details.evaluate((node) => (node as unknown as { open: boolean }).open)).toBe(false);
    await details.locator('summary').click();
    expect(squash(await details.locator('pre').textContent())).toMatch(/Invalid data|moov atom|could not find/i);
    expect(await page.getByTestId('create-a').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'create-error-details');
    await s.close();
  }, 60_000);

  it('opens a project folder by its path, and offers Open when New project is given one', async () => {
    const s = await studio('open-by-path');
    const name = 'Opened by path';
    const dir = path.join(s.root, 'FaceParts', 'opened by path');
    await newProjectWithCli(s, dir, name);
    // Another studio home: the browser's recent list does not know the project.
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      env: { FACEPARTS_HOME: path.join(s.root, 'elsewhere'), HOME: s.root },
    });
    const { page } = s;
    try {
      await load(page, server);
      await page.getByTestId('recent-empty').waitFor();

      // Not a project: the field says why.
      await page.getByTestId('open-dir').fill(path.join(s.root, 'media'));
      await page.getByTestId('open-submit').click();
      await waitText(page.getByTestId('open-dir-error'), /is not a FaceParts project/);
      expect(await page.getByTestId('open-dir').getAttribute('aria-invalid')).toBe('true');
      await dismissErrors(page);

      // The project's folder opens it.
      await page.getByTestId('open-dir').fill(dir);
      expect(await page.getByTestId('open-dir-error').count()).toBe(0);
      await page.getByTestId('open-submit').click();
      await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`));
      await page.getByTestId('project-row').filter({ hasText: name }).waitFor();
      await page.getByTestId('project-close').click();

      // New project in that folder: the error's fix is a button that opens it (in the banner, and under the field).
      await page.getByTestId('create-dir').fill(dir);
      await page.getByTestId('create-a').fill(s.video);
      await page.getByTestId('create-b').fill(s.stills);
      await page.getByTestId('create-submit').click();
      const item = squash(await waitText(page.getByTestId('error-item'), /already holds a project/, 30_000));
      expect(item).toMatch(/open it instead/);
      expect(await page.getByTestId('create-dir').getAttribute('aria-invalid')).toBe('true');
      await page.getByTestId('create-open-existing').waitFor();
      await screenshot(page, 'projects-already-exists');
      await page.getByTestId('error-open-project').click();
      await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`));
      await expect.poll(() => page.getByTestId('error-banner').count()).toBe(0);
      expect(s.problems).toEqual([]);
    } finally {
      await server.close();
      await s.close();
    }
  }, 90_000);

  it('probes the backends on the settings page and shows every page', async () => {
    const s = await studio('pages');
    const name = 'Settings tour';
    const dir = path.join(s.root, 'settings-tour');
    await newProjectWithCli(s, dir, name);
    const { page } = s;
    await load(page, s.server);
    await page.getByTestId('project-row').filter({ hasText: name }).getByTestId('project-open').click();
    await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`));

    await page.getByTestId('nav-settings').click();
    await current(page, 'settings');
    await page.getByTestId('probe-backends').click();
    await page.getByTestId('probe-attempts').waitFor({ timeout: 60_000 });
    await waitText(page.getByTestId('probe-backends'), /^Check$/, 60_000);
    // After a probe the page re-reads engine.info: what it reports is what the table must mark as in use.
    await waitText(page.getByTestId('settings-backend'), /^(GPU|CPU) \(/);
    const selected = (await page.getByTestId('settings-backend').getAttribute('data-backend')) ?? '';
    expect(['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu']).toContain(selected);
    const plain = squash(await page.getByTestId('settings-backend').textContent());
    // Plain words in the status bar too ("Compute CPU (wasm)"), never "not probed".
    await waitText(page.getByTestId('status-backend'), new RegExp(`Compute ${plain.replace(/[()]/g, '\\$&')}`));

    const rows = page.getByTestId('probe-attempt');
    const attempts: { name: string; plain: string; result: string; reason: string }[] = [];
    for (let i = 0; i < (await rows.count()); i += 1) {
      const cells = (await rows.nth(i).locator('td').allTextContents()).map(squash);
      attempts.push({
        name: (await rows.nth(i).getAttribute('data-backend')) ?? '',
        plain: cells[0] ?? '',
        result: cells[1] ?? '',
        reason: squash(await rows.nth(i).getByTestId('probe-reason').textContent()),
      });
    }
    const described = JSON.stringify(attempts, null, 1);
    expect(
      attempts.filter((row) => row.result === 'in use').map((row) => row.name),
      described,
    ).toEqual([selected]);
    for (const row of attempts) {
      expect(row.plain, described).toMatch(/^(GPU|CPU) \(/);
      // No addon paths or stack text in the reasons: those wait behind Details.
      expect(row.reason, described).not.toMatch(/tfjs_binding|node_modules|\.cpp|Cannot find package/);
    }
    for (const row of attempts.filter((row) => row.result !== 'in use' && row.result !== 'works')) {
      expect(row.result, described).toMatch(/not tried|not usable/);
      expect(row.reason.length, described).toBeGreaterThan(3);
    }
    const webgpu = attempts.find((row) => row.name === 'webgpu');
    if (webgpu?.result === 'not usable') expect(webgpu.reason, described).toMatch(/^not (found|installed)/);
    expect(await page.getByTestId('settings-json').textContent()).toMatch(/"extraction"/);
    // The project's extraction settings as a form drawn from their declaration: a bad number is named in the
    // option's own words and cannot be saved; a good one saves into the project.
    const extraction = page.getByTestId('extraction-settings');
    expect(squash(await extraction.locator('[data-option="frameStride"] .name').textContent())).toBe(
      'Frame stride 1 – 1000',
    );
    expect(await page.getByTestId('extract-frame-stride').inputValue()).toBe('1');
    expect(await page.getByTestId('extract-mask-feather').isVisible()).toBe(false);
    // The detector is a choice among the detectors the engine has (engine.info: its registry), not free text.
    const detector = page.getByTestId('extract-detector');
    expect(await detector.evaluate((element) => element.tagName)).toBe('SELECT');
    expect(await detector.locator('option').allTextContents()).toEqual(['blazeface']);
    await page.getByTestId('extract-frame-stride').fill('0');
    await waitText(page.getByTestId('extract-form-error'), /^Frame stride must be 1 to 1000$/);
    expect(await page.getByTestId('extract-save').isDisabled()).toBe(true);
    await page.getByTestId('extract-frame-stride').fill('2');
    await page.getByTestId('extract-save').click();
    await expect
      .poll(async () => (await s.server.engine.client.request('project.open', { dir })).settings.extraction.frameStride)
      .toBe(2);
    await screenshot(page, 'settings');

    // Timeline and Masks are real pages: on a project that was never extracted they say what to do.
    for (const [route, empty] of [
      ['timeline', 'timeline-not-extracted'],
      ['masks', 'masks-no-faces'],
    ] as const) {
      await page.getByTestId(`nav-${route}`).click();
      await current(page, route);
      await page.getByTestId(empty).waitFor();
      await screenshot(page, empty);
    }
    // Train is a real page too: with no faces extracted it says what to do first (saved under its own name: the
    // train e2e test's screenshot of a trained project is 'train').
    await page.getByTestId('nav-train').click();
    await current(page, 'train');
    const untrained = page.getByTestId('train-not-extracted');
    await untrained.waitFor();
    expect(squash(await untrained.textContent())).toMatch(/No faces to train on yet.*0 kept faces/);
    expect(await page.getByTestId('coming-soon').count()).toBe(0);
    await screenshot(page, 'train-not-extracted');
    // Convert too: with no trained model it says so and links to Train (saved under its own name: the convert e2e
    // test's screenshot of a trained project is 'convert').
    await page.getByTestId('nav-convert').click();
    await current(page, 'convert');
    const notTrained = page.getByTestId('convert-not-trained');
    await notTrained.waitFor();
    expect(squash(await notTrained.textContent())).toMatch(/not been trained yet.*Extract the faces/);
    expect(await page.getByTestId('convert-go-train').getAttribute('href')).toBe('#/train');
    expect(await page.getByTestId('coming-soon').count()).toBe(0);
    await screenshot(page, 'convert-not-trained');
    await s.close();
  }, 90_000);

  it('saw no console errors or CSP violations on any page', async () => {
    // The collector works: an inline script is refused by the CSP, and that is reported.
    const probe: string[] = [];
    const check = await browser.newPage({ collect: probe });
    const home = path.join(scratch('e2e-csp-check'), 'home');
    const server = await startServer({ host: '127.0.0.1', port: 0, env: { FACEPARTS_HOME: home } });
    try {
      await load(check.page, server);
      await check.page.evaluate(`(() => {
        const script = document.createElement('script');
        script.textContent = 'globalThis.__inline = 1';
        document.head.append(script);
      })()`);
      await expect.poll(() => probe.join('\n')).toMatch(/CSP violation: script-src/);
      expect(await check.page.evaluate('globalThis.__inline')).toBeUndefined();
    } finally {
      await check.context.close();
      await server.close();
    }

    expect(browser.problems).toEqual([]);
  }, 60_000);
});
