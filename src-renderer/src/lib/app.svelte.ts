import {
  ErrorCode,
  StudioError,
  type BackendChoice,
  type BackendReport,
  type EngineEvent,
  type EngineEventOf,
  type JobInfo,
  type JobState,
  type MethodName,
  type ParamsOf,
  type ProjectSummary,
  type RecentProject,
  type ResultOf,
} from '../../../src-shared/contract/index.js';
import {
  createTransport,
  electronBridge,
  type ConnectionInfo,
  type PickPathOptions,
  type Transport,
} from './transport.js';
import { JOB_NOUNS } from './job-words.js';

export type EngineInfo = ResultOf<'engine.info'>;
export type EngineStatus = EngineInfo['status'];
export type JobProgress = EngineEventOf<'job.progress'>;
export type LogEntry = EngineEventOf<'log'>;

/** A button an error offers as its fix (e.g. "Open this project" when the folder already holds one). */
export interface ErrorAction {
  label: string;
  testid: string;
  run: () => void;
}

/** One entry of the error banner. */
export interface UiError {
  id: number;
  /** What the UI was doing, e.g. "Could not open the project". */
  title: string;
  message: string;
  code: string | null;
  fix: string | null;
  file: string | null;
  field: string | null;
  /** A tool's own text (ffmpeg's, a driver's): behind a "details" disclosure. */
  details: string | null;
  action: ErrorAction | null;
}

/** What the user asked of a job that the engine has not confirmed yet (it answers between training steps). */
export type PendingAction = 'pausing' | 'resuming' | 'stopping';

const ACTIVE_STATES: readonly JobState[] = ['running', 'cancelling', 'paused', 'queued'];
const CURRENT_PROJECT_KEY = 'faceparts.currentProject';
const MAX_ERRORS = 5;
const MAX_LOGS = 200;

/** App-wide state, shared by every page. Fields are reassigned (never mutated in place) so $state.raw suffices. */
class AppState {
  transportKind = $state<Transport['kind'] | null>(null);
  connection = $state.raw<ConnectionInfo>({ state: 'connecting', attempt: 0, retryAt: null, detail: null });
  engine = $state.raw<EngineInfo | null>(null);
  /** From engine.info, then engine.state events; null while unknown (not connected yet). */
  engineStatus = $state<EngineStatus | null>(null);
  backend = $state.raw<BackendReport | null>(null);
  /** Job actions sent but not yet confirmed by a job.state event, by job id. */
  pending = $state.raw<Record<string, PendingAction>>({});
  /** The result of the last "Probe backends" on the Settings page. */
  probe = $state.raw<BackendReport | null>(null);
  recent = $state.raw<RecentProject[]>([]);
  recentLoaded = $state(false);
  project = $state.raw<ProjectSummary | null>(null);
  jobs = $state.raw<Record<string, JobInfo>>({});
  progress = $state.raw<Record<string, JobProgress>>({});
  /** The job that ended last, shown in the status bar until another starts. */
  finished = $state.raw<JobInfo | null>(null);
  errors = $state.raw<UiError[]>([]);
  logs = $state.raw<LogEntry[]>([]);
  /**
   * Bumped whenever the open project's data changes (a project.changed event, or one of its jobs ending), with what
   * changed: pages that show frames, faces or masks re-read when it moves.
   */
  dataChange = $state.raw<{ n: number; what: string }>({ n: 0, what: '' });

  /** The job the status bar shows: running first, then cancelling, paused, queued; newest first within each. */
  activeJob = $derived.by((): JobInfo | null => {
    let best: JobInfo | null = null;
    for (const job of Object.values(this.jobs)) {
      const rank = ACTIVE_STATES.indexOf(job.state);
      if (rank < 0) continue;
      if (
        best === null ||
        rank < ACTIVE_STATES.indexOf(best.state) ||
        (rank === ACTIVE_STATES.indexOf(best.state) && job.createdAt > best.createdAt)
      ) {
        best = job;
      }
    }
    return best;
  });

  /** Whether a job (any type) is queued or running for the open project. */
  projectBusy = $derived.by((): boolean => {
    const dir = this.project?.dir;
    if (!dir) return false;
    return Object.values(this.jobs).some((job) => job.projectDir === dir && ACTIVE_STATES.includes(job.state));
  });
}

export const app = new AppState();

let transport: Transport | null = null;
let nextErrorId = 1;

// ---------------------------------------------------------------------------------------------------------------
// Errors

function errorParts(error: unknown): Omit<UiError, 'id' | 'title' | 'action'> {
  if (error instanceof StudioError) {
    return {
      message: error.message,
      code: error.code,
      fix: error.fix ?? null,
      file: error.file ?? null,
      field: error.field ?? null,
      details: error.details ?? null,
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, code: null, fix: null, file: null, field: null, details: null };
}

/** Puts an error into the banner (skipping an exact repeat of the newest one); `action` is a button that fixes it. */
export function showError(error: unknown, title: string, action: ErrorAction | null = null): void {
  const entry: UiError = { id: nextErrorId++, title, ...errorParts(error), action };
  const last = app.errors.at(-1);
  if (last && last.title === entry.title && last.message === entry.message) return;
  app.errors = [...app.errors, entry].slice(-MAX_ERRORS);
}

export function dismissError(id: number): void {
  app.errors = app.errors.filter((entry) => entry.id !== id);
}

export function dismissAllErrors(): void {
  app.errors = [];
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

export function request<M extends MethodName>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
  if (!transport) {
    return Promise.reject(new StudioError(ErrorCode.engineGone, 'The UI has not connected to the engine yet.'));
  }
  return transport.request(method, params);
}

function isConnectionError(error: unknown): boolean {
  return error instanceof StudioError && (error.code === ErrorCode.engineGone || error.code === ErrorCode.unauthorized);
}

/**
 * Runs a request; on failure shows the error under `title` and resolves with undefined. Background refreshes pass
 * `quiet`: a lost connection is already shown in the status bar, so it does not also fill the banner.
 */
async function attempt<T>(title: string, run: () => Promise<T>, quiet = false): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (!(quiet && isConnectionError(error))) showError(error, title);
    return undefined;
  }
}

export function reconnectNow(): void {
  transport?.reconnectNow();
}

// ---------------------------------------------------------------------------------------------------------------
// Engine

export async function refreshEngine(quiet = false): Promise<void> {
  const info = await attempt('Could not read the engine status', () => request('engine.info', {}), quiet);
  if (!info) return;
  app.engine = info;
  app.engineStatus = info.status;
  app.backend = info.backend;
}

export async function probeBackends(force?: BackendChoice): Promise<BackendReport | undefined> {
  const report = await attempt('Backend probe failed', () =>
    request('engine.probeBackend', force === undefined ? {} : { force }),
  );
  if (report) {
    app.probe = report;
    if (force === undefined || force === 'auto') app.backend = report;
  }
  return report;
}

// ---------------------------------------------------------------------------------------------------------------
// Projects

function remember(dir: string | null): void {
  try {
    if (dir === null) window.localStorage.removeItem(CURRENT_PROJECT_KEY);
    else window.localStorage.setItem(CURRENT_PROJECT_KEY, dir);
  } catch {
    // Storage disabled: the open project just isn't restored on reload.
  }
}

function remembered(): string | null {
  try {
    return window.localStorage.getItem(CURRENT_PROJECT_KEY);
  } catch {
    return null;
  }
}

function setProject(summary: ProjectSummary | null): void {
  app.project = summary;
  remember(summary?.dir ?? null);
}

export async function refreshRecent(quiet = false): Promise<void> {
  const result = await attempt('Could not list recent projects', () => request('project.list', {}), quiet);
  if (!result) return;
  app.recent = result.projects;
  app.recentLoaded = true;
}

/** "params.sourceA" -> "sourceA": the form field an engine error is about, or null. */
export function fieldName(error: unknown): string | null {
  const field = error instanceof StudioError ? error.field : undefined;
  return field === undefined ? null : (field.split('.').at(-1) ?? null);
}

export async function openProject(dir: string): Promise<boolean> {
  return (await openProjectAt(dir)).ok;
}

/** Opens the project in a folder; on failure shows the error and says whether it was about the folder itself. */
export async function openProjectAt(
  dir: string,
): Promise<{ ok: true } | { ok: false; field: string | null; message: string }> {
  try {
    const summary = await request('project.open', { dir });
    setProject(summary);
    void refreshRecent(true);
    return { ok: true };
  } catch (error) {
    showError(error, 'Could not open the project');
    // Anything the engine says about the folder (not a project, damaged, too new) is about the one field there is.
    const aboutFolder = error instanceof StudioError && !isConnectionError(error);
    return { ok: false, field: aboutFolder ? 'dir' : null, message: errorParts(error).message };
  }
}

export function closeProject(): void {
  setProject(null);
}

/** Re-reads the open project (or the one open before a reload); quiet unless the project is gone. */
async function restoreProject(): Promise<void> {
  const dir = app.project?.dir ?? remembered();
  if (!dir) return;
  try {
    const summary = await request('project.open', { dir });
    if ((app.project?.dir ?? remembered()) === dir) setProject(summary);
  } catch (error) {
    const gone =
      error instanceof StudioError &&
      ([ErrorCode.notFound, ErrorCode.projectInvalid, ErrorCode.projectTooNew] as string[]).includes(error.code);
    if (!gone) return;
    if (app.project?.dir === dir) showError(error, 'The open project is no longer available');
    if ((app.project?.dir ?? remembered()) === dir) setProject(null);
  }
}

let refreshTimer: ReturnType<typeof setTimeout> | null = null;

/** Coalesces bursts of project.changed events into one re-read. */
function scheduleProjectRefresh(): void {
  if (refreshTimer !== null) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    void restoreProject();
  }, 300);
}

export type CreateProjectParams = ParamsOf<'project.create'>;

/** Creates a project and opens it; on failure shows the error and returns the offending field, if named. */
export async function createProject(
  params: CreateProjectParams,
): Promise<{ ok: true } | { ok: false; field: string | null; message: string; existing: boolean }> {
  try {
    const summary = await request('project.create', params);
    setProject(summary);
    void refreshRecent(true);
    return { ok: true };
  } catch (error) {
    // A folder that already holds a project: the fix is to open it, so the banner offers exactly that.
    const existing =
      error instanceof StudioError && error.code === ErrorCode.alreadyExists && /project\.json$/.test(error.file ?? '');
    const dir = params.dir;
    showError(
      error,
      'Could not create the project',
      existing
        ? {
            label: 'Open this project',
            testid: 'error-open-project',
            run: () => void openProjectAt(dir).then((result) => result.ok && dismissAllErrors()),
          }
        : null,
    );
    return { ok: false, field: fieldName(error), message: errorParts(error).message, existing };
  }
}

export async function renameProject(name: string): Promise<boolean> {
  const dir = app.project?.dir;
  if (!dir) return false;
  const summary = await attempt('Could not rename the project', () => request('project.rename', { dir, name }));
  if (!summary) return false;
  if (app.project?.dir === dir) setProject(summary);
  void refreshRecent(true);
  return true;
}

export async function deleteProject(confirmName: string): Promise<boolean> {
  const dir = app.project?.dir;
  if (!dir) return false;
  const result = await attempt('Could not delete the project', () => request('project.delete', { dir, confirmName }));
  if (!result) return false;
  if (!result.deleted) {
    showError(new Error('The engine did not delete the project.'), 'Could not delete the project');
    return false;
  }
  if (app.project?.dir === dir) setProject(null);
  void refreshRecent(true);
  return true;
}

export async function forgetProject(dir: string): Promise<void> {
  const result = await attempt('Could not remove the project from the list', () => request('project.forget', { dir }));
  if (!result) return;
  if (app.project?.dir === dir) setProject(null);
  await refreshRecent();
}

/** A path as the user reads it best: under the engine user's home folder as "~/…" (the full path stays in titles). */
export function displayPath(path: string): string {
  const home = app.engine?.home;
  if (!home || home === '/' || !path.startsWith(home)) return path;
  const rest = path.slice(home.length);
  return rest === '' ? '~' : /^[\\/]/.test(rest) ? `~${rest}` : path;
}

/** Every path under the home folder in a text (an engine message) as "~/…". */
export function shortenPaths(text: string): string {
  const home = app.engine?.home;
  if (!home || home === '/') return text;
  return text.split(`${home}/`).join('~/');
}

export function canPickPaths(): boolean {
  return typeof electronBridge()?.pickPath === 'function';
}

export async function pickPath(options: PickPathOptions): Promise<string | null> {
  const pick = electronBridge()?.pickPath;
  if (!pick) return null;
  return (await attempt('Could not open the file dialog', () => pick(options))) ?? null;
}

// ---------------------------------------------------------------------------------------------------------------
// Jobs

function isActive(job: JobInfo): boolean {
  return ACTIVE_STATES.includes(job.state);
}

function upsertJob(job: JobInfo): void {
  const jobs: Record<string, JobInfo> = {};
  // Keep only active jobs plus this one, so the record does not grow without bound.
  for (const [id, known] of Object.entries(app.jobs)) if (isActive(known)) jobs[id] = known;
  jobs[job.id] = job;
  app.jobs = jobs;
}

function dropProgress(jobId: string): void {
  if (!(jobId in app.progress)) return;
  const rest = { ...app.progress };
  delete rest[jobId];
  app.progress = rest;
}

export async function refreshJobs(quiet = false): Promise<void> {
  const result = await attempt('Could not list jobs', () => request('jobs.list', {}), quiet);
  if (!result) return;
  const jobs: Record<string, JobInfo> = {};
  for (const job of result.jobs) if (isActive(job) && !endedJobs.has(job.id)) jobs[job.id] = job;
  app.jobs = jobs;
}

export async function startExtract(side: 'a' | 'b' | 'both' = 'both'): Promise<boolean> {
  const dir = app.project?.dir;
  if (!dir) return false;
  const job = await attempt('Could not start face extraction', () =>
    request('jobs.start', { dir, job: { type: 'extract', side } }),
  );
  if (!job) return false;
  onJobReply(job);
  return true;
}

function setPending(jobId: string, action: PendingAction | null): void {
  const next = { ...app.pending };
  if (action === null) delete next[jobId];
  else next[jobId] = action;
  app.pending = next;
}

/**
 * Asks the engine to pause, resume or stop a job, showing the request as pending at once: a training job answers
 * only between steps, which on a CPU can be 15 s away. The pending state ends with the job's next state event (or
 * a failed request).
 */
export async function jobAction(jobId: string, action: PendingAction): Promise<JobInfo | undefined> {
  setPending(jobId, action);
  const [method, title] =
    action === 'pausing'
      ? (['jobs.pause', 'Could not pause'] as const)
      : action === 'resuming'
        ? (['jobs.resume', 'Could not resume'] as const)
        : (['jobs.cancel', 'Could not stop'] as const);
  const job = await attempt(title, () => request(method, { jobId }));
  if (!job) setPending(jobId, null);
  else {
    // The reply may come after the state event that settled it, or say nothing changed (already paused).
    if (app.pending[jobId] === action && settled(job.state, action)) setPending(jobId, null);
    onJobReply(job);
  }
  return job;
}

/** Whether a job in this state no longer waits for the action. */
function settled(state: JobState, action: PendingAction): boolean {
  if (!isActive({ state } as JobInfo)) return true;
  if (action === 'pausing') return state === 'paused';
  if (action === 'resuming') return state === 'running';
  return state === 'cancelling';
}

export async function cancelJob(jobId: string): Promise<void> {
  await jobAction(jobId, 'stopping');
}

/** Jobs seen ending; a late reply about one must not bring it back to life. Bookkeeping only, not shown. */
// eslint-disable-next-line svelte/prefer-svelte-reactivity -- deliberately not reactive
const endedJobs = new Set<string>();

/**
 * A reply (jobs.start, jobs.cancel, jobs.get) may arrive after job.state events about the same job that are newer
 * than it: events win, so a reply only fills in a job not known yet.
 */
function onJobReply(job: JobInfo): void {
  if (endedJobs.has(job.id) || job.id in app.jobs) return;
  onJobState(job);
}

function onJobState(job: JobInfo): void {
  if (endedJobs.has(job.id)) return;
  const pending = app.pending[job.id];
  if (pending && settled(job.state, pending)) setPending(job.id, null);
  upsertJob(job);
  if (isActive(job)) {
    if (job.state === 'running' || job.state === 'queued') app.finished = null;
    return;
  }
  endedJobs.add(job.id);
  dropProgress(job.id);
  app.finished = job;
  if (job.state === 'failed') {
    const error = job.error
      ? StudioError.fromInfo(job.error)
      : new StudioError(ErrorCode.internal, 'The job failed without saying why.');
    showError(error, `${JOB_NOUNS[job.spec.type]} failed`);
  }
  if (job.projectDir === app.project?.dir) {
    scheduleProjectRefresh();
    markChanged(`job:${job.spec.type}`);
  }
}

function markChanged(what: string): void {
  app.dataChange = { n: app.dataChange.n + 1, what };
}

// ---------------------------------------------------------------------------------------------------------------
// Events and start-up

function handleEvent(event: EngineEvent): void {
  switch (event.type) {
    case 'engine.state':
      app.engineStatus = event.status;
      app.backend = event.backend;
      break;
    case 'job.progress':
      app.progress = { ...app.progress, [event.jobId]: event };
      if (!(event.jobId in app.jobs)) {
        void request('jobs.get', { jobId: event.jobId }).then(
          (job) => onJobReply(job),
          () => undefined,
        );
      }
      break;
    case 'job.state':
      onJobState(event.job);
      break;
    case 'project.changed':
      if (event.what === 'renamed' || event.what === 'deleted') void refreshRecent(true);
      if (event.projectDir !== app.project?.dir) break;
      if (event.what === 'deleted') setProject(null);
      else {
        scheduleProjectRefresh();
        markChanged(event.what);
      }
      break;
    case 'protocol.error':
      showError(StudioError.fromInfo(event.error), 'The engine could not read a message from the UI');
      break;
    case 'log':
      app.logs = [...app.logs.slice(-(MAX_LOGS - 1)), event];
      break;
    default:
      // train.losses and train.preview: the Train page listens for them (onEngineEvent).
      break;
  }
  for (const listener of eventListeners) listener(event);
}

/** Page-level listeners, called with every engine event after the app state has taken it in. */
// eslint-disable-next-line svelte/prefer-svelte-reactivity -- a listener list, not state
const eventListeners = new Set<(event: EngineEvent) => void>();

/** Calls `listener` with every engine event (after the app state is updated); returns the unsubscribe function. */
export function onEngineEvent(listener: (event: EngineEvent) => void): () => void {
  eventListeners.add(listener);
  return () => eventListeners.delete(listener);
}

async function onConnected(): Promise<void> {
  await Promise.all([refreshEngine(true), refreshRecent(true), refreshJobs(true), restoreProject()]);
}

/** Connects to the engine (once); returns a function that disconnects. */
export function start(): () => void {
  if (transport) return () => undefined;
  const current = createTransport({
    onInvalidMessage: (error) => showError(error, 'The engine sent a message the UI could not read'),
  });
  transport = current;
  app.transportKind = current.kind;
  const offEvent = current.onEvent(handleEvent);
  let wasOpen = false;
  const offConnection = current.onConnection((info) => {
    app.connection = info;
    const isOpen = info.state === 'open';
    if (isOpen && !wasOpen) void onConnected();
    if (info.state === 'unauthorized') {
      showError(
        new StudioError(
          ErrorCode.unauthorized,
          `The engine refused this page: ${info.detail ?? 'no valid access token'}.`,
          {
            fix: 'Open the link that faceparts serve printed (it carries the access token), or restart it and use the new link.',
          },
        ),
        'Not allowed to connect',
      );
    }
    if (!isOpen) app.engineStatus = null;
    wasOpen = isOpen;
  });
  return () => {
    offEvent();
    offConnection();
    current.close();
    if (transport === current) transport = null;
  };
}
