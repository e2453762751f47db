import { homedir } from 'node:os';
import path from 'node:path';
import {
  ErrorCode,
  StudioError,
  parseRequest,
  salvageRequestId,
  toErrorInfo,
  type EngineEvent,
  type MethodName,
  type ParsedParamsOf,
  type ResponseEnvelope,
  type ResultOf,
  type TrainingSettings,
} from '../../../src-shared/contract/index.js';
import * as tf from '@tensorflow/tfjs-core';
import { detectorNames } from '../detect/registry.js';
import { currentBackend, onBackendChosen, selectBackend } from '../backend/select.js';
import { computeLine } from '../../../src-shared/compute.js';
import { JobManager } from '../jobs/manager.js';
import { resolveTools } from '../media/tools.js';
import { probeSource } from '../media/probe.js';
import { forgetProject, listRecent, rememberProject } from '../project/recent.js';
import { ProjectStore } from '../project/store.js';
import { availableStages } from '../stages.js';
import { choosePerson, choosePersonByReference } from '../jobs/person.js';
import { MaskStore } from '../masks/edits.js';
import { previewFrame } from './preview-frame.js';
import { measureTrainingSpeed } from '../train/estimate.js';
import { makeTimelapse } from '../train/timelapse.js';
import { onModelPoolStarted } from '../pipeline/workers.js';
import { studioVersion } from '../io/version.js';
import { previewFace } from './preview-face.js';
import { FacesRepo, toFaceRecord } from '../project/faces-repo.js';
import { RunsRepo } from '../project/runs-repo.js';

export type EngineRuntime = 'electron-utility' | 'node-child' | 'in-process';

type Handler<M extends MethodName> = (params: ParsedParamsOf<M>) => Promise<ResultOf<M>> | ResultOf<M>;
type Handlers = { [M in MethodName]: Handler<M> };

/**
 * The engine behind the contract: validates every request, dispatches it, and never lets a bad message
 * take it down. Transports (utility process, child process, in-process) only move envelopes.
 */
export class Engine {
  private readonly stores = new Map<string, ProjectStore>();
  private readonly listeners = new Set<(event: EngineEvent) => void>();
  readonly jobs: JobManager;
  private status: 'starting' | 'ready' | 'busy' | 'stopping' = 'ready';
  private readonly version = studioVersion();
  private shutdownHook: (() => void) | null = null;

  constructor(private readonly runtime: EngineRuntime) {
    this.jobs = new JobManager({
      emit: (event) => this.emit(event),
      store: (dir) => this.store(dir),
      onBusyChange: (busy) => this.setStatus(busy ? 'busy' : 'ready'),
    });
    // Which compute was chosen and why, once, in plain words: the CLI prints it as its one line about compute, and
    // the studio's status bar hears of it at once (not only at the next change of the engine's status).
    this.offBackendChosen = onBackendChosen((report) => {
      this.emit({
        type: 'log',
        level: 'info',
        message: computeLine(report),
        jobId: null,
        time: new Date().toISOString(),
      });
      this.emit({ type: 'engine.state', status: this.status, backend: report });
    });
    this.offPoolStarted = onModelPoolStarted((line) =>
      this.emit({ type: 'log', level: 'info', message: line, jobId: null, time: new Date().toISOString() }),
    );
  }

  private readonly offPoolStarted: () => void;

  private readonly offBackendChosen: () => void;

  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called by the transport once shutdown has replied, to end the process. */
  onShutdown(hook: () => void): void {
    this.shutdownHook = hook;
  }

  emit(event: EngineEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        /* a broken listener must not stop the others */
      }
    }
  }

  private setStatus(status: typeof this.status): void {
    if (this.status === status) return;
    this.status = status;
    this.emit({ type: 'engine.state', status, backend: currentBackend() });
  }

  /** Handle one raw message from any transport; always resolves to a response envelope. */
  async handle(raw: unknown): Promise<ResponseEnvelope> {
    let request;
    try {
      request = parseRequest(raw);
    } catch (error) {
      return { kind: 'response', id: salvageRequestId(raw), ok: false, error: toErrorInfo(error) };
    }
    try {
      const handler = this.handlers[request.method] as Handler<MethodName>;
      const result = await handler(request.params as never);
      return { kind: 'response', id: request.id, ok: true, result };
    } catch (error) {
      if (!(error instanceof StudioError))
        this.emit({
          type: 'log',
          level: 'error',
          message: `${request.method}: ${String((error as Error)?.stack ?? error)}`,
          jobId: null,
          time: new Date().toISOString(),
        });
      return { kind: 'response', id: request.id, ok: false, error: toErrorInfo(error) };
    }
  }

  /** Open (or reuse) a project's store; first open cleans up after any earlier crash. */
  store(dir: string): ProjectStore {
    const key = path.resolve(dir);
    const open = this.stores.get(key);
    if (open) return open;
    const store = ProjectStore.open(key);
    this.stores.set(key, store);
    return store;
  }

  private async openProject(dir: string): Promise<ProjectStore> {
    const key = path.resolve(dir);
    const fresh = !this.stores.has(key);
    const store = this.store(key);
    if (fresh) {
      for (const repair of store.repairs)
        this.emit({
          type: 'log',
          level: 'warn',
          message: `${store.project.name}: ${repair}`,
          jobId: null,
          time: new Date().toISOString(),
        });
    }
    if (fresh && !this.jobs.projectHasLiveJob(key)) {
      const recovered = await store.recover();
      if (recovered.tempsRemoved + recovered.jobsInterrupted > 0) {
        this.emit({
          type: 'log',
          level: 'warn',
          message: `recovered ${store.project.name}: removed ${recovered.tempsRemoved} partial file(s), marked ${recovered.jobsInterrupted} interrupted job(s)`,
          jobId: null,
          time: new Date().toISOString(),
        });
      }
    }
    return store;
  }

  private closeStore(dir: string): void {
    const key = path.resolve(dir);
    this.stores.get(key)?.close();
    this.stores.delete(key);
  }

  async shutdown(checkpoint: boolean): Promise<void> {
    this.setStatus('stopping');
    await this.jobs.stopAll(checkpoint);
    this.offBackendChosen();
    this.offPoolStarted();
    for (const store of this.stores.values()) store.close();
    this.stores.clear();
  }

  private readonly handlers: Handlers = {
    'engine.info': () => {
      const tools = resolveTools();
      return {
        version: this.version,
        status: this.status,
        pid: process.pid,
        runtime: this.runtime,
        backend: currentBackend(),
        ffmpeg: { ffmpeg: tools.ffmpeg, ffprobe: tools.ffprobe, tried: tools.tried },
        stages: { ...availableStages },
        memory: {
          rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
          heapUsedMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
          // Only once a backend is up: asking tfjs for its memory would otherwise start one.
          tensors: currentBackend() ? tf.memory().numTensors : null,
        },
        home: homedir(),
        detectors: detectorNames(),
      };
    },
    'engine.probeBackend': async ({ force }) => selectBackend(force ?? 'auto'),
    'engine.shutdown': async ({ checkpoint }) => {
      await this.shutdown(checkpoint);
      setImmediate(() => this.shutdownHook?.());
      return { stopped: true };
    },

    'project.list': () => ({ projects: listRecent() }),
    'project.create': async ({ dir, name, sourceA, sourceB, settings }) => {
      // The folder first (instant), then the sources; each error names the field it is about.
      ProjectStore.assertCreatable(dir);
      const [a, b] = await Promise.all([probeFor('params.sourceA', sourceA), probeFor('params.sourceB', sourceB)]);
      const store = ProjectStore.create(dir, {
        name,
        settings,
        sources: {
          a: { side: 'a', kind: a.kind, path: a.path, media: a.media },
          b: { side: 'b', kind: b.kind, path: b.path, media: b.media },
        },
      });
      this.stores.set(store.dir, store);
      rememberProject(store.dir, store.project.name);
      return store.summary();
    },
    'project.open': async ({ dir }) => {
      const store = await this.openProject(dir);
      rememberProject(store.dir, store.project.name);
      return store.summary();
    },
    'project.rename': async ({ dir, name }) => {
      const store = await this.openProject(dir);
      store.rename(name);
      rememberProject(store.dir, name);
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'renamed' });
      return store.summary();
    },
    'project.updateSettings': async ({ dir, patch }) => {
      const store = await this.openProject(dir);
      store.updateSettings(patch);
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'settings' });
      return store.summary();
    },
    'project.delete': async ({ dir, confirmName }) => {
      const key = path.resolve(dir);
      const project = ProjectStore.peek(key);
      if (confirmName !== project.name) {
        throw new StudioError(
          ErrorCode.invalidParams,
          `confirmName: type the project's name "${project.name}" to delete it`,
          {
            field: 'params.confirmName',
          },
        );
      }
      if (this.jobs.projectHasLiveJob(key)) {
        throw new StudioError(ErrorCode.projectBusy, `${project.name} has a running job`, {
          fix: 'cancel the job first',
        });
      }
      this.closeStore(key);
      const report = await ProjectStore.remove(key);
      forgetProject(key);
      if (report.kept.length > 0) {
        this.emit({
          type: 'log',
          level: 'warn',
          message: `deleted ${project.name}: removed the ${report.removed} file(s) it wrote; kept ${report.kept.length} item(s) it did not write, and the folder ${key}`,
          jobId: null,
          time: new Date().toISOString(),
        });
      }
      this.emit({ type: 'project.changed', projectDir: key, what: 'deleted' });
      return {
        deleted: true,
        kept: report.kept.slice(0, 50),
        keptCount: report.kept.length,
        folderRemoved: report.folderRemoved,
      };
    },
    'project.forget': ({ dir }) => ({ forgotten: forgetProject(path.resolve(dir)) }),

    'frames.list': async ({ dir, side, offset, limit }) =>
      (await this.openProject(dir)).listFrames(side, offset, limit),
    'faces.list': async ({ dir, side, frameIndex, trackId, offset, limit }) => {
      const listed = new FacesRepo((await this.openProject(dir)).db).list(side, frameIndex, offset, limit, trackId);
      return { total: listed.total, faces: listed.faces.map(toFaceRecord) };
    },
    'faces.chooseTrack': async ({ dir, side, trackId }) => {
      const store = await this.openProject(dir);
      if (this.jobs.projectHasLiveJob(store.dir))
        throw new StudioError(ErrorCode.projectBusy, 'a job is running in this project', {
          fix: 'wait for it or cancel it',
        });
      choosePerson(store, side, trackId);
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'faces' });
      return { side, trackId };
    },
    'faces.chooseByReference': async ({ dir, side, image }) => {
      const store = await this.openProject(dir);
      if (this.jobs.projectHasLiveJob(store.dir))
        throw new StudioError(ErrorCode.projectBusy, 'a job is running in this project', {
          fix: 'wait for it or cancel it',
        });
      const chosen = await choosePersonByReference(store, side, path.resolve(image));
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'faces' });
      return { side, ...chosen };
    },
    'masks.get': async ({ dir, faceId }) => {
      const masks = new MaskStore(await this.openProject(dir));
      return { faceId, generated: masks.generated(faceId), edits: masks.edits(faceId) };
    },
    'masks.saveEdit': async ({ dir, faceId, part, polygon, rasterPng }) => {
      const store = await this.openProject(dir);
      const edit = await new MaskStore(store).save(faceId, part, polygon, rasterPng);
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'masks' });
      return edit;
    },
    'masks.reset': async ({ dir, faceId, part }) => {
      const store = await this.openProject(dir);
      const removed = await new MaskStore(store).reset(faceId, part);
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'masks' });
      return { removed };
    },
    'masks.propagate': async ({ dir, faceId, part, count }) => {
      const store = await this.openProject(dir);
      const copied = await new MaskStore(store).propagate(faceId, part, count);
      this.emit({ type: 'project.changed', projectDir: store.dir, what: 'masks' });
      return { copied };
    },

    'jobs.start': async ({ dir, job }) => {
      const store = await this.openProject(dir);
      return this.jobs.start(store, job);
    },
    'jobs.cancel': ({ jobId }) => this.jobs.cancel(jobId),
    'jobs.pause': ({ jobId }) => this.jobs.pause(jobId),
    'jobs.resume': ({ jobId }) => this.jobs.resume(jobId),
    'jobs.list': ({ dir }) => ({ jobs: this.jobs.list(dir ? path.resolve(dir) : undefined) }),
    'jobs.get': ({ jobId }) => this.jobs.get(jobId),

    'train.history': async ({ dir, runId, sinceIteration }) => {
      const runs = new RunsRepo((await this.openProject(dir)).db);
      // Without runId: the newest run. An unknown run, or a project that never trained, has empty lists.
      const run = runId ?? runs.latestId();
      if (run === undefined) return { losses: [], previews: [] };
      return { losses: runs.losses(run, sinceIteration), previews: runs.previews(run) };
    },
    'train.timelapse': async ({ dir, runId, format, framesPerSecond }) =>
      makeTimelapse(await this.openProject(dir), {
        format,
        framesPerSecond,
        ...(runId === undefined ? {} : { runId }),
      }),
    'train.estimate': ({ overrides }) => {
      const settings = overrides as Partial<TrainingSettings>;
      return measureTrainingSpeed(settings, { perceptual: settings.perceptualLoss !== false });
    },
    'convert.preview': async ({ dir, side, frameIndex, config }) => {
      const store = await this.openProject(dir);
      const frame = await previewFrame(store, side, frameIndex, config);
      return { ...frame, face: previewFace(store, side, frameIndex, config) };
    },
  };
}

/** A source probed for project.create: its errors name the form field (params.sourceA or params.sourceB). */
async function probeFor(field: string, source: string): ReturnType<typeof probeSource> {
  try {
    return await probeSource(source);
  } catch (error) {
    if (!(error instanceof StudioError) || error.field !== undefined) throw error;
    const info = error.toInfo();
    throw new StudioError(error.code, error.message, {
      field,
      ...(info.file === undefined ? {} : { file: info.file }),
      ...(info.fix === undefined ? {} : { fix: info.fix }),
      ...(info.details === undefined ? {} : { details: info.details }),
    });
  }
}
