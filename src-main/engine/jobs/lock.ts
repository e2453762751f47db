import { openSync, closeSync, writeSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, StudioError } from '../../../src-shared/contract/index.js';
import { processRuns } from '../io/process.js';

const LOCK_FILE = '.engine.lock';

/**
 * One engine at a time runs jobs in a project (the Electron app, a CLI and a serve process may all be open).
 * A lock left by a killed engine is taken over.
 */
export function acquireProjectLock(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StudioError(ErrorCode.ioError, `cannot write in ${dir}: ${(error as Error).message}`, {
          file: dir,
          fix: 'check that the project folder is writable (not read-only, disk not full)',
        });
      }
      let holder = 0;
      try {
        holder = Number((JSON.parse(readFileSync(file, 'utf8')) as { pid?: number }).pid ?? 0);
      } catch {
        /* unreadable lock: treat as stale */
      }
      if (holder > 0 && holder !== process.pid && processRuns(holder)) {
        throw new StudioError(
          ErrorCode.projectBusy,
          `another FaceParts engine (pid ${holder}) is running a job in ${dir}`,
          {
            file,
            fix: 'wait for it to finish or cancel it there',
          },
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new StudioError(ErrorCode.projectBusy, `could not lock ${dir}`, { file });
}
