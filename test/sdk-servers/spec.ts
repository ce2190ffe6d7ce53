/** How to build (once, cached outside the repo) and start one SDK server of the differential fuzzer. */
export interface SdkServerSpec {
  /** `typescript-express`, `typescript-node-http`, `python`, `go`, `rust` or `java`. */
  readonly name: string;
  /** Builds what is missing into the cache and returns the argv to start the server (before `--port`/`--log`). */
  prepare(cacheDir: string): Promise<readonly string[]>;
}
