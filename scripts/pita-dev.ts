// Runs the CLI from the TypeScript sources (development): node --import tsx scripts/pita-dev.ts <args>
import { main } from '../src/cli/main.js';

// Errors main() does not handle are printed here (an unhandled rejection would surface through the wasm runtime's handler).
process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  return 1;
});
