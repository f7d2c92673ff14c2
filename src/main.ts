// berth's entry point. The libuv thread pool serves file I/O and fsync; the default of 4 threads
// would queue concurrent blob writes behind each other, so it is widened before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { main } = await import('./cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
