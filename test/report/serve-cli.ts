/**
 * `pita serve` as its own process for the live-update test: the serve
 * command on a bare commander program (the same registration main.ts uses).
 * Usage: node --import tsx test/report/serve-cli.ts <runsDir> --port 0
 */
import { Command } from 'commander';
import { registerServeCommand } from '../../src/cli/serve.js';

const program = new Command().name('pita');
registerServeCommand(program);
await program.parseAsync(['serve', ...process.argv.slice(2)], { from: 'user' });
