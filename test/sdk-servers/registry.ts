import { spec as goSpec } from './go/launch.ts';
import { spec as javaSpec } from './java/launch.ts';
import { spec as pythonSpec } from './python/launch.ts';
import { spec as rustSpec } from './rust/launch.ts';
import type { SdkServerSpec } from './spec.ts';
import { expressSpec, nodeHttpSpec } from './typescript/launch.ts';

/** Every SDK server of the differential fuzzer, one entry per launch.ts. */
export const SDK_SERVER_SPECS: readonly SdkServerSpec[] = [
  expressSpec,
  nodeHttpSpec,
  pythonSpec,
  goSpec,
  rustSpec,
  javaSpec,
];
