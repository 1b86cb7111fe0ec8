/**
 * What an unpack checks so that none of an image's ACLs and xattrs is lost unsaid. GNU tar and umoci both
 * warn and exit 0 when the filesystem refuses one (some keep no POSIX ACLs: see host/acls.ts), and tar
 * when an ACL names a user the host lacks; the unpack then fails, and its new store is removed: the host
 * is as it was.
 */
import { RootfsError } from "../model/errors";
import { aclFormsOf, CompressionName, TAR_NOT_KEPT } from "../host/archive";
import { lineSplitter } from "../host/run";
import { OpContext } from "../drivers/types";

/** umoci's warnings (shown from --log=warn) for an xattr, an ACL among them, it did not set; after the first in a layer it says no more. */
const UMOCI_NOT_KEPT = /ignoring ENOTSUP on (setxattr|clearxattrs)|destination filesystem does not support xattrs/;

/** An xattr or ACL of the image that the unpack did not keep, as the tool said it. */
export class XattrNotKept extends RootfsError {
  constructor(said: string) {
    super(`the new rootfs did not keep an xattr or ACL of the image, so it would be lost (${said.trim()}). Nothing was changed.`);
  }
}

/**
 * Watches a tool's stderr, line by line as it comes (its collected stderr keeps only the last 64 KiB), for
 * the first line that says something was not kept.
 */
export function notKeptWatcher(tool: "tar" | "umoci"): { onStderr(chunk: Buffer): void; failure(): XattrNotKept | null } {
  const pattern = tool === "tar" ? TAR_NOT_KEPT : UMOCI_NOT_KEPT;
  let first: string | null = null;
  return {
    onStderr: lineSplitter((line) => {
      if (first === null && pattern.test(line)) first = line;
    }),
    failure: () => (first === null ? null : new XattrNotKept(first)),
  };
}

/** Refuses a tarball with ACLs, in either form, for a tree whose filesystem keeps none, naming how many and the first. */
export async function refuseLostAcls(ctx: OpContext, file: string, compression: CompressionName): Promise<void> {
  const forms = await aclFormsOf(ctx.run, file, compression);
  const count = forms.records + forms.xattrOnly;
  if (count === 0) return;
  throw new RootfsError(
    `the image gives ${count} files POSIX ACLs (the first: ${forms.firstRecord ?? forms.firstXattrOnly}), and the filesystem of the new rootfs keeps none, so they would be lost. Nothing was changed.`,
  );
}
