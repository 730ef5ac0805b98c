#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and the benchmark: Debian's
# postgresql package (apt-get install -y postgresql), a fresh cluster in a
# temp dir, a free loopback port, password authentication.
#
#   eval "$(scripts/postgres.sh start)"   # exports WEBHOOKS_TEST_POSTGRES_URL and PGTEST_DIR
#   scripts/postgres.sh stop "$PGTEST_DIR"
#
# As root, the server runs as the unprivileged user "postgres" (PostgreSQL
# refuses to run as root). Nothing outside the temp dir is touched.
set -euo pipefail

bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		if [[ -x "$d/initdb" ]]; then
			echo "$d"
			return
		fi
	done
	if command -v initdb >/dev/null; then
		dirname "$(command -v initdb)"
		return
	fi
	echo "postgres.sh: initdb not found; install PostgreSQL (apt-get install -y postgresql)" >&2
	exit 1
}

as_owner() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local bin dir port password
	bin=$(bindir)
	dir=$(mktemp -d /tmp/webhooks-pg.XXXXXX)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	password=$(head -c 18 /dev/urandom | base64 | tr -d '+/=')
	echo "$password" >"$dir/pwfile"
	mkdir "$dir/data" "$dir/sock"
	if [[ $(id -u) -eq 0 ]]; then
		chown -R postgres: "$dir"
	fi
	as_owner "$bin/initdb" -D "$dir/data" -U webhooks --pwfile="$dir/pwfile" --auth=scram-sha-256 \
		--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $port -c listen_addresses=127.0.0.1 -k $dir/sock -c fsync=${PGTEST_FSYNC:-off} -c max_connections=200" start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	echo "export WEBHOOKS_TEST_POSTGRES_URL='postgres://webhooks:$password@127.0.0.1:$port/postgres?sslmode=disable'"
	echo "export PGTEST_DIR='$dir'"
}

stop() {
	local dir=${1:?usage: postgres.sh stop DIR}
	as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*)
	echo "usage: $0 start | stop DIR" >&2
	exit 2
	;;
esac
