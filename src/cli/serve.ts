import type { Command } from 'commander';
import { startServer } from '../report/serve.js';
import { parseCount } from './options.js';

interface ServeCliOptions {
  port: number;
  host: string;
}

/** `pita serve`: a local dashboard listing runs, with live pages for active ones. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('local web dashboard of the runs in a folder; a run page updates live while the run trains and anneals')
    .argument('[runsDir]', 'folder whose subdirectories are runs', 'runs')
    .option('--port <P>', 'TCP port (0: any free port)', parseCount('--port', 0), 8080)
    .option('--host <address>', 'address to bind; anything but 127.0.0.1 exposes your runs to the network', '127.0.0.1')
    .action((runsDir: string, opts: ServeCliOptions) => serve(runsDir, opts));
}

/** Serves until SIGINT or SIGTERM. */
async function serve(runsDir: string, opts: ServeCliOptions): Promise<void> {
  const server = await startServer({ runsDir, port: opts.port, host: opts.host });
  console.log(`pita serve: ${server.url} (runs in ${runsDir}); Ctrl-C to stop`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
