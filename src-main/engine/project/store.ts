import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  promises as fs,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  ErrorCode,
  PROJECT_SCHEMA_VERSION,
  ProjectFile,
  ProjectSettings,
  StudioError,
  parseOrThrow,
  type FrameRecord,
  type FrameStatus,
  type ProjectSettingsPatch,
  type ProjectSource,
  type ProjectSummary,
  type Side,
} from '../../../src-shared/contract/index.js';
import { TEMP_MARKER, removeStaleTemps, writeFileAtomicSync } from '../io/atomic.js';
import { isInside } from '../io/paths.js';
import { listImagesSync } from '../media/image-list.js';
import { DB_SCHEMA_VERSION, migrations } from './migrations.js';
import { RunsRepo, recordedSettings, recordedStart } from './runs-repo.js';

export const PROJECT_FILE = 'project.json';
export const INDEX_FILE = 'index.sqlite';
/** A consistent copy of the index, refreshed after every job, to recover from a damaged index. */
export const INDEX_BACKUP = 'index.sqlite.bak';
/** The folders of a project, created up front so every stage can rely on them. */
export const PROJECT_FOLDERS = [
  'faces/a',
  'faces/b',
  'thumbs/a',
  'thumbs/b',
  'masks',
  'checkpoints',
  'previews',
  'exports',
  'models',
] as const;
/** The trained generator a finished run exports, which conversion and previews load. */
export const GENERATOR_FILE = 'models/generator.fpm';

const now = (): string => new Date().toISOString();

function readProjectFile(dir: string): ProjectFile {
  const file = path.join(dir, PROJECT_FILE);
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw new StudioError(ErrorCode.notFound, `${dir} is not a FaceParts project (no ${PROJECT_FILE})`, {
      file,
      fix: 'choose a project folder, or create one with "faceparts new"',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new StudioError(ErrorCode.projectInvalid, `${file} is not valid JSON: ${(error as Error).message}`, {
      file,
      fix: 'restore the file from a backup; the index and media in the folder are untouched',
    });
  }
  const version = (json as { schemaVersion?: unknown }).schemaVersion;
  if (typeof version === 'number' && version > PROJECT_SCHEMA_VERSION) {
    throw new StudioError(
      ErrorCode.projectTooNew,
      `${file} was written by a newer FaceParts Studio (project schema ${version}; this version reads up to ${PROJECT_SCHEMA_VERSION})`,
      { file, fix: 'update FaceParts Studio to open this project' },
    );
  }
  try {
    return parseOrThrow(ProjectFile, json, ErrorCode.projectInvalid, 'project');
  } catch (error) {
    const e = error as StudioError;
    throw new StudioError(ErrorCode.projectInvalid, `${file}: ${e.message}`, {
      file,
      field: e.field ?? 'project',
      fix: 'fix or restore project.json',
    });
  }
}

/**
 * Whether an error from opening the index is about the index file (SQLite's own codes). Anything else (the SQLite
 * module built for another Node.js, say: it loads on first use) says nothing about the file, and must not send the
 * project down the damaged-index path, which moves the index aside for its older backup.
 */
export function isIndexFileError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

function openIndex(dir: string, readonly = false): Database.Database {
  const file = path.join(dir, INDEX_FILE);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly });
  } catch (error) {
    if (!isIndexFileError(error))
      throw new StudioError(
        ErrorCode.internal,
        `cannot open the project index ${file}: the database module did not load (${(error as Error).message.split('\n')[0]})`,
        {
          file,
          fix: 'run FaceParts Studio with the Node.js it was installed with, or reinstall it (npm ci rebuilds the database module); the project is untouched',
        },
      );
    throw new StudioError(
      ErrorCode.projectInvalid,
      `cannot open the project index ${file}: ${(error as Error).message}`,
      {
        file,
        fix: 'check the folder is writable; if the file is damaged, restore it from a backup',
      },
    );
  }
  try {
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > DB_SCHEMA_VERSION) {
      throw new StudioError(
        ErrorCode.projectTooNew,
        `${file} was written by a newer FaceParts Studio (index schema ${version}; this version reads up to ${DB_SCHEMA_VERSION})`,
        { file, fix: 'update FaceParts Studio to open this project' },
      );
    }
    if (version < DB_SCHEMA_VERSION && !readonly) {
      const migrate = db.transaction(() => {
        for (let v = version; v < DB_SCHEMA_VERSION; v += 1) migrations[v]?.(db);
        db.pragma(`user_version = ${DB_SCHEMA_VERSION}`);
      });
      migrate();
    }
  } catch (error) {
    db.close();
    if (error instanceof StudioError) throw error;
    throw new StudioError(
      ErrorCode.projectInvalid,
      `the project index ${file} is damaged: ${(error as Error).message}`,
      {
        file,
        fix: 'restore index.sqlite from a backup, or re-run extraction into a new project',
      },
    );
  }
  return db;
}

/**
 * A damaged index: move it (and its WAL) aside as index.sqlite.damaged-<time>, put the backup in its place and open
 * that. Without a backup the error says what the user can still do; nothing is deleted either way.
 */
function restoreIndex(root: string, problem: string): Database.Database {
  const file = path.join(root, INDEX_FILE);
  const backup = path.join(root, INDEX_BACKUP);
  if (!existsSync(backup)) {
    throw new StudioError(ErrorCode.projectInvalid, `the project index ${file} is damaged: ${problem.slice(0, 300)}`, {
      file,
      fix: 'no backup of it exists yet (one is made after every job): create a new project from the same sources and extract again; your videos and images are untouched',
    });
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, `${file}.damaged-${stamp}${suffix}`);
  }
  copyFileSync(backup, file);
  const db = openIndex(root);
  const check = String(db.pragma('quick_check', { simple: true }));
  if (check !== 'ok') {
    db.close();
    throw new StudioError(ErrorCode.projectInvalid, `the project index ${file} and its backup are both damaged`, {
      file,
      fix: 'create a new project from the same sources and extract again; your videos and images are untouched',
    });
  }
  return db;
}

function mergeSettings(base: ProjectSettings, patch: ProjectSettingsPatch | undefined): ProjectSettings {
  if (!patch) return base;
  return parseOrThrow(
    ProjectSettings,
    {
      extraction: { ...base.extraction, ...patch.extraction },
      training: { ...base.training, ...patch.training },
      converter: { ...base.converter, ...patch.converter },
    },
    ErrorCode.invalidParams,
    'settings',
  );
}

/** A project folder: project.json (the commit point), the SQLite index, and media folders. */
export class ProjectStore {
  private constructor(
    readonly dir: string,
    private file: ProjectFile,
    readonly db: Database.Database,
  ) {}

  /**
   * Whether a new project may go in this folder (a new path, or an empty folder): throws the reason, naming the
   * field params.dir, before any slower check of the sources.
   */
  static assertCreatable(dir: string): void {
    const root = path.resolve(dir);
    if (existsSync(path.join(root, PROJECT_FILE))) {
      throw new StudioError(ErrorCode.alreadyExists, `${root} already holds a project`, {
        field: 'params.dir',
        file: path.join(root, PROJECT_FILE),
        fix: 'open it instead, or choose an empty folder',
      });
    }
    if (!existsSync(root)) return;
    // Any entry at all, hidden ones included: a home folder holding only .ssh/ and .bashrc is not empty. The names
    // are not listed: the caller may be a browser client, and this would list any folder on the machine.
    const entries = readdirNames(root);
    if (entries.length > 0) {
      throw new StudioError(
        ErrorCode.alreadyExists,
        `${root} is not empty (it holds ${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}, hidden ones included)`,
        {
          field: 'params.dir',
          file: root,
          fix: 'choose a new folder, or an empty one: a project keeps a folder of its own, so that deleting it never touches your files',
        },
      );
    }
  }

  static create(
    dir: string,
    init: {
      name?: string | undefined;
      sources: { a: ProjectSource; b: ProjectSource };
      settings?: ProjectSettingsPatch | undefined;
    },
  ): ProjectStore {
    const root = path.resolve(dir);
    ProjectStore.assertCreatable(root);
    const existed = existsSync(root);
    try {
      for (const folder of PROJECT_FOLDERS) mkdirSync(path.join(root, folder), { recursive: true });
    } catch (error) {
      undoCreate(root, existed);
      throw new StudioError(
        ErrorCode.ioError,
        `cannot create the project folder ${root}: ${(error as Error).message}`,
        {
          file: root,
          fix: 'choose a folder you can write to',
        },
      );
    }
    try {
      return ProjectStore.initialise(root, init);
    } catch (error) {
      // Leave the folder as it was (empty, or absent), so the same folder can be chosen again.
      undoCreate(root, existed);
      throw error;
    }
  }

  private static initialise(
    root: string,
    init: {
      name?: string | undefined;
      sources: { a: ProjectSource; b: ProjectSource };
      settings?: ProjectSettingsPatch | undefined;
    },
  ): ProjectStore {
    const db = openIndex(root);
    const time = now();
    const settings = mergeSettings(ProjectSettings.parse({}), init.settings);
    const file: ProjectFile = {
      schemaVersion: PROJECT_SCHEMA_VERSION,
      id: randomUUID(),
      name: init.name ?? path.basename(root),
      createdAt: time,
      updatedAt: time,
      sources: init.sources,
      settings,
    };
    const store = new ProjectStore(root, file, db);
    try {
      store.writeProjectFile();
    } catch (error) {
      store.close();
      throw error;
    }
    return store;
  }

  /** What opening had to repair (a damaged index restored from its backup), for the caller to tell the user. */
  readonly repairs: string[] = [];

  static open(dir: string): ProjectStore {
    const root = path.resolve(dir);
    const file = readProjectFile(root);
    for (const folder of PROJECT_FOLDERS) mkdirSync(path.join(root, folder), { recursive: true });
    let db: Database.Database;
    let problem: string | null = null;
    try {
      db = openIndex(root);
      const check = String(db.pragma('quick_check', { simple: true }));
      if (check !== 'ok') {
        db.close();
        problem = check;
      }
    } catch (error) {
      if (!(error instanceof StudioError) || error.code !== ErrorCode.projectInvalid) throw error;
      problem = error.message;
    }
    if (problem === null) return new ProjectStore(root, file, db!);
    const repaired = new ProjectStore(root, file, restoreIndex(root, problem));
    repaired.repairs.push(
      `the project index was damaged (${problem.replace(/\s+/g, ' ').slice(0, 200)}); restored the copy made after the last job, and kept the damaged file beside it`,
    );
    return repaired;
  }

  /**
   * Refresh the index's backup (a consistent online copy by SQLite's backup API), atomically: the previous backup
   * stays until the new one is complete. Called after every job.
   */
  async backupIndex(): Promise<void> {
    const target = path.join(this.dir, INDEX_BACKUP);
    const temp = `${path.join(this.dir, TEMP_MARKER)}${INDEX_BACKUP}.${randomUUID().slice(0, 8)}`;
    try {
      await this.db.backup(temp);
      await fs.rename(temp, target);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  /** Reads project.json without opening the index for writing (for listings). */
  static peek(dir: string): ProjectFile {
    return readProjectFile(path.resolve(dir));
  }

  get project(): ProjectFile {
    return this.file;
  }

  /** Clean up what a killed process may have left: temp files and jobs recorded as running. */
  async recover(): Promise<{ tempsRemoved: number; jobsInterrupted: number }> {
    let tempsRemoved = await removeStaleTemps(this.dir);
    // An export killed mid-way left its temp file beside the output, which may be outside the project.
    const interrupted = this.db
      .prepare(`SELECT spec FROM jobs WHERE type = 'convert' AND state IN ('queued','running','paused','cancelling')`)
      .all() as Array<{ spec: string }>;
    for (const row of interrupted) {
      try {
        const output = (JSON.parse(row.spec) as { output?: string }).output;
        if (!output) continue;
        const folder = path.dirname(output);
        const prefix = `${TEMP_MARKER}${path.basename(output)}.`;
        for (const name of await fs.readdir(folder).catch(() => [] as string[])) {
          if (!name.startsWith(prefix)) continue;
          await fs.rm(path.join(folder, name), { force: true });
          tempsRemoved += 1;
        }
      } catch {
        /* an unreadable job record: nothing to clean for it */
      }
    }
    const result = this.db
      .prepare(
        `UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE state IN ('queued','running','paused','cancelling')`,
      )
      .run(
        now(),
        JSON.stringify({
          code: ErrorCode.cancelled,
          message: 'interrupted: the engine stopped while this job ran; start it again to resume',
        }),
      );
    return { tempsRemoved, jobsInterrupted: result.changes };
  }

  rename(name: string): void {
    this.file = { ...this.file, name, updatedAt: now() };
    this.writeProjectFile();
  }

  updateSettings(patch: ProjectSettingsPatch): void {
    this.file = { ...this.file, settings: mergeSettings(this.file.settings, patch), updatedAt: now() };
    this.writeProjectFile();
  }

  private writeProjectFile(): void {
    try {
      writeFileAtomicSync(path.join(this.dir, PROJECT_FILE), `${JSON.stringify(this.file, null, 2)}\n`);
    } catch (error) {
      throw new StudioError(
        ErrorCode.ioError,
        `cannot write ${path.join(this.dir, PROJECT_FILE)}: ${(error as Error).message}`,
        {
          file: path.join(this.dir, PROJECT_FILE),
          fix: 'check free disk space and that the folder is writable; the previous project.json is intact',
        },
      );
    }
  }

  // ---- frames -------------------------------------------------------------------------------

  upsertFrames(
    frames: ReadonlyArray<
      Omit<FrameRecord, 'faceCount' | 'width' | 'height' | 'fileName'> & {
        faceCount?: number;
        width?: number | null;
        height?: number | null;
      }
    >,
  ): void {
    const stmt = this.db.prepare(
      `INSERT INTO frames (side, idx, time, status, reason, thumbnail, face_count, width, height)
       VALUES (@side, @index, @timeSeconds, @status, @reason, @thumbnail, @faceCount, @width, @height)
       ON CONFLICT (side, idx) DO UPDATE SET time = excluded.time, status = excluded.status, reason = excluded.reason,
         thumbnail = excluded.thumbnail, face_count = excluded.face_count, width = excluded.width, height = excluded.height`,
    );
    this.db.transaction(() => {
      for (const frame of frames)
        stmt.run({
          ...frame,
          faceCount: frame.faceCount ?? 0,
          width: frame.width ?? null,
          height: frame.height ?? null,
        });
    })();
  }

  listFrames(side: Side, offset: number, limit: number): { total: number; frames: FrameRecord[] } {
    const total = (this.db.prepare('SELECT COUNT(*) AS n FROM frames WHERE side = ?').get(side) as { n: number }).n;
    const rows = this.db
      .prepare(
        'SELECT side, idx, time, status, reason, thumbnail, face_count, width, height FROM frames WHERE side = ? ORDER BY idx LIMIT ? OFFSET ?',
      )
      .all(side, limit, offset) as Array<{
      side: Side;
      idx: number;
      time: number;
      status: FrameStatus;
      reason: string | null;
      thumbnail: string | null;
      face_count: number;
      width: number | null;
      height: number | null;
    }>;
    const source = this.file.sources[side];
    // An image folder's frame i is its i-th image in name order, as extraction read them (media/probe.ts).
    const names = source.kind === 'images' ? this.imageNames(source.path) : null;
    return {
      total,
      frames: rows.map((r) => ({
        side: r.side,
        index: r.idx,
        timeSeconds: r.time,
        status: r.status,
        reason: r.reason,
        thumbnail: r.thumbnail,
        faceCount: r.face_count,
        width: r.width,
        height: r.height,
        fileName: names?.[r.idx] ?? null,
      })),
    };
  }

  private imageListing: { folder: string; mtimeMs: number; names: string[] } | null = null;

  /** The image folder's file names in frame order, re-read only when the folder changes; null when unreadable. */
  private imageNames(folder: string): string[] | null {
    try {
      const mtimeMs = statSync(folder).mtimeMs;
      if (this.imageListing?.folder !== folder || this.imageListing.mtimeMs !== mtimeMs)
        this.imageListing = { folder, mtimeMs, names: listImagesSync(folder).map((file) => path.basename(file)) };
      return this.imageListing.names;
    } catch {
      return null;
    }
  }

  /** Where a resumable stage stopped: the next frame index to do, and whether it finished. */
  getCursor(side: Side, stage: string): { nextIndex: number; finished: boolean; state: unknown } {
    const row = this.db
      .prepare('SELECT next_index, finished, state FROM stage_cursor WHERE side = ? AND stage = ?')
      .get(side, stage) as { next_index: number; finished: number; state: string | null } | undefined;
    return {
      nextIndex: row?.next_index ?? 0,
      finished: row?.finished === 1,
      state: row?.state ? (JSON.parse(row.state) as unknown) : null,
    };
  }

  /** Where a stage has got to; `state` is whatever the stage needs to continue exactly (e.g. the tracker). */
  setCursor(side: Side, stage: string, nextIndex: number, finished: boolean, state: unknown = null): void {
    this.db
      .prepare(
        `INSERT INTO stage_cursor (side, stage, next_index, finished, state) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (side, stage) DO UPDATE SET next_index = excluded.next_index, finished = excluded.finished, state = excluded.state`,
      )
      .run(side, stage, nextIndex, finished ? 1 : 0, state === null ? null : JSON.stringify(state));
  }

  /** Run several writes as one transaction: a kill leaves all or none of them. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /** Record frames and advance the cursor in one transaction, so a kill never leaves them out of step. */
  commitFrames(
    side: Side,
    stage: string,
    frames: Parameters<ProjectStore['upsertFrames']>[0],
    nextIndex: number,
    finished: boolean,
  ): void {
    this.db.transaction(() => {
      this.upsertFrames(frames);
      this.setCursor(side, stage, nextIndex, finished);
    })();
  }

  // ---- summary ------------------------------------------------------------------------------

  summary(): ProjectSummary {
    const count = (sql: string, ...args: unknown[]): number => (this.db.prepare(sql).get(...args) as { n: number }).n;
    const sideCounts = (side: Side) => ({
      framesIndexed: count('SELECT COUNT(*) AS n FROM frames WHERE side = ?', side),
      facesKept: count(`SELECT COUNT(*) AS n FROM faces WHERE side = ? AND status = 'kept'`, side),
      facesSkipped: count(`SELECT COUNT(*) AS n FROM faces WHERE side = ? AND status = 'skipped'`, side),
      tracks: count('SELECT COUNT(*) AS n FROM tracks WHERE side = ?', side),
      maskEdits: count(
        'SELECT COUNT(*) AS n FROM mask_edits m JOIN faces f ON f.id = m.face_id WHERE f.side = ?',
        side,
      ),
    });
    const runs = new RunsRepo(this.db).list();
    const exports = this.db.prepare('SELECT path, created_at, config FROM exports ORDER BY id').all() as Array<{
      path: string;
      created_at: string;
      config: string;
    }>;
    return {
      dir: this.dir,
      id: this.file.id,
      name: this.file.name,
      schemaVersion: this.file.schemaVersion,
      createdAt: this.file.createdAt,
      updatedAt: this.file.updatedAt,
      sources: this.file.sources,
      settings: this.file.settings,
      counts: { a: sideCounts('a'), b: sideCounts('b') },
      trainingRuns: runs.map((r) => ({
        id: r.id,
        startedAt: r.startedAt,
        iteration: r.iteration,
        // A run asked to train to fewer iterations than it had (the demo's "3 more" after a stop at 146) ended
        // where it was: that is its real target.
        targetIterations: Math.max(r.targetIterations, r.iteration, 1),
        state: r.state,
        backend: r.backend,
        settings: recordedSettings(r),
        checkpoint: r.checkpoint,
        startedFrom: recordedStart(r),
      })),
      exports: exports.map((e) => ({
        path: e.path,
        createdAt: e.created_at,
        segmentation: String((JSON.parse(e.config) as { segmentation?: string }).segmentation ?? 'FACE'),
      })),
    };
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Delete the project: exactly the files it wrote (see projectManifest), then its folders that are left empty, then
   * the project folder if nothing else is in it. Files the project did not write stay where they are, and are named
   * in the report; sources elsewhere are never touched. project.json goes last, so an interrupted delete leaves a
   * project that can still be opened and deleted.
   */
  static async remove(dir: string): Promise<RemoveReport> {
    const root = path.resolve(dir);
    readProjectFile(root); // refuse to delete anything that is not a project
    const manifest = await projectManifest(root);
    const rank = (file: string): number => {
      const base = path.relative(root, file);
      return base === PROJECT_FILE ? 2 : base === INDEX_FILE ? 1 : 0;
    };
    const files = [...manifest.files].sort((a, b) => rank(a) - rank(b));
    const kept = [...manifest.unknown];
    for (const file of files) {
      try {
        await fs.unlink(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') kept.push(path.relative(root, file));
      }
    }
    for (const folder of manifest.folders) await fs.rmdir(folder).catch(() => undefined);
    const folderRemoved = await fs.rmdir(root).then(
      () => true,
      () => false,
    );
    return { removed: files.length, kept: kept.sort(), folderRemoved };
  }
}

/** What ProjectStore.remove did: how many files went, what stayed (relative; folders end in "/"), and the folder. */
export interface RemoveReport {
  removed: number;
  kept: string[];
  folderRemoved: boolean;
}

/** Files the project writes at its top level: project.json, the index with its journal, backup and damaged copies. */
const OWN_TOP_FILES =
  /^(project\.json|index\.sqlite(-wal|-shm|-journal|\.bak)?|index\.sqlite\.damaged-[0-9A-Za-z-]+(-wal|-shm)?)$/;
/** The project's folders (created by it, or by its jobs). */
const OWN_FOLDERS =
  /^(thumbs|faces|masks|checkpoints|previews|exports|models)(\/[ab])?$|^(checkpoints|previews)\/run-\d+$|^previews\/convert$|^cache(\/tracking)?$/;
/** Files the project's jobs write inside its folders, by their exact names (thumbnails, crops, masks, ...). */
const OWN_FILES = [
  /^thumbs\/[ab]\/\d{6,}\.jpg$/,
  /^faces\/[ab]\/\d{6,}\.png$/,
  /^masks\/\d+-(eyes|eyebrows|nose|mouth|face)\.png$/,
  /^checkpoints\/run-\d+\/ckpt-\d+\.fpck$/,
  /^previews\/run-\d+\/\d{8,}\.png$/,
  /^previews\/run-\d+\/timelapse\.(mp4|webp)$/,
  /^previews\/run-\d+\/pairs\.png$/,
  /^previews\/convert\/[ab]-\d{6,}-(before|after|mask)\.png$/,
  /^models\/generator\.fpm$/,
  /^cache\/tracking\/[0-9a-f]{32}\.bin$/,
];

/**
 * The manifest of what a project wrote, derived from its own layout and index, so projects made by any version get
 * one: project.json and the index files; inside the project's folders, files named as its jobs name them; the
 * exports its index records (with their .metrics.json and .track.json) when they lie inside the project; and temp
 * files (TEMP_MARKER) in any of those places. Symbolic links are never the project's (it makes none) and are never
 * followed. Anything else is `unknown`: the user's, and never deleted.
 */
export async function projectManifest(
  root: string,
): Promise<{ files: string[]; folders: string[]; unknown: string[] }> {
  const exportsWritten = recordedExports(root);
  const files: string[] = [];
  const folders: string[] = [];
  const unknown: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const dir = rel === '' ? root : path.join(root, rel);
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => null);
    if (entries === null) {
      unknown.push(`${rel}/`);
      return;
    }
    for (const entry of entries) {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const abs = path.join(dir, entry.name);
      if (entry.isDirectory() && OWN_FOLDERS.test(child)) {
        await walk(child);
        folders.push(abs);
      } else if (
        entry.isFile() &&
        (entry.name.startsWith(TEMP_MARKER) ||
          (rel === '' ? OWN_TOP_FILES.test(child) : OWN_FILES.some((re) => re.test(child))) ||
          exportsWritten.has(abs))
      ) {
        files.push(abs);
      } else {
        unknown.push(entry.isDirectory() ? `${child}/` : child);
      }
    }
  };
  await walk('');
  return { files, folders, unknown };
}

/** Exports the index records inside the project folder, with their sidecar files; none when it cannot be read. */
function recordedExports(root: string): Set<string> {
  const found = new Set<string>();
  const index = path.join(root, INDEX_FILE);
  if (!existsSync(index)) return found;
  let db: Database.Database | null = null;
  try {
    db = new Database(index, { readonly: true, fileMustExist: true });
    for (const row of db.prepare('SELECT path FROM exports').all() as Array<{ path: unknown }>) {
      if (typeof row.path !== 'string') continue;
      const output = path.resolve(row.path);
      if (!isInside(root, output)) continue;
      for (const file of [output, `${output}.metrics.json`, `${output}.track.json`]) found.add(file);
    }
  } catch {
    /* a damaged index: its exports are kept like any unknown file */
  } finally {
    db?.close();
  }
  return found;
}

/** After a failed create: remove what it made (empty folders, the index), and the folder itself if it made that. */
function undoCreate(root: string, existed: boolean): void {
  for (const suffix of ['-wal', '-shm', '-journal', '']) rmSync(path.join(root, INDEX_FILE + suffix), { force: true });
  const folders = [...new Set(PROJECT_FOLDERS.flatMap((f) => [f, f.split('/')[0] as string]))].sort(
    (a, b) => b.length - a.length,
  );
  for (const folder of folders) {
    try {
      rmdirSync(path.join(root, folder));
    } catch {
      /* not there, or not empty: leave it */
    }
  }
  if (!existed) {
    try {
      rmdirSync(root);
    } catch {
      /* not empty: leave it */
    }
  }
}

function readdirNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
