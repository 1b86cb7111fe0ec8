#!/usr/bin/env bash
# Usage: guest.sh [--disk SIZE]... [--] CMD [ARG...]
# Boots Debian's own kernel in a KVM guest (scripts/setup-guest.sh prepares it) and runs CMD there as root;
# CMD's stdout, stderr and exit status are this command's own. The guest's root is the host's, read-only
# under a tmpfs overlay, and this checkout is shared writable at its own path, so the same Node,
# node_modules and build run inside (its node_modules and dist read-only, but for jest's cache in
# node_modules/.cache/jest-guest). CMD runs in the caller's working directory with the caller's
# environment and no stdin. Each --disk SIZE (bytes or K, M, G, T) is a blank sparse virtio disk, in order
# /dev/vdb, /dev/vdc, …: /dev/vda is a 1 MiB read-only placeholder, so that the first disk is vdb; they are
# also /dev/disk/by-id/virtio-disk1, virtio-disk2, ….
# Exits with CMD's status; 124 when CMD was still running GUEST_TIMEOUT seconds (300) after it started and
# the guest was killed; 125 when the guest failed before CMD's status came back; 2 for bad usage. On 124
# and 125 the console log's path and tail are printed (logs are kept in
# ${TMPDIR:-/tmp}/pulumi-lxc-guest-logs, the newest 50).
# A boot that has not started CMD within GUEST_BOOT_TIMEOUT seconds (180 under TCG, 60 with KVM) is
# killed and the machine booted again, up to GUEST_BOOT_TRIES boots (3): CMD has not run, so nothing is
# lost. Each stalled boot's console log is kept and named on stderr; after the last, the exit is 125.
# GUEST_MEMORY (2G) and GUEST_CPUS (2) size the machine. GUEST_TEST_STALLS=N (0) makes the first N boots
# stall on purpose just before CMD, for the harness's own tests.
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd -P)

usage() {
  echo "usage: guest.sh [--disk SIZE]... [--] CMD [ARG...]" >&2
  exit 2
}

disks=()
while [ $# -gt 0 ]; do
  case $1 in
    --disk) [ $# -ge 2 ] || usage; disks+=("$2"); shift 2 ;;
    --disk=*) disks+=("${1#--disk=}"); shift ;;
    --) shift; break ;;
    -*) echo "guest: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || usage
for size in "${disks[@]}"; do
  [[ $size =~ ^[1-9][0-9]*[KMGT]?$ ]] || { echo "guest: --disk $size: a size is a number of bytes, or a number with K, M, G or T" >&2; exit 2; }
done
timeout_s=${GUEST_TIMEOUT:-300}
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || { echo "guest: GUEST_TIMEOUT=$timeout_s: a number of seconds" >&2; exit 2; }
boot_timeout_s=${GUEST_BOOT_TIMEOUT:-} # its default depends on the accelerator, chosen below
[[ $boot_timeout_s =~ ^([1-9][0-9]*)?$ ]] || { echo "guest: GUEST_BOOT_TIMEOUT=$boot_timeout_s: a number of seconds" >&2; exit 2; }
tries=${GUEST_BOOT_TRIES:-3}
[[ $tries =~ ^[1-9][0-9]*$ ]] || { echo "guest: GUEST_BOOT_TRIES=$tries: a number of boots, 1 or more" >&2; exit 2; }
stalls=${GUEST_TEST_STALLS:-0}
[[ $stalls =~ ^(0|[1-9][0-9]*)$ ]] || { echo "guest: GUEST_TEST_STALLS=$stalls: a number of boots, 0 or more" >&2; exit 2; }
# The path goes on the kernel command line and into qemu's comma-separated options.
[[ $checkout =~ ^[A-Za-z0-9._/+-]+$ ]] || { echo "guest: the checkout's path $checkout has characters the guest cannot be given" >&2; exit 2; }

# setup-guest.sh's stdout is exactly the kernel image and the initramfs, one a line; anything else is its
# bug, said here rather than as a qemu that cannot open a file named by some tool's progress line.
setup=$(bash "$checkout/scripts/setup-guest.sh")
mapfile -t paths <<<"$setup"
if [ ${#paths[@]} -ne 2 ] || [ ! -f "${paths[0]}" ] || [ ! -f "${paths[1]}" ]; then
  echo "guest: scripts/setup-guest.sh printed something other than the kernel image and the initramfs, one a line:" >&2
  sed 's/^/  /' <<<"$setup" >&2
  exit 125
fi
kernel=${paths[0]} initramfs=${paths[1]}

logs="${TMPDIR:-/tmp}/pulumi-lxc-guest-logs"
mkdir -p "$logs"
# Logs of earlier runs beyond the newest 50 go.
find "$logs" -maxdepth 1 -name '*.log' -printf '%T@ %p\n' | sort -rn | tail -n +51 | cut -d' ' -f2- | xargs -r rm -f --

# Scratch directories (the disks, the I/O share) of runs that were killed before they could clean up.
for dir in "${TMPDIR:-/tmp}"/pulumi-lxc-guest.*; do
  [ -f "$dir/pid" ] && ! kill -0 "$(cat "$dir/pid")" 2>/dev/null && rm -rf "$dir"
done
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pulumi-lxc-guest.XXXXXX")
echo $$ >"$scratch/pid"
qemu_pid= tails=()
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  [ ${#tails[@]} -gt 0 ] && kill "${tails[@]}" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What stage2.sh runs: argv and environment NUL-separated, as given. stage2.sh adds `started` just before
# it runs the command, and `status` (or `error`, when it could not) at the end.
io="$scratch/io"
mkdir "$io"
printf '%s\0' "$@" >"$io/argv"
env -0 >"$io/environ"
pwd -P >"$io/cwd"

drive() { # FILE SERIAL [OPTIONS]
  echo "-drive file=$1,if=none,id=$2,format=raw,cache=unsafe,discard=unmap${3:+,$3}"
  echo "-device virtio-blk-pci,drive=$2,serial=$2"
}
truncate -s 1M "$scratch/reserved.img"
drives=($(drive "$scratch/reserved.img" reserved readonly=on))
n=0
for size in "${disks[@]}"; do
  n=$((n + 1))
  drives+=($(drive "$scratch/disk$n.img" "disk$n"))
done

# KVM when it can run Debian's kernel. A KVM that is PVM (kvm_pvm: shadow paging in software, for
# machines without VMX or SVM) runs only kernels built as PVM guests, and Debian's hangs in early boot
# there: TCG then, as without /dev/kvm. GUEST_ACCEL=kvm or tcg overrides the choice.
accel_name=${GUEST_ACCEL:-}
if [ -z "$accel_name" ]; then
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "guest: /dev/kvm is missing, running the guest under TCG (emulated, many times slower)" >&2
    accel_name=tcg
  elif [ -d /sys/module/kvm_pvm ]; then
    echo "guest: this machine's KVM is PVM (kvm_pvm), which boots only PVM guest kernels; running the guest under TCG (emulated, many times slower)" >&2
    accel_name=tcg
  else
    accel_name=kvm
  fi
fi
# A boot reaches the command in about 15 s under TCG and 5 s with KVM; the defaults leave room for a
# loaded machine, not for a hang (one stopped 1.4 s into the kernel once, and would have held CI for
# GUEST_TIMEOUT).
case $accel_name in
  kvm) accel=(-enable-kvm -cpu host) boot_timeout_s=${boot_timeout_s:-60} ;;
  tcg) accel=(-accel tcg,thread=multi -cpu max) boot_timeout_s=${boot_timeout_s:-180} ;;
  *) echo "guest: GUEST_ACCEL=$accel_name: kvm or tcg" >&2; exit 2 ;;
esac
share() { # TAG PATH [OPTIONS]
  echo "-fsdev local,id=$1,path=$2,security_model=none,multidevs=remap${3:+,$3}"
  echo "-device virtio-9p-pci,fsdev=$1,mount_tag=$1"
}

stop_qemu() { # TERM first, as a host's shutdown would; KILL after 5 s
  kill -TERM "$qemu_pid" 2>/dev/null || return 0
  local i
  for i in $(seq 25); do
    kill -0 "$qemu_pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$qemu_pid" 2>/dev/null || true
}

# One boot, with a console log of its own ($log). Sets outcome: `exited` (the guest powered off, or qemu
# failed), `stalled` (no command GUEST_BOOT_TIMEOUT seconds after qemu started), `timeout` (the command
# still running GUEST_TIMEOUT seconds after it started); rc (qemu's status) and console_tail.
boot() { # TRY
  local try=$1 cmdline="console=ttyS0 panic=-1 apparmor=0 guest_checkout=$checkout"
  [ "$try" -le "$stalls" ] && cmdline+=" guest_test_stall"
  log="$logs/$(date +%Y%m%d-%H%M%S)-$$-boot$try.log"
  : >"$log" # qemu writes the console here; a qemu that could not start leaves it empty
  # A boot starts from what the caller gave: the command never ran in a stalled one, but nothing else it
  # may have left is carried over either.
  rm -f "$io/started" "$io/status" "$io/status.tmp" "$io/error" "$io/dmesg"
  : >"$io/stdout"
  : >"$io/stderr"
  local n=0 size
  for size in "${disks[@]}"; do
    n=$((n + 1))
    rm -f "$scratch/disk$n.img"
    truncate -s "$size" "$scratch/disk$n.img"
  done

  # apparmor=0: Debian's kernel enables AppArmor, and LXC then wants apparmor_parser and securityfs, which
  # this machine (whose root the guest runs) has neither of.
  qemu-system-x86_64 \
    -nodefaults -no-user-config -display none -no-reboot \
    -machine pc "${accel[@]}" -smp "${GUEST_CPUS:-2}" -m "${GUEST_MEMORY:-2G}" \
    -kernel "$kernel" -initrd "$initramfs" \
    -append "$cmdline" \
    -serial "file:$log" \
    $(share hostroot / readonly=on) $(share checkout "$checkout") $(share io "$io") \
    "${drives[@]}" \
    </dev/null >"$scratch/qemu.out" 2>&1 &
  qemu_pid=$!

  # The command's output as it comes (9p writes reach these files at once); tail's last read follows qemu's exit.
  tail -c +1 -s 0.1 -f --pid="$qemu_pid" "$io/stdout" &
  tails+=($!)
  tail -c +1 -s 0.1 -f --pid="$qemu_pid" "$io/stderr" >&2 &
  tails+=($!)

  # The watchdog. Until the command starts, the boot has GUEST_BOOT_TIMEOUT; from then on the command has
  # GUEST_TIMEOUT. A guest that wrote `error` is powering itself off, and gets the boot's time to do so.
  local boot_started=$SECONDS boot_deadline=$((SECONDS + boot_timeout_s)) command_deadline=
  outcome=exited
  while kill -0 "$qemu_pid" 2>/dev/null; do
    if [ -z "$command_deadline" ]; then
      if [ -e "$io/started" ]; then
        command_deadline=$((SECONDS + timeout_s))
        echo "--- boot $try reached the command about $((SECONDS - boot_started)) s after qemu started" >"$scratch/reached"
      elif [ "$SECONDS" -ge "$boot_deadline" ]; then
        outcome=stalled
        break
      fi
    elif [ "$SECONDS" -ge "$command_deadline" ]; then
      outcome=timeout
      break
    fi
    sleep 0.2
  done
  [ "$outcome" = exited ] || stop_qemu
  rc=0
  wait "$qemu_pid" || rc=$?
  qemu_pid=
  wait "${tails[@]}" || true # a tail that failed has already said why on stderr
  tails=()

  # Where the guest stopped, before the log gets the rest of what tells how the boot went: when it
  # reached the command, qemu's own messages, and the kernel's whole log as the guest saw it at the end.
  console_tail=$(tail -n 20 "$log" | tr -d '\r') # a serial console ends its lines with CR LF
  [ -f "$scratch/reached" ] && cat "$scratch/reached" >>"$log" && rm "$scratch/reached"
  [ -s "$scratch/qemu.out" ] && { echo "--- qemu's output"; cat "$scratch/qemu.out"; } >>"$log"
  [ -f "$io/dmesg" ] && { echo "--- dmesg at exit"; cat "$io/dmesg"; } >>"$log"
  return 0
}

explain() {
  echo "guest: $1; the console log (kept): $log; where the console stopped:" >&2
  sed 's/^/  /' <<<"$console_tail" >&2
  if [ -s "$scratch/qemu.out" ]; then
    echo "guest: qemu's output:" >&2
    sed 's/^/  /' "$scratch/qemu.out" >&2
  fi
}

# Only a stalled boot is tried again: its command never started, so running it now is its first run. A
# guest that stopped by itself or said why (`error`) most likely met what a new boot would meet again, and
# one that ran out of GUEST_TIMEOUT has run the command.
for try in $(seq "$tries"); do
  boot "$try"
  if [ -f "$io/status" ]; then
    exit "$(cat "$io/status")"
  elif [ "$outcome" = timeout ]; then
    explain "the command was still running GUEST_TIMEOUT=${timeout_s}s after it started, and the guest was killed"
    exit 124
  elif [ -f "$io/error" ]; then
    explain "the guest failed before running the command: $(cat "$io/error")"
    exit 125
  elif [ "$outcome" = exited ]; then
    explain "the guest stopped without the command's exit status (qemu exited $rc)"
    exit 125
  elif [ "$try" -lt "$tries" ]; then
    echo "guest: boot $try of $tries did not reach the command within GUEST_BOOT_TIMEOUT=${boot_timeout_s}s and was killed; its console log (kept): $log, which stopped at: $(tail -n 1 <<<"$console_tail"); booting again" >&2
  fi
done
explain "no boot reached the command within GUEST_BOOT_TIMEOUT=${boot_timeout_s}s, in GUEST_BOOT_TRIES=$tries tries"
exit 125
