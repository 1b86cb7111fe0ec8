#!/usr/bin/env bash
# Usage: tree-manifest.sh ROOT
# One sorted line per path under ROOT with everything an exact unpack of an image must keep, so that two
# trees compare with a plain string equality (test/helpers/images.ts, treeManifest):
#   /path TYPE MODE UID:GID [size=] mtime= [target=] [sha256=] [rdev=MAJ,MIN] [hole=yes] [link=FIRST]
#         [acl=...] [dacl=...] [xattr=NAME=0xHEX;...] [cap=...]
# - TYPE is find's %y (f d l c b p s); MODE is octal with the setuid, setgid and sticky bits.
# - size is left out for directories: it depends on the filesystem, not on the tree.
# - hole=yes marks a file with a hole (SEEK_HOLE before its end, through xfs_io). Neither block counts nor
#   extents would do: they differ between ext4, xfs and btrfs for one tree (btrfs stores small files
#   inline; xfs preallocates past a write, and an unpacked 1 MiB extent became 1.94 MiB there).
# - link= names the first path (sorted) of a hard-link group, the inode number normalized.
# - acl=/dacl= are getfacl's access and default ACLs with numeric ids, only when not just the mode bits.
# - xattr= is getfattr's hex dump without the ACLs (above, readably): system.posix_acl_*, and xfs's own
#   trusted.SGI_ACL_* that root sees there.
# A backslash in a name is spelt \134 and a space \040; names with a newline or a tab are not
# supported. A top-level lost+found is left out: ext4 makes one, the image never has it.
set -euo pipefail
root=${1:?usage: tree-manifest.sh ROOT}
cd "$root"
export LC_ALL=C
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The walk. %b is 512-byte blocks: a file with fewer than its size is a candidate for holes.
find . -path ./lost+found -prune -o -printf '%p\t%y\t%m\t%U:%G\t%s\t%T@\t%i\t%n\t%b\t%l\n' >"$tmp/walk"
find . -path ./lost+found -prune -o -type f -exec sha256sum {} + >"$tmp/sha"
find . -path ./lost+found -prune -o \( -type c -o -type b \) -exec stat -c $'%n\t%Hr,%Lr' {} + >"$tmp/rdev"
# Only a file with fewer blocks than its size can have a hole; it has one if its first hole is before its
# end (xfs_io reports a HOLE at the end of every file).
awk -F'\t' '$2 == "f" && $5 > 0 && $9 * 512 < $5 { print $5 "\t" $1 }' "$tmp/walk" | while IFS=$'\t' read -r size f; do
  xfs_io -r -c 'seek -h 0' "$f" | awk -v f="$f" -v size="$size" '$1 == "HOLE" && $2 < size { print f }'
done >"$tmp/holes"
# -s: only the paths whose ACL says more than the mode bits. -P: never through a symlink.
getfacl -R -P -s -n . 2>/dev/null >"$tmp/acl" || true
getfattr -R -P -h -d -m - -e hex . 2>/dev/null >"$tmp/xattr" || true
getcap -r . 2>/dev/null >"$tmp/cap" || true

awk -F'\t' -v OFS=' ' '
  # A path as the manifest spells it: from the root, a backslash as \134 and a space as \040, so that a
  # line splits on spaces. getfacl prints a backslash as \\, getfattr as \134, sha256sum as \\ after a
  # leading \; find and getcap print names as they are. Each is turned back into the name, then spelt.
  function esc(p) { gsub(/\\/, "\\134", p); gsub(/ /, "\\040", p); return p }
  # find prints "." and "./name"; getfacl and getfattr print "." and "name" (relative()).
  function key(p) { sub(/^\.\/?/, "", p); return "/" esc(p) }
  function relative(p) { return p == "." ? p : "./" p }
  FILENAME ~ /sha$/ {
    escaped = sub(/^\\/, "")
    p = substr($0, 67); if (escaped) gsub(/\\\\/, "\\", p)
    sha[key(p)] = substr($0, 1, 64); next
  }
  FILENAME ~ /rdev$/ { rdev[key($1)] = $2; next }
  FILENAME ~ /holes$/ { hole[key($0)] = 1; next }
  FILENAME ~ /acl$/ {
    if (/^# file: /) { p = substr($0, 9); gsub(/\\\\/, "\\", p); p = key(relative(p)); next }
    if (/^#/ || $0 == "") next
    sub(/\t.*/, "") # the "#effective:" remark: the mask entry says it
    # (the left side of an assignment exists before its right side runs: hence the temporaries)
    if (/^default:/) { v = (p in dacl ? dacl[p] "," : "") substr($0, 9); dacl[p] = v }
    else { v = (p in acl ? acl[p] "," : "") $0; acl[p] = v }
    next
  }
  FILENAME ~ /xattr$/ {
    if (/^# file: /) { p = substr($0, 9); gsub(/\\134/, "\\", p); p = key(relative(p)); next }
    if ($0 == "" || /^system\.posix_acl_|^trusted\.SGI_ACL_/) next
    v = (p in xattr ? xattr[p] ";" : "") $0; xattr[p] = v
    next
  }
  FILENAME ~ /cap$/ {
    c = $0; sub(/ [^ ]*$/, "", c); cap[key(c)] = substr($0, length(c) + 2); next
  }
  {
    p = key($1); type = $2; mtime = $6; sub(/\..*/, "", mtime)
    line = p OFS type OFS sprintf("%04o", strtonum_octal($3)) OFS $4
    if (type != "d") line = line OFS "size=" $5
    line = line OFS "mtime=" mtime
    if (type == "l") line = line OFS "target=" esc($10)
    if (p in sha) line = line OFS "sha256=" sha[p]
    if (p in rdev) line = line OFS "rdev=" rdev[p]
    if (p in hole) line = line OFS "hole=yes"
    if (type != "d" && $8 > 1) { if (!($7 in first)) first[$7] = p; line = line OFS "link=" first[$7] }
    if (p in acl) line = line OFS "acl=" acl[p]
    if (p in dacl) line = line OFS "dacl=" dacl[p]
    if (p in xattr) line = line OFS "xattr=" xattr[p]
    if (p in cap) line = line OFS "cap=" cap[p]
    print line
  }
  function strtonum_octal(s,   n, i) { n = 0; for (i = 1; i <= length(s); i++) n = n * 8 + substr(s, i, 1); return n }
' "$tmp/sha" "$tmp/rdev" "$tmp/holes" "$tmp/acl" "$tmp/xattr" "$tmp/cap" <(sort -t "$(printf '\t')" -k1,1 "$tmp/walk")
