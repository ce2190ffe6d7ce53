import { EXIT, type CliIo } from '../io.ts';
import { exitCodeOf } from '../errors.ts';
import { parseSwitchArgs } from './kill-flags.ts';
import { KILL_HELP } from './kill-help.ts';
import { defaultSwitchDeps, runSwitch, type SwitchDeps } from './kill-run.ts';

export { KILL_HELP } from './kill-help.ts';

/** `portcullis kill TARGET --reason TEXT`: engage a kill switch annotation. */
export function runKill(args: readonly string[], io: CliIo, deps = defaultSwitchDeps): Promise<number> {
  return exitCodeOf('kill', io.err, async () => {
    const options = parseSwitchArgs('kill', args);
    if (options === 'help') {
      io.out(KILL_HELP);
      return EXIT.ok;
    }
    return runSwitch(options, io, deps satisfies SwitchDeps);
  });
}
