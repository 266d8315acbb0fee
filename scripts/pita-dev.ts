// Runs the CLI from the TypeScript sources (development): node --import tsx scripts/pita-dev.ts <args>
import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
