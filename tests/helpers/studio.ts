import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { startServer, type RunningServer } from '../../src-main/serve/server.js';
import { launchBrowser, type StudioBrowser, type StudioPage } from './browser.js';
import { runCli, type CliResult } from './cli.js';
import { REPO } from './paths.js';

/**
 * What every e2e file sets up: the studio in serve mode (the built renderer in dist/renderer, so `npm run build`
 * first) on an engine with its own home, Chromium, and one watched page; projects made with the CLI beforehand.
 */

/** Throws unless the renderer has been built: serve mode serves dist/renderer. */
export function requireBuiltRenderer(): void {
  if (!existsSync(path.join(REPO, 'dist/renderer/index.html')))
    throw new Error('dist/renderer is missing: run npm run build');
}

export interface Studio {
  browser: StudioBrowser;
  server: RunningServer;
  /** A page in its own context, watched for console errors and CSP violations (browser.ts). */
  studio: StudioPage;
  /** studio.page. */
  page: Page;
  /** Closes the page's context, the server and the browser; never throws. */
  close(): Promise<void>;
}

/**
 * Checks the renderer is built, launches Chromium, starts serve mode on a free port with `env` (FACEPARTS_HOME,
 * HOME) and opens one page with `timeout` ms (default 20 s) as its default timeout. Whatever was started is closed
 * again if a later step fails.
 */
export async function startStudio(env: NodeJS.ProcessEnv, options: { timeout?: number } = {}): Promise<Studio> {
  requireBuiltRenderer();
  let browser: StudioBrowser | undefined;
  let server: RunningServer | undefined;
  let studio: StudioPage | undefined;
  const close = async (): Promise<void> => {
    await studio?.context.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
  };
  try {
    browser = await launchBrowser();
    server = await startServer({ host: '127.0.0.1', port: 0, env });
    studio = await browser.newPage();
    studio.page.setDefaultTimeout(options.timeout ?? 20_000);
    return { browser, server, studio, page: studio.page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Fails the test with the page's and the whole browser's console errors, page errors and CSP violations, if any. */
export function expectNoProblems(studio: Studio): void {
  expect(studio.studio.problems).toEqual([]);
  expect(studio.browser.problems).toEqual([]);
}

/** Runs the CLI and fails the test (showing its output) unless it exits 0. */
export async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const result = await runCli(args, env);
  expect(result.code, result.stdout + result.stderr).toBe(0);
  return result;
}

/** `faceparts new <dir> --a <a> --b <b> --name <name>`, then, unless `extract` is false, `faceparts extract <dir>`. */
export async function makeProject(
  dir: string,
  sources: { a: string; b: string; name: string; extract?: boolean },
  env: NodeJS.ProcessEnv,
): Promise<void> {
  await cli(['new', dir, '--a', sources.a, '--b', sources.b, '--name', sources.name, '--json'], env);
  if (sources.extract !== false) await cli(['extract', dir, '--json'], env);
}

/** Waits for the first element of `locator` whose text matches, and returns its text. */
export async function waitText(locator: Locator, pattern: RegExp, timeout?: number): Promise<string> {
  const match = locator.filter({ hasText: pattern }).first();
  await match.waitFor({ state: 'visible', ...(timeout === undefined ? {} : { timeout }) });
  return (await match.textContent()) ?? '';
}

/** Waits until the status bar says the page is connected and the engine is ready (or busy). */
export async function connected(page: Page): Promise<void> {
  await waitText(page.getByTestId('status-connection'), /Connected/);
  await waitText(page.getByTestId('status-engine'), /ready|busy/);
}

/** Opens the studio at `url` (server.url) and waits for the engine. */
export async function load(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await connected(page);
}

/** Opens a project from the Projects page's recent list by its name. */
export async function openProject(page: Page, name: string): Promise<void> {
  await page.getByTestId('project-row').filter({ hasText: name }).getByTestId('project-open').click();
  await waitText(page.getByTestId('project-title'), new RegExp(`^${name}$`));
}

/** Text with its white space folded, as a reader sees it. */
export function squash(text: string | null): string {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}
