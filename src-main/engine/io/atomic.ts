import { randomBytes } from 'node:crypto';
import { promises as fs, closeSync, fsyncSync, openSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import path from 'node:path';

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
 * Write a file so that readers see either the old content or the whole new one, never a part:
 * write a temp file in the same folder, fsync it, rename it over the target, fsync the folder.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPathFor(target);
  const handle = await fs.open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw error;
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
  const fd = openSync(temp, 'wx', 0o644);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
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
