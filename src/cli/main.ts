/** Entry point of the `pita` command (placeholder until the commands land). */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.length === 0) {
    console.log('usage: pita <command> [options]');
    return 0;
  }
  return 0;
}
