#!/usr/bin/env bash
# What the vsphere driver tests need (called by .ci/run, and by the tests themselves when
# VCSIM_URL is unset):
#   start <dir>  builds vcsim (VMware's vSphere simulator: govmomi's simulator library from
#                Debian's golang-github-vmware-govmomi-dev, plus our own ~40-line main.go in
#                .ci/services/vcsim/) into a cache under the repo's ignored .ci-tmp/ unless it is
#                there and current, then starts it on a free loopback port with a fresh random
#                password in a 0600 file. Logs go to stderr; `export VAR=...` lines go to stdout.
#   stop <dir>   stops exactly the simulator this start started (recorded under <dir>/vcsim).
set -euo pipefail

cmd=${1:?usage: vcsim.sh start|stop <dir>}
base=${2:?usage: vcsim.sh start|stop <dir>}
state=$base/vcsim
repo=$(cd "$(dirname "$0")/../.." && pwd)
src=$repo/.ci/services/vcsim/main.go
cache=$repo/.ci-tmp/vcsim
bin=$cache/vcsim

log() { echo "vcsim.sh: $*" >&2; }

build() {
  mkdir -p "$cache"
  # Test files may start simulators in parallel: one build at a time, the others reuse it.
  exec 9>"$cache/build.lock"
  flock 9
  local want have=''
  want=$(sha256sum "$src" | cut -d' ' -f1)
  [[ -s $cache/main.sha256 ]] && have=$(cat "$cache/main.sha256")
  if [[ -x $bin && $have == "$want" ]]; then
    flock -u 9
    return
  fi
  log "building vcsim (GOPATH=/usr/share/gocode, offline; ~30 s cold)"
  local work
  work=$(mktemp -d "$cache/build.XXXXXX")
  cp "$src" "$work/main.go"
  (cd "$work" && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS='' GOCACHE="$cache/gocache" \
    go build -o "$work/vcsim" main.go) >&2
  mv "$work/vcsim" "$bin"
  echo "$want" >"$cache/main.sha256"
  rm -rf "$work"
  flock -u 9
}

start() {
  build
  mkdir -p "$state"
  chmod 700 "$state"
  # A fresh secret per simulator; it reaches the simulator and the tests as a file, never argv.
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$state/password")
  "$bin" -l 127.0.0.1:0 -username vl -password-file "$state/password" \
    >"$state/url" 2>"$state/vcsim.log" </dev/null &
  echo $! >"$state/pid"
  for _ in $(seq 300); do
    [[ -s $state/url ]] && break
    kill -0 "$(cat "$state/pid")" 2>/dev/null || break
    sleep 0.1
  done
  if [[ ! -s $state/url ]]; then
    log "vcsim did not start:"
    tail -n 20 "$state/vcsim.log" >&2 || true
    return 1
  fi
  log "vcsim (pid $(cat "$state/pid")) serves $(cat "$state/url")"
  echo "export VCSIM_URL=$(cat "$state/url")"
  echo "export VCSIM_PASSWORD_FILE=$state/password"
}

stop() {
  [[ -s $state/pid ]] || return 0
  local pid
  pid=$(cat "$state/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$state"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: vcsim.sh start|stop <dir>" >&2
    exit 2
    ;;
esac
