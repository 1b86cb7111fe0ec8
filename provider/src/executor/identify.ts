/**
 * Which directory a container reference names on this host. Two spellings of one lxcPath (a symlinked
 * /var/lib/lxc, a trailing `..` resolved away) name one container: the Pulumi diff asks this before it
 * calls a new spelling a new place, since a replacement there would delete the rootfs it then recreates.
 */
import { promises as fs } from "fs";
import path from "path";
import { ContainerRef, containerDirOf } from "../model/requests";
import { ContainerIdentity } from "../model/results";

/** The path with every existing ancestor resolved through its symlinks; the missing rest is kept as written. */
async function resolvedPath(p: string): Promise<string> {
  const missing: string[] = [];
  let at = path.resolve(p);
  for (;;) {
    try {
      return path.join(await fs.realpath(at), ...missing.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== "ENOENT" && code !== "ENOTDIR") || path.dirname(at) === at) throw e;
      missing.push(path.basename(at));
      at = path.dirname(at);
    }
  }
}

export async function identify(ref: ContainerRef): Promise<ContainerIdentity> {
  const containerDir = await resolvedPath(containerDirOf(ref));
  const st = await fs.stat(containerDir).catch(() => null);
  return { containerDir, dev: st?.dev ?? null, ino: st?.ino ?? null };
}
