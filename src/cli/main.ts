import { Command, CommanderError } from 'commander';
import { InterruptedError, NonFiniteError, UserError } from '../core/errors.js';
import { registerEnergyCommand } from './energy.js';
import { registerSampleCommand } from './sample.js';
import { registerEvalCommand } from './eval.js';
import { registerTargetsCommand } from './targets.js';
import { registerMdCommand } from './md.js';
import { registerRunCommand } from './run.js';
import { registerReportCommand } from './report.js';
import { registerServeCommand } from './serve.js';
import { registerBenchCommand } from './bench.js';
import { releaseAllLocks } from '../io/lock.js';

/** Builds the `pita` command tree. Commands are thin: parse, validate, call the library. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('pita')
    .description('Boltzmann sampling with Progressive Inference-Time Annealing, plus classical baselines')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerTargetsCommand(program);
  registerEnergyCommand(program);
  registerSampleCommand(program);
  registerEvalCommand(program);
  registerMdCommand(program);
  registerRunCommand(program);
  registerReportCommand(program);
  registerServeCommand(program);
  registerBenchCommand(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code. User errors print one line on
 * stderr (no stack trace) and give exit code 2; a run stopped by Ctrl-C or
 * SIGTERM (interrupt.ts) says how to continue and gives 130, as a shell
 * does for Ctrl-C; anything else is a bug (or the machine ran out of memory)
 * and prints one line with exit code 1; the stack follows only with
 * PITA_DEBUG=1.
 */
export async function main(argv: string[]): Promise<number> {
  // Run-directory locks go with the process, however it ends short of a kill (installed once per process).
  if (!process.listeners('exit').includes(releaseAllLocks)) process.on('exit', releaseAllLocks);
  const program = buildProgram();
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message; help and version exit 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof InterruptedError) {
      console.error(`pita: ${err.message}`);
      return 130;
    }
    if (err instanceof UserError || err instanceof NonFiniteError) {
      console.error(`pita: error: ${err.message}`);
      return 2;
    }
    // By name, not instanceof: importing src/tensor would load the tensor engine for every command.
    if (err instanceof Error && err.name === 'GpuError') {
      // The GPU refused work (a limit, its memory) or was lost: nothing after it was written as a result.
      console.error(`pita: error: ${err.message} (${gpuAdvice(err.message)}checkpoints so far are kept; --device cpu runs without the GPU)`);
      return 1;
    }
    if (err instanceof Error && err.name === 'WasmHeapError') {
      // Out of tensor memory: the message says which setting to lower; checkpoints so far are kept.
      console.error(`pita: error: ${err.message}`);
      return 1;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    console.error(`pita: internal error: ${e.message.split('\n')[0]} (a bug; rerun with PITA_DEBUG=1 for the stack trace)`);
    if (process.env.PITA_DEBUG) console.error(e.stack);
    return 1;
  }
}

/**
 * What to try when the GPU refused a step for its size (a buffer over the device's binding or buffer limit,
 * or its memory): fewer rows per step, which a captured step then records at that size. '' otherwise.
 */
export function gpuAdvice(message: string): string {
  return /binding size|buffer size|memory|allocat/i.test(message)
    ? 'a smaller training.microBatchSize (training) or annealing.chunkSize (annealing) needs less GPU memory per step; '
    : '';
}
