import { fileURLToPath } from 'node:url';
import type { SdkServerSpec } from '../spec.ts';

// Nothing to build: the servers run from the repository on this Node, which runs .ts natively, with
// the SDK from node_modules.
function nodeScript(name: string, file: string): SdkServerSpec {
  const script = fileURLToPath(new URL(file, import.meta.url));
  return { name, prepare: () => Promise.resolve([process.execPath, script]) };
}

/** The SDK's examples' style: express + express.json() (body-parser) in front of the transport. */
export const expressSpec = nodeScript('typescript-express', './express-server.ts');

/** The SDK's transport on plain node:http, reading the body itself. */
export const nodeHttpSpec = nodeScript('typescript-node-http', './node-http-server.ts');
