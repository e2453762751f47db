import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { registerConvFilterGradient, registerWasmTrainingKernels } from './wasm-kernels.js';
import {
  BackendName,
  ErrorCode,
  StudioError,
  type BackendChoice,
  type BackendReport,
} from '../../../src-shared/contract/index.js';

const require = createRequire(import.meta.url);

/** The fallback chain, fastest first. */
export const BACKEND_CHAIN: readonly BackendName[] = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

type Loader = () => Promise<string>;

/** A backend that cannot start, with the reason in plain words and the library's own message as its detail. */
class Unavailable extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(reason);
  }
}

/** Hooks that let a backend add kernels tfjs lacks (e.g. the wasm conv filter gradient) once it is set up. */
const afterInit = new Map<BackendName, Array<() => void | Promise<void>>>();
export function onBackendReady(name: BackendName, hook: () => void | Promise<void>): void {
  afterInit.set(name, [...(afterInit.get(name) ?? []), hook]);
}

/** Called once each time a backend is chosen (not when a cached choice is returned): the engine reports it. */
const chosenListeners = new Set<(report: BackendReport) => void>();
export function onBackendChosen(listener: (report: BackendReport) => void): () => void {
  chosenListeners.add(listener);
  return () => chosenListeners.delete(listener);
}

function short(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.slice(0, 300) ?? message;
}

/** What a backend needs that is missing when its optional package did not install. */
const NOT_INSTALLED: Partial<Record<BackendName, string>> = {
  'tfjs-node-gpu': "not installed (TensorFlow's CUDA build)",
  'tfjs-node': 'not installed (an optional package)',
  webgpu: 'not installed (an optional package)',
};

/** A loader's failure in plain words (a missing optional package says so, anything else "could not start"). */
export function plainReason(name: BackendName, error: unknown): { reason: string; detail?: string } {
  if (error instanceof Unavailable)
    return error.detail === undefined ? { reason: error.reason } : { reason: error.reason, detail: error.detail };
  const detail = short(error);
  if (/tfjs_binding\.node|Cannot find (package|module)|ERR_MODULE_NOT_FOUND/.test(detail))
    return { reason: NOT_INSTALLED[name] ?? 'not installed', detail };
  return { reason: 'could not start (see details)', detail };
}

async function useBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  // A tiny op proves the backend really computes.
  const probe = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
  const value = (await probe.data())[0];
  probe.dispose();
  if (value !== 3) throw new Error(`backend ${name} computed 1 + 2 = ${value}`);
}

/**
 * Dawn (the webgpu package's native code) writes its own warnings straight to file descriptor 2 when it looks for
 * a GPU and finds none: "Warning: Couldn't load Vulkan: libvulkan.so.1 ..." with a source location inside its
 * build, on every command of a machine without a GPU. Node cannot redirect fd 2 around a native call, so the
 * first look happens in a short child process whose stderr is captured: only when the child finds an adapter is
 * Dawn loaded here (where it then has a GPU and nothing to complain about). What the child printed becomes the
 * reason in plain words, its text the detail.
 */
const WEBGPU_PROBE = `
const { tmpdir } = await import('node:os');
process.env.XDG_RUNTIME_DIR ??= tmpdir();
const dawn = await import(process.argv.at(-1));
const gpu = dawn.create([]);
const adapter = await gpu.requestAdapter();
const info = adapter?.info ?? {};
process.stdout.write(JSON.stringify({ adapter: Boolean(adapter), name: [info.vendor, info.description || info.device].filter(Boolean).join(' ') }) + '\\n');
process.exit(0);
`;
const WEBGPU_PROBE_TIMEOUT_MS = 20_000;

export async function probeWebGpu(entry: string): Promise<{ name: string }> {
  const { stdout, stderr, code, signal, timedOut } = await new Promise<{
    stdout: string;
    stderr: string;
    code: number | null;
    signal: NodeJS.Signals | null;
    timedOut: boolean;
  }>((resolve, reject) => {
    // ELECTRON_RUN_AS_NODE: in the desktop app process.execPath is Electron, which then runs as plain Node.
    const child = spawn(process.execPath, ['--input-type=module', '-e', WEBGPU_PROBE, pathToFileURL(entry).href], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, WEBGPU_PROBE_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-4000)));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: out, stderr: err, code, signal, timedOut });
    });
  });
  const detail = stderr.trim() || undefined;
  if (timedOut)
    throw new Unavailable(`not found: the GPU check did not answer within ${WEBGPU_PROBE_TIMEOUT_MS / 1000} s`, detail);
  let answer: { adapter?: boolean; name?: string } = {};
  try {
    answer = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as typeof answer;
  } catch {
    throw new Unavailable(
      `could not start: the GPU check ended without an answer (${signal ?? `exit code ${code}`})`,
      detail,
    );
  }
  if (answer.adapter) return { name: answer.name ?? '' };
  if (/libvulkan/i.test(stderr))
    throw new Unavailable('not found: no Vulkan driver (libvulkan.so.1 is missing)', detail);
  throw new Unavailable('not found: no GPU adapter (no GPU, or no Vulkan/Metal/D3D12 driver for it)', detail);
}

const loaders: Record<BackendName, Loader> = {
  'tfjs-node-gpu': async () => {
    await import('@tensorflow/tfjs-node-gpu');
    await useBackend('tensorflow');
    return 'works: TensorFlow with CUDA';
  },
  webgpu: async () => {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    let found = '';
    if (!g.navigator?.gpu) {
      let entry: string;
      try {
        entry = require.resolve('webgpu');
      } catch (error) {
        throw new Unavailable(NOT_INSTALLED.webgpu ?? 'not installed', short(error));
      }
      found = (await probeWebGpu(entry)).name;
      // Dawn's Vulkan loader wants a runtime dir; headless servers often lack one.
      process.env.XDG_RUNTIME_DIR ??= tmpdir();
      // Dawn for Node: the navigator.gpu object must exist before the tfjs WebGPU backend is imported.
      const dawn = (await import('webgpu')) as { create: (flags: string[]) => unknown; globals?: object };
      if (dawn.globals) Object.assign(globalThis, dawn.globals);
      const gpu = dawn.create([]);
      Object.defineProperty(globalThis, 'navigator', {
        value: { ...(g.navigator ?? {}), gpu },
        configurable: true,
        writable: true,
      });
    }
    const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter: () => Promise<unknown> } } }).navigator
      .gpu;
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Unavailable('not found: no GPU adapter (no GPU, or no Vulkan/Metal/D3D12 driver for it)');
    await import('@tensorflow/tfjs-backend-webgpu');
    await useBackend('webgpu');
    const added = registerConvFilterGradient('webgpu');
    return `works: ${found || 'a WebGPU adapter'} through Dawn${added ? ' (+ conv filter gradient kernel)' : ''}`;
  },
  'tfjs-node': async () => {
    const moduleName = '@tensorflow/tfjs-node';
    await import(moduleName);
    await useBackend('tensorflow');
    return 'works: TensorFlow on the CPU';
  },
  wasm: async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(`${dist.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1')}${path.sep}`);
    await useBackend('wasm');
    registerWasmTrainingKernels();
    return 'works: WebAssembly with SIMD, one thread (+ conv filter gradient kernel)';
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await useBackend('cpu');
    return 'works: plain JavaScript (slow; the last resort)';
  },
};

let current: { report: BackendReport; choice: BackendChoice } | null = null;

let gradients: Promise<unknown> | null = null;
/**
 * tfjs-core alone registers no gradients, and its ESM gradient module does not load under Node;
 * the @tensorflow/tfjs bundle registers them into the same tfjs-core instance.
 */
function registerGradients(): Promise<unknown> {
  gradients ??= import('@tensorflow/tfjs');
  return gradients;
}

/** Where a forced choice comes from: FACEPARTS_BACKEND beats the project setting. */
export function effectiveChoice(setting: BackendChoice = 'auto'): {
  choice: BackendChoice;
  forcedBy: 'env' | 'setting' | null;
} {
  const env = process.env.FACEPARTS_BACKEND?.trim();
  if (env && env !== 'auto') {
    const parsed = BackendName.safeParse(env);
    if (!parsed.success) {
      throw new StudioError(
        ErrorCode.invalidParams,
        `FACEPARTS_BACKEND="${env}" is not a backend (use auto, ${BACKEND_CHAIN.join(', ')})`,
        {
          field: 'FACEPARTS_BACKEND',
          fix: `use one of: auto, ${BACKEND_CHAIN.join(', ')}`,
        },
      );
    }
    return { choice: parsed.data, forcedBy: 'env' };
  }
  return setting === 'auto' ? { choice: 'auto', forcedBy: null } : { choice: setting, forcedBy: 'setting' };
}

/**
 * Pick the tfjs backend: a forced one, or the first that loads from the fallback chain.
 * The report says which was picked and why each other was skipped.
 */
export async function selectBackend(setting: BackendChoice = 'auto'): Promise<BackendReport> {
  const { choice, forcedBy } = effectiveChoice(setting);
  await registerGradients();
  if (current && current.choice === choice && current.report.selected) return current.report;
  const attempts: BackendReport['attempts'] = [];
  const candidates = choice === 'auto' ? BACKEND_CHAIN : [choice];
  let selected: BackendName | null = null;
  for (const name of BACKEND_CHAIN) {
    if (!candidates.includes(name)) {
      const by = forcedBy === 'env' ? 'FACEPARTS_BACKEND' : "the project's backend setting";
      attempts.push({ name, ok: false, reason: `not tried: ${by} asks for ${choice}` });
      continue;
    }
    if (selected) {
      attempts.push({ name, ok: false, reason: `not tried: ${selected} works and comes first` });
      continue;
    }
    try {
      const detail = await loaders[name]();
      for (const hook of afterInit.get(name) ?? []) await hook();
      attempts.push({ name, ok: true, reason: detail });
      selected = name;
    } catch (error) {
      attempts.push({ name, ok: false, ...plainReason(name, error) });
    }
  }
  const report: BackendReport = { selected, forcedBy, attempts };
  if (!selected) {
    throw new StudioError(
      ErrorCode.backendUnavailable,
      `no tfjs backend could be started: ${attempts.map((a) => `${a.name}: ${a.reason}`).join('; ')}`,
      {
        fix:
          choice === 'auto'
            ? 'reinstall FaceParts Studio'
            : `unset FACEPARTS_BACKEND / the backend setting, or install what ${choice} needs`,
      },
    );
  }
  current = { report, choice };
  for (const listener of chosenListeners) listener(report);
  return report;
}

export function currentBackend(): BackendReport | null {
  return current?.report ?? null;
}

export { tf };
