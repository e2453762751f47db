import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RecentProject } from '../../../src-shared/contract/index.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { studioHome } from '../io/paths.js';
import { PROJECT_FILE } from './store.js';

const RecentFile = z.object({ projects: z.array(RecentProject.omit({ available: true })) });
const MAX_RECENT = 50;

function recentPath(): string {
  return path.join(studioHome(), 'recent.json');
}

function load(): Array<Omit<RecentProject, 'available'>> {
  try {
    const parsed = RecentFile.safeParse(JSON.parse(readFileSync(recentPath(), 'utf8')));
    return parsed.success ? parsed.data.projects : [];
  } catch {
    return [];
  }
}

function save(projects: Array<Omit<RecentProject, 'available'>>): void {
  mkdirSync(studioHome(), { recursive: true });
  writeFileAtomicSync(recentPath(), `${JSON.stringify({ projects: projects.slice(0, MAX_RECENT) }, null, 2)}\n`);
}

/** Recently opened projects, newest first; 'available' says whether the folder still holds a project. */
export function listRecent(): RecentProject[] {
  return load().map((p) => ({ ...p, available: existsSync(path.join(p.dir, PROJECT_FILE)) }));
}

export function rememberProject(dir: string, name: string): void {
  const rest = load().filter((p) => p.dir !== dir);
  save([{ dir, name, openedAt: new Date().toISOString() }, ...rest]);
}

export function forgetProject(dir: string): boolean {
  const all = load();
  const rest = all.filter((p) => p.dir !== dir);
  if (rest.length !== all.length) save(rest);
  return rest.length !== all.length;
}
