#!/usr/bin/env bash
# A throwaway PostgreSQL server for store's conformance tests.
#
#   eval "$(scripts/pg-test-server.sh start)"   # prints: export ASSAY_TEST_POSTGRES=...
#   go test ./store/
#   scripts/pg-test-server.sh stop
#
# start initialises a fresh cluster in $ASSAY_PG_DIR (default
# /tmp/assay-pg-<uid>), listening only on 127.0.0.1 at the first free port
# from $ASSAY_PG_PORT (default 55432), with its socket in that directory,
# trust authentication and no fsync (test data is disposable), creates the
# database assay_test, and prints the export line on stdout; everything
# else goes to stderr. If that server is already running, start prints its
# export line again. stop shuts it down and removes the directory.
#
# PostgreSQL's binaries are looked for on PATH and in
# /usr/lib/postgresql/*/bin (Debian); if absent and running as root, the
# Debian package is installed. initdb refuses to run as root, so as root
# the server runs as the "postgres" user (created if missing).
set -euo pipefail

dir="${ASSAY_PG_DIR:-/tmp/assay-pg-$(id -u)}"
port="${ASSAY_PG_PORT:-55432}"
db=assay_test

log() { printf 'pg-test-server: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# find_bindir prints the directory holding initdb and pg_ctl.
find_bindir() {
  local d
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    # Resolved, so that createdb is found beside initdb when PATH holds
    # only symlinks to some of the binaries.
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

bindir() {
  local d
  if d=$(find_bindir); then echo "$d"; return 0; fi
  [[ $(id -u) == 0 ]] || die "initdb and pg_ctl not found (PATH, /usr/lib/postgresql/*/bin); install PostgreSQL"
  log "installing postgresql"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  find_bindir || die "postgresql installed, but initdb and pg_ctl are still not found"
}

# The OS user the server runs as, and a way to run commands as it.
if [[ $(id -u) == 0 ]]; then
  user=postgres
  if ! id "$user" >/dev/null 2>&1; then
    log "creating user $user"
    useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  as_user() { (cd "$dir" && runuser -u "$user" -- "$@"); }
else
  user=$(id -un)
  as_user() { (cd "$dir" && "$@"); }
fi

export_line() {
  echo "export ASSAY_TEST_POSTGRES='postgres://$user@127.0.0.1:$(cat "$dir/port")/$db?sslmode=disable'"
}

running() {
  [[ -f "$dir/data/postmaster.pid" && -f "$dir/bindir" ]] && as_user "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if [[ -f "$dir/ready" ]] && running; then
    log "already running in $dir"
    export_line
    return 0
  fi
  stop # whatever a failed start left behind
  local bin
  bin=$(bindir)
  mkdir -p "$dir"
  chmod 0700 "$dir"
  if [[ $(id -u) == 0 ]]; then chown "$user" "$dir"; fi
  local p=$port
  while ! port_free "$p"; do
    p=$((p + 1))
    (( p < port + 100 )) || die "no free port in $port..$((port + 99))"
  done
  echo "$p" >"$dir/port"
  echo "$bin" >"$dir/bindir"
  log "initdb ($bin) in $dir/data, port $p"
  as_user "$bin/initdb" -D "$dir/data" -U "$user" --auth=trust --encoding=UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $p -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >&2 || { cat "$dir/server.log" >&2; die "server did not start"; }
  local createdb=$bin/createdb
  [[ -x "$createdb" ]] || createdb=$(command -v createdb) || die "createdb not found"
  as_user "$createdb" -h 127.0.0.1 -p "$p" -U "$user" "$db" >&2
  touch "$dir/ready"
  export_line
}

stop() {
  if [[ -d "$dir" ]]; then
    if running; then
      as_user "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m fast -w stop >&2
    fi
    rm -rf "$dir"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
