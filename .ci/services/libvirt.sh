#!/usr/bin/env bash
# What the libvirt driver tests need (called by .ci/run, and by the tests themselves when
# VL_LIBVIRT_URI is unset):
#   start <dir>  virtlogd + libvirtd for qemu:///system (unless one already answers), and a
#                second libvirtd ("the peer") in its own mount + UTS namespace with its own
#                hostname and host_uuid, listening on 127.0.0.1:<free port> (auth none:
#                tests only), so a live migration between the two is a real one.
#                Logs go to stderr; `export VAR=...` lines go to stdout.
#   stop <dir>   stops exactly what start started (recorded under <dir>/libvirt). The host's
#                libvirtd is shared by every concurrent user of this script (CI, test files
#                run in parallel): each start registers a user under $SHARED/users, and the
#                daemons are stopped by the last user to leave, and only if this script started them.
set -euo pipefail

cmd=${1:?usage: libvirt.sh start|stop <dir>}
base=${2:?usage: libvirt.sh start|stop <dir>}
state=$base/libvirt
peer=$state/peer
SYS_URI=qemu:///system
SHARED=/run/virtledger-libvirt
user_id=$(printf '%s' "$state" | sha256sum | cut -c1-16)

log() { echo "libvirt.sh: $*" >&2; }

answers() { timeout 10 virsh -q -c "$1" uri >/dev/null 2>&1; }

wait_answer() {
  local uri=$1 pidfile=$2
  for _ in $(seq 150); do
    answers "$uri" && return 0
    if [[ -n $pidfile && -s $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "$uri does not answer"
  return 1
}

# Forget users whose process is gone or whose state dir was removed (a killed CI run, a
# deleted clone): otherwise their entries keep the daemons running forever.
prune_users() {
  local f dir pid
  for f in "$SHARED"/users/*; do
    [[ -e $f ]] || continue
    dir=$(sed -n 1p "$f")
    pid=$(sed -n 2p "$f")
    if [[ ! -d $dir ]] || { [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; }; then
      log "forgetting a user that is gone: $dir"
      rm -f "$f"
    fi
  done
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Without udev (containers, CI sandboxes) /dev/kvm stays 0600 root. libvirt 9.0 then probes QEMU
# as root with KVM but finds KVM unusable for its qemu user (libvirt-qemu, group kvm), discards
# the capabilities it just cached and probes again on every call: each `virsh define` waits
# minutes under load. Debian's udev rule makes it root:kvm 0660; do what it would.
kvm_as_udev_would() {
  if [[ -c /dev/kvm ]] && getent group kvm >/dev/null && [[ $(stat -c '%G %a' /dev/kvm) != 'kvm 660' ]]; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && log "/dev/kvm made root:kvm 0660, as Debian's udev rule does"
  fi
}

start_system() {
  kvm_as_udev_would
  mkdir -p "$SHARED/users"
  # The caller (.ci/run, or a test process) is the user: its pid lets a later stop tell a
  # live user from one that died without calling stop.
  printf '%s\n%s\n' "$state" "$PPID" >"$SHARED/users/$user_id"
  if answers "$SYS_URI"; then
    log "a libvirtd already serves $SYS_URI: using it"
    return
  fi
  # By pidfile, not by name: a peer's virtlogd (another namespace) is not the host's.
  if ! { [[ -s /var/run/virtlogd.pid ]] && kill -0 "$(cat /var/run/virtlogd.pid)" 2>/dev/null; }; then
    /etc/init.d/virtlogd start >&2
    touch "$SHARED/started-virtlogd"
  fi
  /etc/init.d/libvirtd start >&2
  touch "$SHARED/started-libvirtd"
  wait_answer "$SYS_URI" /var/run/libvirtd.pid
}

start_peer() {
  local port uuid
  port=$(free_port)
  uuid=$(uuidgen)
  mkdir -p "$peer"/{etc,run,lib,cache,log}
  cp -a /etc/libvirt/. "$peer/etc/"
  # The peer must not autostart the host's domains or networks.
  rm -rf "$peer/etc/qemu/"*.xml "$peer/etc/qemu/autostart" "$peer/etc/qemu/networks/autostart"
  mkdir -p "$peer/lib/qemu" "$peer/lib/images" "$peer/cache/qemu" "$peer/log/qemu" "$peer/run/qemu"
  cat >>"$peer/etc/libvirtd.conf" <<CONF

# virtledger test peer (auth none, loopback only)
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
host_uuid = "$uuid"
CONF
  echo "$port" >"$peer/port"
  # unshare keeps running as the namespace's first process until libvirtd exits, so its pid
  # is the handle for nsenter and for stop.
  unshare --mount --uts --propagation private -- sh -c '
    set -e
    p=$1
    hostname vl-libvirt-peer
    mount --bind "$p/etc" /etc/libvirt
    mount --bind "$p/run" /run/libvirt
    mount --bind "$p/lib" /var/lib/libvirt
    mount --bind "$p/cache" /var/cache/libvirt
    mount --bind "$p/log" /var/log/libvirt
    virtlogd -d -p "$p/virtlogd.pid"
    exec libvirtd --listen -p "$p/libvirtd.pid"
  ' sh "$peer" >>"$peer/libvirtd.out" 2>&1 </dev/null &
  echo $! >"$peer/unshare.pid"
  if ! wait_answer "qemu+tcp://127.0.0.1:$port/system" "$peer/unshare.pid"; then
    tail -n 20 "$peer/libvirtd.out" >&2 || true
    return 1
  fi
  log "peer libvirtd on qemu+tcp://127.0.0.1:$port/system (host_uuid $uuid)"
}

stop_peer() {
  [[ -s $peer/unshare.pid ]] || return 0
  local uri ns_pid
  uri="qemu+tcp://127.0.0.1:$(cat "$peer/port")/system"
  ns_pid=$(cat "$peer/unshare.pid")
  if answers "$uri"; then
    for d in $(timeout 20 virsh -q -c "$uri" list --all --name 2>/dev/null); do
      timeout 30 virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1 || true
      timeout 30 virsh -q -c "$uri" undefine "$d" --snapshots-metadata >/dev/null 2>&1 || true
    done
  fi
  for f in libvirtd.pid virtlogd.pid; do
    [[ -s $peer/$f ]] && kill "$(cat "$peer/$f")" 2>/dev/null || true
  done
  for _ in $(seq 100); do kill -0 "$ns_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$ns_pid" 2>/dev/null && kill -9 "$ns_pid" 2>/dev/null || true
  [[ -s $peer/virtlogd.pid ]] && kill -9 "$(cat "$peer/virtlogd.pid")" 2>/dev/null || true
  rm -f "$peer/unshare.pid"
}

case $cmd in
  start)
    mkdir -p "$state"
    start_system
    start_peer
    echo "export VL_LIBVIRT_URI=$SYS_URI"
    echo "export VL_LIBVIRT_PEER_URI=qemu+tcp://127.0.0.1:$(cat "$peer/port")/system"
    echo "export VL_LIBVIRT_PEER_PID=$(cat "$peer/unshare.pid")"
    ;;
  stop)
    stop_peer
    rm -f "$SHARED/users/$user_id"
    prune_users
    if [[ -n $(ls -A "$SHARED/users" 2>/dev/null) ]]; then
      log "other users of $SYS_URI remain: leaving its daemons running"
      exit 0
    fi
    if [[ -e $SHARED/started-libvirtd ]]; then
      /etc/init.d/libvirtd stop >&2 || true
      rm -f "$SHARED/started-libvirtd"
    fi
    if [[ -e $SHARED/started-virtlogd ]]; then
      /etc/init.d/virtlogd stop >&2 || true
      rm -f "$SHARED/started-virtlogd"
    fi
    ;;
  *)
    echo "usage: libvirt.sh start|stop <dir>" >&2
    exit 2
    ;;
esac
