import { EXIT, type CliIo } from '../io.ts';
import { exitCodeOf } from '../errors.ts';
import { parseSwitchArgs } from './kill-flags.ts';
import { RELEASE_HELP } from './kill-help.ts';
import { defaultSwitchDeps, runSwitch } from './kill-run.ts';

export { RELEASE_HELP } from './kill-help.ts';

/** `portcullis release TARGET`: remove a kill switch annotation. */
export function runRelease(args: readonly string[], io: CliIo, deps = defaultSwitchDeps): Promise<number> {
  return exitCodeOf('release', io.err, async () => {
    const options = parseSwitchArgs('release', args);
    if (options === 'help') {
      io.out(RELEASE_HELP);
      return EXIT.ok;
    }
    return runSwitch(options, io, deps);
  });
}
