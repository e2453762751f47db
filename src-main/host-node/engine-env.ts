/**
 * The environment an engine process starts with: the CLI's and serve's child (engine-process.ts), the desktop app's
 * utility process (electron/main.ts) and the bench's phases, which run the engine's jobs in their own process.
 *
 * It adds two glibc tunables (Linux; other C libraries and systems ignore them). glibc.malloc.hugetlb=1: malloc asks
 * the kernel for transparent huge pages for its large blocks (glibc 2.35 and later). The engine touches a lot of
 * fresh memory (an onnxruntime session copies a 40 MB generator two or three times, model files are read whole), and
 * on a virtual machine the first touch of each 4 kB page is costly: ~2.5 ms a MB here, ~1.3 with the tunable. The
 * sample clip's conversion used ~6 % less CPU with it and ran 33.3 -> 35.4 frames/s (four alternated runs).
 * glibc.malloc.arena_max=1: every thread allocates from the main arena. A thread's own arena is a heap glibc grows
 * 4 kB page by page, without huge pages, and the model workers (worker threads) load their sessions there: a
 * conversion of the sample clip faulted ~282k pages with one arena a thread and ~160k with one arena (peak memory
 * ~1070 -> ~1000 MB, system CPU 3.2-3.7 -> 2.8-3.2 s, 32.3 -> 33.0 frames/s over five alternated runs; extraction
 * 130k -> 63k pages at the same speed). The model workers allocate little while they run (onnxruntime keeps its own
 * arena), so they hardly wait on the shared one's lock. glibc reads tunables when a process starts, so a parent sets
 * them for its child. A tunable the user set in GLIBC_TUNABLES is kept as they set it.
 */
const ENGINE_TUNABLES: ReadonlyArray<readonly [string, string]> = [
  ['glibc.malloc.hugetlb', '1'],
  ['glibc.malloc.arena_max', '1'],
];

/** GLIBC_TUNABLES with the engine's tunables added to `current` (a colon-separated list of name=value). */
export function withEngineTunables(current: string | undefined): string {
  const entries = (current ?? '').split(':').filter((entry) => entry.includes('='));
  const named = new Set(entries.map((entry) => entry.slice(0, entry.indexOf('='))));
  for (const [name, value] of ENGINE_TUNABLES) if (!named.has(name)) entries.push(`${name}=${value}`);
  return entries.join(':');
}

/** `base` (the parent's environment) and `extra`, with the engine's malloc tunables. */
export function engineEnvironment(
  base: NodeJS.ProcessEnv = process.env,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const env = { ...base, ...extra };
  return { ...env, GLIBC_TUNABLES: withEngineTunables(env.GLIBC_TUNABLES) };
}
