import { processOutput } from './output.ts';
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv, { output: processOutput(), env: process.env });
// The command is over. A failed server start leaves the server's timers behind
// (startServer does not close what it opened), so do not wait for them.
setTimeout(() => process.exit(), 500).unref();
