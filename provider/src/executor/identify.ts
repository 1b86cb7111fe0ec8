/**
 * Which directory a container reference names on this host. Two spellings of one lxcPath (a symlinked
 * /var/lib/lxc, written out or not) name one container: the Pulumi diff asks this before it calls a new
 * spelling a new place, since a replacement there would delete the rootfs it then recreates.
 */
import { promises as fs } from "fs";
import { ContainerRef } from "../model/requests";
import { ContainerIdentity } from "../model/results";
import { resolveContainer } from "./context";

export async function identify(ref: ContainerRef): Promise<ContainerIdentity> {
  const { containerDir } = await resolveContainer(ref);
  const st = await fs.stat(containerDir).catch(() => null);
  return { containerDir, dev: st?.dev ?? null, ino: st?.ino ?? null };
}
