import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** Hooks that let a backend add kernels tfjs lacks (e.g. the wasm conv filter gradient) once it is set up. */
const afterInit = new Map<BackendName, Array<() => void | Promise<void>>>();
export function onBackendReady(name: BackendName, hook: () => void | Promise<void>): void {
  afterInit.set(name, [...(afterInit.get(name) ?? []), hook]);
}

function short(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.slice(0, 300) ?? message;
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

const loaders: Record<BackendName, Loader> = {
  'tfjs-node-gpu': async () => {
    await import('@tensorflow/tfjs-node-gpu');
    await useBackend('tensorflow');
    return 'libtensorflow with CUDA';
  },
  webgpu: async () => {
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator?.gpu) {
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
    if (!adapter) throw new Error('no WebGPU adapter (no GPU, or no Vulkan/Metal/D3D12 driver)');
    await import('@tensorflow/tfjs-backend-webgpu');
    await useBackend('webgpu');
    const added = registerConvFilterGradient('webgpu');
    return `Dawn WebGPU adapter found${added ? ' (+ conv filter gradient kernel)' : ''}`;
  },
  'tfjs-node': async () => {
    const moduleName = '@tensorflow/tfjs-node';
    await import(moduleName);
    await useBackend('tensorflow');
    return 'libtensorflow on CPU';
  },
  wasm: async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(`${dist.replace(/app\.asar([\\/])/, 'app.asar.unpacked$1')}${path.sep}`);
    await useBackend('wasm');
    registerWasmTrainingKernels();
    return 'WebAssembly with SIMD, single thread (+ conv filter gradient kernel)';
  },
  cpu: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await useBackend('cpu');
    return 'plain JavaScript (slow; last resort)';
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
      attempts.push({ name, ok: false, reason: `skipped: ${choice} was forced by ${forcedBy}` });
      continue;
    }
    if (selected) {
      attempts.push({ name, ok: false, reason: `not needed: ${selected} was picked first` });
      continue;
    }
    try {
      const detail = await loaders[name]();
      for (const hook of afterInit.get(name) ?? []) await hook();
      attempts.push({ name, ok: true, reason: detail });
      selected = name;
    } catch (error) {
      attempts.push({ name, ok: false, reason: short(error) });
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
  return report;
}

export function currentBackend(): BackendReport | null {
  return current?.report ?? null;
}

export { tf };
