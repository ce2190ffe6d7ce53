import type { Bundle } from '../../policy/bundle.ts';
import type { PinningMode } from './observed-tools.ts';

/** spec.tools.pinning, or Enforce when pins are given without a mode, else Disabled. */
export function pinningMode(tools: Bundle['spec']['tools']): PinningMode {
  return tools?.pinning ?? ((tools?.pins ?? []).length > 0 ? 'Enforce' : 'Disabled');
}
