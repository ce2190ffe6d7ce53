/**
 * `portcullis demo` and `dev` need oidc-provider, a dev dependency: they work from a source checkout
 * (npm ci), not from an image built with production dependencies only. Says so instead of a stack trace.
 */
export async function missingDevDependency(): Promise<string | undefined> {
  // A non-literal specifier keeps TypeScript from looking for declarations the package does not have.
  const name: string = 'oidc-provider';
  try {
    await import(name);
    return undefined;
  } catch {
    return `the demo identity provider needs the npm package ${name}, a dev dependency: run it from a source checkout after 'npm ci' (or 'make install')`;
  }
}
