// berth's entry point.
//
// `berth serve` re-executes itself once (process.execve keeps the pid) with memory settings that
// only take effect at process start: glibc's malloc limited to two arenas (its default of one per
// thread keeps freed socket buffers resident) and a small V8 young generation, so that the short
// lived buffers of streamed blobs are collected sooner. See docs/adr/0006-memory.md.
// BERTH_NO_REEXEC=1 skips this.
const SEMI_SPACE = '--max-semi-space-size=2';
if (process.argv[2] === 'serve' && process.env.BERTH_NO_REEXEC === undefined && process.env.BERTH_REEXECED === undefined && typeof process.execve === 'function') {
  const flags = process.execArgv.some((a) => a.startsWith('--max-semi-space-size')) ? [] : [SEMI_SPACE];
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], {
    ...process.env,
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    BERTH_REEXECED: '1',
  });
}
// The libuv thread pool serves file I/O and fsync; the default of 4 threads would queue concurrent
// blob writes behind each other, so it is widened before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
