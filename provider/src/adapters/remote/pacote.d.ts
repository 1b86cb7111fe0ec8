/** The part of pacote (npm's fetcher, untyped) that runtime.ts uses. */
declare module "pacote" {
  export function tarball(spec: string, options?: { integrity?: string; resolved?: string; cache?: string }): Promise<Buffer>;
}
