import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { isMap, parseAllDocuments } from 'yaml';
import { KILL_REASON, KILL_SWITCH } from '../../api/v1alpha1/annotations.ts';

/**
 * The kill switch without a cluster: the same annotation `portcullis kill` (or kubectl annotate) sets
 * on the McpServer, written into the YAML file the sidecar watches. Comments and layout are kept; the
 * file is replaced in one rename, so the sidecar never reads half of it.
 */
export function setKillSwitch(
  dir: string,
  server: { readonly namespace: string; readonly name: string },
  state: { readonly engaged: true; readonly reason: string } | { readonly engaged: false },
): string {
  const path = serverFile(dir, server);
  const documents = parseAllDocuments(readFileSync(path, 'utf8'));
  for (const document of documents) {
    const object = document.toJS() as {
      kind?: string;
      metadata?: { name?: string; namespace?: string };
    } | null;
    if (!isServer(object, server)) continue;
    if (state.engaged) {
      document.setIn(['metadata', 'annotations', KILL_SWITCH], 'true');
      document.setIn(['metadata', 'annotations', KILL_REASON], state.reason);
    } else {
      document.deleteIn(['metadata', 'annotations', KILL_SWITCH]);
      document.deleteIn(['metadata', 'annotations', KILL_REASON]);
      const annotations = document.getIn(['metadata', 'annotations']);
      if (isMap(annotations) && annotations.items.length === 0)
        document.deleteIn(['metadata', 'annotations']);
    }
  }
  // A name the sidecar does not read (*.yaml only), in the same directory so the rename is atomic.
  const staging = join(dir, `.${basename(path)}.tmp`);
  // Each document after the first keeps its own '---' marker.
  writeFileSync(
    staging,
    documents.map((document) => document.toString({ flowCollectionPadding: false })).join(''),
  );
  renameSync(staging, path);
  return path;
}

function serverFile(dir: string, server: { readonly namespace: string; readonly name: string }): string {
  for (const name of readdirSync(dir).sort()) {
    if (!['.yaml', '.yml'].includes(extname(name))) continue;
    const path = join(dir, name);
    if (parseAllDocuments(readFileSync(path, 'utf8')).some((document) => isServer(document.toJS(), server)))
      return path;
  }
  throw new Error(`no file in ${dir} holds McpServer ${server.namespace}/${server.name}`);
}

function isServer(
  object: { kind?: string; metadata?: { name?: string; namespace?: string } } | null,
  server: { readonly namespace: string; readonly name: string },
): boolean {
  return (
    object?.kind === 'McpServer' &&
    object.metadata?.name === server.name &&
    (object.metadata.namespace ?? 'default') === server.namespace
  );
}
