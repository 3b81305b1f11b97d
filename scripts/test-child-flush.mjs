// Preloaded (`--import`) into every `node --test` process and, through their execArgv, every test
// file's child. With --test-force-exit a child exits as soon as its last test ends, and on Linux its
// stdout, the pipe that carries its results to the runner, is non-blocking: results still queued are
// lost (nodejs/node#64833). The runner then counts fewer tests than ran (seen here: 953 to 961 of 963
// unit tests, the tail of one file), and a failing test's name and error can be lost with them (the
// file's exit code still fails the run). Blocking writes complete before the exit, as Node itself does
// for a TTY.
for (const stream of [process.stdout, process.stderr]) stream._handle?.setBlocking?.(true);
