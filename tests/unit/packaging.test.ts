import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scratch } from '../helpers/paths.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

/** electron-builder depends on js-yaml; fall back to the `yaml` package if only that one is installed. */
function loadYaml(text: string): unknown {
  try {
    const jsYaml = require('js-yaml') as { load(source: string): unknown };
    return jsYaml.load(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    const yaml = require('yaml') as { parse(source: string): unknown };
    return yaml.parse(text);
  }
}

interface BuilderConfig {
  appId?: string;
  productName?: string;
  directories?: { output?: string; buildResources?: string };
  files?: string[];
  asarUnpack?: string[];
  extraResources?: { from: string; to: string }[];
  linux?: { target?: string[]; category?: string; icon?: string };
  win?: { target?: string[]; icon?: string };
  mac?: { target?: string[]; category?: string; icon?: string };
  electronFuses?: Record<string, boolean>;
}

const configText = fs.readFileSync(path.join(repoRoot, 'electron-builder.yml'), 'utf8');
const config = loadYaml(configText) as BuilderConfig;
const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  main?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
};

const exists = (rel: string): boolean => fs.existsSync(path.join(repoRoot, rel));

/** `**\/node_modules/@scope/name/**` -> `@scope/name`; `**\/node_modules/@scope/**` -> `@scope`. */
function moduleOfPattern(pattern: string): string {
  const after = pattern.split('node_modules/')[1] ?? '';
  const parts = after.split('/').filter((p) => p !== '' && !p.includes('*'));
  const first = parts[0] ?? '';
  if (first.startsWith('@') && parts[1] !== undefined) return `${first}/${parts[1]}`;
  return first;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const header = fs.readFileSync(file).subarray(0, 24);
  expect(header.subarray(1, 4).toString('ascii')).toBe('PNG');
  return { width: header.readUInt32BE(16), height: header.readUInt32BE(20) };
}

describe('electron-builder.yml', () => {
  it('names the app and its output folder', () => {
    expect(config.appId).toBe('studio.faceparts.app');
    expect(config.productName).toBe('FaceParts Studio');
    expect(config.directories?.output?.replace(/\/$/, '')).toBe('out');
  });

  it('passes electron-builder’s own schema validation', async () => {
    let validate: ((cfg: unknown, logger: { isEnabled: boolean }) => Promise<void>) | undefined;
    try {
      validate = (
        require('app-builder-lib/out/util/config/config.js') as {
          validateConfiguration: (cfg: unknown, logger: { isEnabled: boolean }) => Promise<void>;
        }
      ).validateConfiguration;
    } catch {
      validate = undefined; // internal module moved: the other checks still run
    }
    if (validate) await expect(validate(structuredClone(config), { isEnabled: false })).resolves.toBeUndefined();
  });

  it('packages the compiled code and package.json, not sources or tests', () => {
    const files = config.files ?? [];
    expect(files).toContain('dist/**');
    expect(files).toContain('package.json');
    expect(files).toContain('bin/**');
    for (const excluded of ['!src-main/**', '!src-renderer/**', '!src-shared/**', '!tests/**']) {
      expect(files).toContain(excluded);
    }
  });

  it('ships extraResources folders that exist', () => {
    const extra = config.extraResources ?? [];
    expect(extra.map((e) => e.to).sort()).toEqual(['models', 'samples']);
    for (const entry of extra) {
      expect(exists(entry.from), `${entry.from} should exist`).toBe(true);
      expect(fs.statSync(path.join(repoRoot, entry.from)).isDirectory()).toBe(true);
    }
  });

  it('ships every bundled model with its licence beside it', () => {
    const modelsDir = path.join(repoRoot, 'resources/models');
    const walk = (dir: string): string[] =>
      fs
        .readdirSync(dir, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
    for (const model of walk(modelsDir).filter((f) => /\.(onnx|tflite|pb|bin)$/i.test(f))) {
      const folder = path.dirname(model);
      const licence = fs.readdirSync(folder).find((f) => /^(LICEN[CS]E|COPYING)(\.|$)/i.test(f));
      expect(licence, `${path.relative(repoRoot, model)} needs a LICENSE file beside it`).toBeDefined();
    }
  });

  it('points every platform at an icon that exists and is at least 512x512', () => {
    const icons = [config.linux?.icon, config.win?.icon, config.mac?.icon];
    for (const icon of icons) {
      expect(icon, 'every platform names an icon').toBeTypeOf('string');
      expect(exists(icon as string), `${icon} should exist`).toBe(true);
    }
    const { width, height } = pngSize(path.join(repoRoot, 'resources/icons/icon.png'));
    expect(width).toBeGreaterThanOrEqual(512);
    expect(height).toBe(width);
  });

  it('builds the expected targets per platform', () => {
    expect(config.linux?.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.linux?.category).toBe('Video');
    expect(config.win?.target).toContain('nsis');
    expect(config.mac?.target).toContain('dmg');
    expect(config.mac?.category).toBe('public.app-category.video');
  });

  it('unpacks native modules from the asar, and the non-optional ones are installed dependencies', () => {
    const patterns = config.asarUnpack ?? [];
    const modules = patterns.map(moduleOfPattern);
    const required = [
      'better-sqlite3',
      'onnxruntime-node',
      'sharp',
      '@ffmpeg-installer',
      '@ffprobe-installer',
      '@tensorflow/tfjs-backend-wasm',
    ];
    for (const name of required) {
      expect(modules, `asarUnpack should cover ${name}`).toContain(name);
      expect(exists(`node_modules/${name}`), `node_modules/${name} should be installed`).toBe(true);
      const declared = Object.keys({ ...packageJson.dependencies, ...packageJson.optionalDependencies });
      expect(
        declared.some((dep) => dep === name || dep.startsWith(`${name}/`)),
        `${name} should be a runtime dependency so it is packaged`,
      ).toBe(true);
    }
    const wasmDir = path.join(repoRoot, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
    expect(fs.readdirSync(wasmDir).some((f) => f.endsWith('.wasm'))).toBe(true);
    for (const pattern of patterns) expect(pattern.startsWith('**/node_modules/'), pattern).toBe(true);
  });
});

describe('package.json and the Electron entry points', () => {
  it('main points at the compiled Electron main, whose source exists', () => {
    expect(packageJson.main).toBe('dist/src-main/electron/main.js');
    expect(exists('src-main/electron/main.ts')).toBe(true);
  });

  it('the preload source exists and main loads its compiled .cjs', () => {
    expect(exists('src-main/electron/preload.cts')).toBe(true);
    const mainSource = fs.readFileSync(path.join(repoRoot, 'src-main/electron/main.ts'), 'utf8');
    expect(mainSource).toMatch(/['"]preload\.cjs['"]/);
  });
});

describe('Electron fuses', () => {
  /** The fuses as electron-builder.yml must set them (issue #18): no way to run the app as another program. */
  const expected = {
    runAsNode: false,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
    enableCookieEncryption: true,
  };

  /** @electron/fuses as electron-builder itself resolves it (a dependency of app-builder-lib). */
  const builderRequire = createRequire(require.resolve('app-builder-lib/package.json'));
  interface FusesModule {
    SENTINEL?: string;
    FuseV1Options: Record<string, number | string>;
    flipFuses(file: string, config: Record<string | number, unknown>): Promise<number>;
    getCurrentFuseWire(file: string): Promise<Record<number | string, number | string>>;
  }
  const fuses = builderRequire('@electron/fuses') as FusesModule;
  const { SENTINEL } = builderRequire('@electron/fuses/dist/constants.js') as { SENTINEL: string };
  const ENABLE = 49; // '1'
  const DISABLE = 48; // '0'

  it('electron-builder.yml sets them, and asar is on (the asar fuses need it)', async () => {
    expect(config.electronFuses).toEqual(expected);
    expect((config as { asar?: unknown }).asar).toBe(true);
    // The schema knows the block: a misspelt fuse is refused rather than silently ignored.
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration: (cfg: unknown, logger: { isEnabled: boolean }) => Promise<void>;
    };
    await expect(validateConfiguration({ electronFuses: { runAsNodes: false } }, { isEnabled: false })).rejects.toThrow(
      /configuration/,
    );
  });

  it("electron-builder's own mapping flips exactly those fuses in a binary's fuse wire", async () => {
    // electron-builder's own code (PlatformPackager.generateFuseConfig, run before it calls flipFuses on the app).
    const { PlatformPackager } = require('app-builder-lib') as {
      PlatformPackager: {
        prototype: { generateFuseConfig(fuses: unknown): Promise<Record<string | number, unknown>> };
      };
    };
    const fuseConfig = await PlatformPackager.prototype.generateFuseConfig.call(null, config.electronFuses);
    // A stand-in for the Electron binary: the sentinel, then wire version 1, its length, and Electron's defaults
    // (RunAsNode, NODE_OPTIONS, --inspect and file:// privileges on; the rest off; a ninth fuse this config leaves).
    const defaults = [ENABLE, DISABLE, ENABLE, ENABLE, DISABLE, DISABLE, DISABLE, ENABLE, ENABLE];
    const binary = Buffer.concat([
      Buffer.alloc(4096, 0x5a),
      Buffer.from(SENTINEL, 'ascii'),
      Buffer.from([1, defaults.length, ...defaults]),
      Buffer.alloc(4096, 0x5a),
    ]);
    // scratch() makes test-output first: on a fresh clone this test may be the first to write there.
    const dir = scratch('fuses');
    const file = path.join(dir, 'electron');
    fs.writeFileSync(file, binary);
    await fuses.flipFuses(file, fuseConfig);
    const wire = await fuses.getCurrentFuseWire(file);
    fs.rmSync(dir, { recursive: true, force: true });
    const state = (name: string): number => wire[fuses.FuseV1Options[name] as number] as number;
    expect(state('RunAsNode')).toBe(DISABLE);
    expect(state('EnableNodeOptionsEnvironmentVariable')).toBe(DISABLE);
    expect(state('EnableNodeCliInspectArguments')).toBe(DISABLE);
    expect(state('EnableEmbeddedAsarIntegrityValidation')).toBe(ENABLE);
    expect(state('OnlyLoadAppFromAsar')).toBe(ENABLE);
    expect(state('GrantFileProtocolExtraPrivileges')).toBe(DISABLE);
    expect(state('EnableCookieEncryption')).toBe(ENABLE);
    expect(state('LoadBrowserProcessSpecificV8Snapshot')).toBe(DISABLE);
    expect(wire[8]).toBe(ENABLE); // untouched
  });

  it("the installed Electron's fuse wire holds every fuse set (when its binary is downloaded)", () => {
    const pathFile = path.join(repoRoot, 'node_modules/electron/path.txt');
    const binary = fs.existsSync(pathFile)
      ? path.join(repoRoot, 'node_modules/electron/dist', fs.readFileSync(pathFile, 'utf8').trim())
      : null;
    if (binary === null || !fs.existsSync(binary)) return; // no binary here: the stand-in above covers the mapping
    const bytes = fs.readFileSync(binary);
    const at = bytes.indexOf(SENTINEL) + SENTINEL.length;
    expect(at, 'the Electron binary has a fuse wire').toBeGreaterThan(SENTINEL.length - 1);
    expect(bytes[at], 'fuse wire version').toBe(1);
    expect(bytes[at + 1] as number, 'fuse wire length').toBeGreaterThanOrEqual(8);
  });

  it('the app does not need RunAsNode: the engine is a utilityProcess, and main never forks a Node', () => {
    const mainSource = fs.readFileSync(path.join(repoRoot, 'src-main/electron/main.ts'), 'utf8');
    expect(mainSource).toMatch(/utilityProcess\.fork\(/);
    expect(mainSource).not.toMatch(/node:child_process|ELECTRON_RUN_AS_NODE/);
  });
});
