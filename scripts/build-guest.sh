#!/usr/bin/env bash
# Builds a tiny bootable Linux guest for the qemu driver tests, from Debian packages that are
# downloaded and unpacked but never installed: a Debian kernel plus a busybox initramfs whose
# /init prints GUEST-READY on ttyS0, runs acpid (ACPI power button -> poweroff -f) and keeps a
# shell on the serial console. Each virtio NIC asks for an address over DHCP (udhcpc, in the
# background so GUEST-READY is not delayed) and the lease is recorded in /run/dhcp.<iface>.
#
# Usage: scripts/build-guest.sh [OUT_DIR]   (default guest/build/)
# Output: OUT_DIR/vmlinuz, OUT_DIR/initrd.gz, OUT_DIR/cmdline. Idempotent: a finished build
# (stamp file matching this recipe's version) is reused; concurrent callers serialise on a lock.
set -euo pipefail

GUEST_RECIPE_VERSION=6
OUT="${1:-guest/build}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
STAMP="$OUT/.built-v$GUEST_RECIPE_VERSION"

exec 9>"$OUT/.lock"
flock -w 600 9

if [[ -f "$STAMP" && -f "$OUT/vmlinuz" && -f "$OUT/initrd.gz" ]]; then
  echo "guest already built in $OUT"
  exit 0
fi

WORK="$OUT/work"
rm -rf "$WORK"
mkdir -p "$WORK/debs"
cd "$WORK/debs"

# The meta package points at the current ABI (e.g. linux-image-6.1.0-56-amd64).
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
KPKG="$(kernel_pkg)"
if [[ -z "$KPKG" ]]; then
  apt-get update -qq
  KPKG="$(kernel_pkg)"
fi
[[ -n "$KPKG" ]] || { echo "cannot resolve the linux-image package behind linux-image-amd64" >&2; exit 1; }

# apt-get download warns when _apt cannot write here; that is harmless.
apt-get download -qq "$KPKG" busybox-static 2>&1 | grep -v 'unsandboxed as root' || true
ls ./*.deb >/dev/null

dpkg-deb -x "$(ls "$KPKG"_*.deb)" "$WORK/kernel"
dpkg-deb -x "$(ls busybox-static_*.deb)" "$WORK/busybox"

KVER="$(ls "$WORK/kernel/lib/modules")"
MODDIR="$WORK/kernel/lib/modules/$KVER"
cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# The packaged modules come without modules.dep (depmod runs at install), so dependencies are
# read from each module's .modinfo "depends=" string and loaded depth-first.
WANTED=(virtio_pci virtio_blk virtio_console virtio_net button evdev)
# udhcpc needs packet sockets; some kernels build them in, so they are loaded only when a module exists.
OPTIONAL=(af_packet)
declare -A SEEN=()
ORDER=()
module_path() { find "$MODDIR/kernel" -name "$1.ko" -print -quit; }
add_module() {
  local name="$1" path deps dep
  [[ -n "${SEEN[$name]:-}" ]] && return 0
  SEEN[$name]=1
  path="$(module_path "$name")"
  [[ -n "$path" ]] || { echo "module $name not found in $KVER" >&2; exit 1; }
  deps="$(tr '\0' '\n' <"$path" | sed -n 's/^depends=//p' | head -n1)"
  IFS=',' read -r -a dep_list <<<"$deps"
  for dep in "${dep_list[@]}"; do
    [[ -n "$dep" ]] && add_module "$dep"
  done
  ORDER+=("$name")
}
for m in "${WANTED[@]}"; do add_module "$m"; done
for m in "${OPTIONAL[@]}"; do
  if [[ -n "$(module_path "$m")" ]]; then add_module "$m"; fi
done

ROOT="$WORK/initramfs"
mkdir -p "$ROOT"/{bin,sbin,dev,proc,sys,tmp,run,var/log,var/run,lib/modules,etc/acpi/PWRF}
cp "$WORK/busybox/bin/busybox" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
for m in "${ORDER[@]}"; do cp "$(module_path "$m")" "$ROOT/lib/modules/$m.ko"; done
printf '%s\n' "${ORDER[@]}" >"$ROOT/lib/modules/load-order"

# busybox acpid maps the power button to the event "PWRF/00000080" and runs this file.
cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo GUEST-POWEROFF >/dev/console
sync
poweroff -f
EOF
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

# udhcpc's hook: apply the lease (address, prefix, default route) and record it for whoever looks.
cat >"$ROOT/etc/udhcpc.script" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    # An overlay network announces a smaller MTU (VXLAN takes 50 bytes of every frame).
    if [ -n "$mtu" ]; then ip link set "$interface" mtu "$mtu"; fi
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do
      ip route replace default via "$r" dev "$interface"
      break
    done
    echo "$ip/$mask $router" >"/run/dhcp.$interface"
    ;;
esac
exit 0
EOF
chmod 755 "$ROOT/etc/udhcpc.script"

cat >"$ROOT/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
while read -r m; do insmod "/lib/modules/$m.ko" 2>/dev/null; done </lib/modules/load-order
# acpid logs to /var/log/acpid.log and silently exits when it cannot open it.
acpid
# Every NIC asks for an address in the background (udhcpc keeps retrying on its own), so a VM
# whose network has no DHCP server here still reaches GUEST-READY at once.
for dev in /sys/class/net/eth*; do
  [ -e "$dev" ] || continue
  udhcpc -i "${dev##*/}" -s /etc/udhcpc.script -b -t 3 -T 1 -A 1 >/dev/null 2>&1 </dev/null &
done
echo GUEST-READY
# The shell lives on the serial console; respawn it so an exit never panics PID 1.
while true; do setsid cttyhack sh; done
EOF
chmod 755 "$ROOT/init"

# The host has no cpio: busybox's applet writes the newc format the kernel expects.
(cd "$ROOT" && find . | sort | "$ROOT/bin/busybox" cpio -o -H newc 2>/dev/null) | gzip -9 >"$WORK/initrd.gz"

mv -f "$WORK/vmlinuz" "$OUT/vmlinuz"
mv -f "$WORK/initrd.gz" "$OUT/initrd.gz"
echo "console=ttyS0 quiet panic=-1" >"$OUT/cmdline"
echo "$KPKG" >"$OUT/kernel-package"
rm -rf "$WORK"
rm -f "$OUT"/.built-v*
touch "$STAMP"
echo "guest built in $OUT ($KPKG, modules: ${ORDER[*]})"
