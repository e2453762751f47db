import { randomBytes } from 'node:crypto';
import { promises as fs, closeSync, fsyncSync, openSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, StudioError } from '../../../src-shared/contract/errors.js';

/** Temp files carry this marker so recovery can find and remove leftovers of a killed write. */
export const TEMP_MARKER = '.fp-tmp-';

function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `${TEMP_MARKER}${path.basename(target)}.${randomBytes(4).toString('hex')}`);
}

async function fsyncDir(dir: string): Promise<void> {
  // Directory fsync makes the rename durable; not supported on every platform, so best effort.
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* unsupported (e.g. Windows) */
  }
}

/**
 * Fault injection for the reliability tests: FACEPARTS_FAULT_WRITE=<text> makes every atomic write to a path
 * containing <text> fail as a full disk does (ENOSPC) after half of the data reached the temp file;
 * FACEPARTS_FAULT_WRITE=hang:<text> stops it there for good (to kill the process mid-write).
 */
function injectedFault(target: string): (NodeJS.ErrnoException & { hang?: boolean }) | null {
  const setting = process.env.FACEPARTS_FAULT_WRITE;
  if (!setting) return null;
  const hang = setting.startsWith('hang:');
  const pattern = hang ? setting.slice(5) : setting;
  if (!pattern || !target.includes(pattern)) return null;
  return Object.assign(new Error(`ENOSPC: no space left on device, write '${target}' (injected)`), {
    code: 'ENOSPC',
    hang,
  });
}

const DISK_ERRORS: Record<string, { what: string; fix: string }> = {
  ENOSPC: { what: 'the disk is full', fix: 'free some disk space, then run it again: it resumes from the last save' },
  EDQUOT: { what: 'the disk quota is used up', fix: 'free some space in your quota, then run it again' },
  EROFS: { what: 'the disk is read-only', fix: 'move the project to a writable disk' },
  EACCES: { what: 'permission denied', fix: 'make the project folder writable for your user' },
  EPERM: { what: 'the operation is not permitted', fix: 'make the project folder writable for your user' },
};

/** Disk errors as StudioErrors that name the file and the fix; anything else passes through. */
export function diskError(target: string, error: unknown): unknown {
  const known = DISK_ERRORS[(error as NodeJS.ErrnoException).code ?? ''];
  if (!known) return error;
  return new StudioError(ErrorCode.ioError, `cannot write ${target}: ${known.what}`, { file: target, fix: known.fix });
}

/**
 * Write a file so that readers see either the old content or the whole new one, never a part:
 * write a temp file in the same folder, fsync it, rename it over the target, fsync the folder.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPathFor(target);
  let handle;
  try {
    handle = await fs.open(temp, 'wx', 0o644);
  } catch (error) {
    throw diskError(target, error);
  }
  try {
    const fault = injectedFault(target);
    if (fault) {
      await handle.writeFile(
        typeof data === 'string' ? data.slice(0, data.length / 2) : data.subarray(0, data.length / 2),
      );
      await handle.sync();
      if (fault.hang) await new Promise<never>(() => undefined);
      throw fault;
    }
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw diskError(target, error);
  }
  await handle.close();
  try {
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  await fsyncDir(path.dirname(target));
}

export function writeFileAtomicSync(target: string, data: string | Uint8Array): void {
  const temp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o644);
  } catch (error) {
    throw diskError(target, error);
  }
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const fault = injectedFault(target);
    if (fault) {
      writeSync(fd, bytes.subarray(0, bytes.length / 2));
      throw fault;
    }
    writeSync(fd, bytes);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw diskError(target, error);
  }
  closeSync(fd);
  renameSync(temp, target);
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/** A temp path for a tool (ffmpeg, a checkpoint writer) that writes a file itself; commit with commitTemp. */
export function reserveTempPath(target: string): string {
  return tempPathFor(target);
}

export async function commitTemp(temp: string, target: string): Promise<void> {
  const handle = await fs.open(temp, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, target);
  await fsyncDir(path.dirname(target));
}

/** Remove temp files left by writes that were killed mid-way, under a folder (recursively). Returns how many. */
export async function removeStaleTemps(root: string): Promise<number> {
  let removed = 0;
  let entries;
  try {
    entries = await fs.readdir(root, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) removed += await removeStaleTemps(full);
    else if (entry.name.startsWith(TEMP_MARKER)) {
      await fs.rm(full, { force: true });
      removed += 1;
    }
  }
  return removed;
}
