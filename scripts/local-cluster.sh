#!/usr/bin/env bash
# local-cluster.sh: the production topology as local processes, no container
# engine needed. Three nats-server nodes in a JetStream cluster (R3 streams,
# sync_interval: always), the publisher's ingest API, two deliverers and the
# sample receiver, all on 127.0.0.1 only.
#
#   scripts/local-cluster.sh start          build into ./bin, start everything, wait until ready
#   scripts/local-cluster.sh publish        publish one event to the receiver (bin/publisher publish)
#   scripts/local-cluster.sh status         processes, node health, WEBHOOKS and consumer counts
#   scripts/local-cluster.sh kill-node N    SIGKILL nats node N (1..3), as a crash would
#   scripts/local-cluster.sh restart-node N start node N again on its store and wait until healthy
#   scripts/local-cluster.sh stop           stop everything (SIGTERM, then SIGKILL after a timeout)
#   scripts/local-cluster.sh config N       print node N's nats-server configuration
#
# State lives in the run directory ($LOCAL_CLUSTER_DIR, default ./data/local-cluster,
# gitignored): nats-N.conf and nats-N/ (JetStream store), *.pid, *.log, and the
# generated master key, tokens and signing secret (mode 0600). `stop` keeps it;
# delete the directory to start afresh.
#
# LOCAL USE ONLY: the deliverers may reach 127.0.0.1 over plain http
# (WEBHOOKS_ALLOW_DESTINATIONS, WEBHOOKS_UNSAFE_ALLOW_HTTP), which they log
# loudly; production sets neither.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/bin"
RUN="${LOCAL_CLUSTER_DIR:-$ROOT/data/local-cluster}"

# Ports (loopback only), chosen away from the quickstart's 4222/8080/8081.
NATS_CLIENT=(14222 14223 14224)
NATS_ROUTE=(16222 16223 16224)
NATS_MONITOR=(18222 18223 18224)
PUBLISHER_ADDR=127.0.0.1:18080
PUBLISHER_OPS=127.0.0.1:19091
DELIVERER_OPS=(127.0.0.1:19090 127.0.0.1:19092)
RECEIVER_ADDR=127.0.0.1:18081
ORG=org_local

NATS_URL="nats://127.0.0.1:${NATS_CLIENT[0]},nats://127.0.0.1:${NATS_CLIENT[1]},nats://127.0.0.1:${NATS_CLIENT[2]}"

say() { printf '%s\n' "$*"; }
die() { printf 'local-cluster: %s\n' "$*" >&2; exit 1; }

# node_index N: checks N (1..3) and prints its array index.
node_index() {
  [[ "${1:-}" =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3, got '${1:-}'"
  echo $(($1 - 1))
}

# config N: nats-server configuration of node N.
config() {
  local i
  i=$(node_index "$1")
  cat <<EOF
server_name: nats-$1
listen: 127.0.0.1:${NATS_CLIENT[$i]}
http: 127.0.0.1:${NATS_MONITOR[$i]}
jetstream {
  store_dir: "$RUN/nats-$1"
  # fsync every write before acknowledging it (see deploy/README.md).
  sync_interval: always
}
cluster {
  name: webhooks-local
  listen: 127.0.0.1:${NATS_ROUTE[$i]}
  routes: [
    nats://127.0.0.1:${NATS_ROUTE[0]}
    nats://127.0.0.1:${NATS_ROUTE[1]}
    nats://127.0.0.1:${NATS_ROUTE[2]}
  ]
}
EOF
}

build() {
  say "building nats-server, deliverer, publisher and go-receiver into $BIN"
  mkdir -p "$BIN"
  (cd "$ROOT" && go build -o "$BIN/nats-server" github.com/nats-io/nats-server/v2 &&
    go build -o "$BIN/" ./cmd/deliverer ./cmd/publisher ./examples/go-receiver)
}

# running NAME: whether the process recorded in NAME.pid is alive.
running() {
  local pid
  [[ -f "$RUN/$1.pid" ]] && pid=$(<"$RUN/$1.pid") && kill -0 "$pid" 2>/dev/null
}

# spawn NAME CMD...: starts CMD in the background, output appended to
# NAME.log, its PID in NAME.pid. The environment is the caller's.
spawn() {
  local name=$1
  shift
  running "$name" && die "$name is already running (pid $(<"$RUN/$name.pid"))"
  nohup "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

# wait_http NAME URL [any]: waits up to 60 s for URL to answer 2xx (any
# status with "any"); fails with the end of NAME's log otherwise.
wait_http() {
  local name=$1 url=$2 flags=-fsS deadline=$((SECONDS + 60))
  [[ "${3:-}" == any ]] && flags=-sS
  until curl "$flags" -o /dev/null "$url" 2>/dev/null; do
    if ! running "$name"; then
      tail -n 20 "$RUN/$name.log" >&2
      die "$name exited"
    fi
    ((SECONDS < deadline)) || { tail -n 20 "$RUN/$name.log" >&2; die "$name not ready at $url after 60 s"; }
    sleep 0.2
  done
}

start_node() {
  node_index "$1" >/dev/null
  config "$1" >"$RUN/nats-$1.conf"
  spawn "nats-$1" "$BIN/nats-server" -c "$RUN/nats-$1.conf"
}

# secret FILE GENERATOR...: prints FILE's content, creating it first (mode
# 0600) with the generator's output.
secret() {
  local file="$RUN/$1"
  shift
  if [[ ! -s "$file" ]]; then
    (umask 077 && "$@" >"$file")
  fi
  cat "$file"
}
random_token() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }
master_key() { printf 'local1:%s' "$(head -c 32 /dev/urandom | base64 | tr -d '\n')"; }

# pipeline_env: the settings every pipeline process shares here.
pipeline_env() {
  export NATS_URL STREAMS_REPLICAS=3 LOG_LEVEL=info
  export WEBHOOKS_ALLOW_DESTINATIONS=127.0.0.1 WEBHOOKS_UNSAFE_ALLOW_HTTP=true
  WEBHOOKS_MASTER_KEY=$(secret master-key master_key)
  PUBLISHER_TOKENS=$(secret ingest-token random_token)
  PUBLISHER_ADMIN_TOKENS=$(secret admin-token random_token)
  export WEBHOOKS_MASTER_KEY PUBLISHER_TOKENS PUBLISHER_ADMIN_TOKENS
}

cmd_start() {
  command -v go >/dev/null || die "go is not on PATH"
  command -v curl >/dev/null || die "curl is not on PATH"
  [[ "${SKIP_BUILD:-}" == 1 ]] || build
  mkdir -p "$RUN"
  for n in 1 2 3; do start_node "$n"; done
  # /healthz answers 200 once the node's JetStream is healthy: the cluster
  # has a meta leader and the node is current. Only then can the publisher
  # create (or update) the streams at R3, which it does once, at start-up.
  for n in 1 2 3; do wait_http "nats-$n" "http://127.0.0.1:${NATS_MONITOR[$((n - 1))]}/healthz"; done
  say "nats: 3 nodes up ($NATS_URL)"

  pipeline_env
  PUBLISHER_LISTEN_ADDR=$PUBLISHER_ADDR PUBLISHER_OPS_ADDR=$PUBLISHER_OPS spawn publisher "$BIN/publisher" serve
  wait_http publisher "http://$PUBLISHER_OPS/readyz"
  say "publisher: ingest http://$PUBLISHER_ADDR/v1/events, ops http://$PUBLISHER_OPS"

  if [[ ! -s "$RUN/signing-secret" ]]; then
    (umask 077 && curl -fsS -X POST -H "Authorization: Bearer $PUBLISHER_ADMIN_TOKENS" \
      "http://$PUBLISHER_ADDR/v1/admin/orgs/$ORG/signing-secret" |
      sed -n 's/.*"plaintext":"\([^"]*\)".*/\1/p' >"$RUN/signing-secret")
    [[ -s "$RUN/signing-secret" ]] || die "could not create the signing secret of $ORG"
    say "signing secret of $ORG created (in $RUN/signing-secret)"
  fi
  SIGNING_SECRETS=$(<"$RUN/signing-secret") LISTEN_ADDR=$RECEIVER_ADDR spawn receiver "$BIN/go-receiver"
  wait_http receiver "http://$RECEIVER_ADDR/" any # it answers GET with 405
  say "receiver: http://$RECEIVER_ADDR/webhooks (verifies $ORG's signatures)"

  for d in 1 2; do
    DELIVERER_OPS_ADDR=${DELIVERER_OPS[$((d - 1))]} DELIVERER_SHUTDOWN_TIMEOUT=15s spawn "deliverer-$d" "$BIN/deliverer"
  done
  for d in 1 2; do wait_http "deliverer-$d" "http://${DELIVERER_OPS[$((d - 1))]}/readyz"; done
  say "deliverers: 2 consuming (ops ${DELIVERER_OPS[*]})"
  say "ready. Try: $0 publish; then: tail $RUN/receiver.log"
}

cmd_publish() {
  pipeline_env
  local id
  id="task-$(date +%s%N)"
  # The receipt goes to stdout, the publisher's log lines to publish.log.
  if ! "$BIN/publisher" publish -org "$ORG" -url "http://$RECEIVER_ADDR/webhooks" \
    -task-id "$id" -status completed -task-type find_email -result '{"email":[["john.doe@acme.com","OK"]]}' 2>>"$RUN/publish.log"; then
    tail -n 1 "$RUN/publish.log" >&2
    die "publish failed (nothing may be assumed stored: publish again)"
  fi
}

# stop_proc NAME TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT seconds.
stop_proc() {
  local name=$1 timeout=$2 pid
  running "$name" || { rm -f "$RUN/$name.pid"; return 0; }
  pid=$(<"$RUN/$name.pid")
  kill -TERM "$pid"
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$name did not stop within ${timeout}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$RUN/$name.pid"
  say "stopped $name"
}

cmd_stop() {
  # Deliverers first (they finish attempts in flight), then the publisher
  # and the receiver, then the NATS nodes.
  stop_proc deliverer-1 20
  stop_proc deliverer-2 20
  stop_proc publisher 30
  stop_proc receiver 10
  for n in 1 2 3; do stop_proc "nats-$n" 30; done
}

cmd_status() {
  local name state
  for name in nats-1 nats-2 nats-3 publisher receiver deliverer-1 deliverer-2; do
    state=stopped
    running "$name" && state="running (pid $(<"$RUN/$name.pid"))"
    printf '%-12s %s\n' "$name" "$state"
  done
  local i jsz=""
  for i in 0 1 2; do
    if curl -fsS -o /dev/null "http://127.0.0.1:${NATS_MONITOR[$i]}/healthz?js-enabled-only=true" 2>/dev/null; then
      printf 'nats-%d       healthy (JetStream)\n' $((i + 1))
      [[ -n "$jsz" ]] || jsz=$(curl -fsS "http://127.0.0.1:${NATS_MONITOR[$i]}/jsz?streams=true&consumers=true" 2>/dev/null || true)
    fi
  done
  if [[ -n "$jsz" ]] && command -v jq >/dev/null; then
    jq -r '.account_details[]?.stream_detail[]? | select(.name=="WEBHOOKS" or .name=="WEBHOOKS_UNDELIVERED" or .name=="WEBHOOKS_OUTCOMES")
      | "\(.name): \(.state.messages) messages, leader \(.cluster.leader // "-")"
        + ([.consumer_detail[]? | ", consumer \(.name): \(.num_pending) pending, \(.num_ack_pending) awaiting ack, leader \(.cluster.leader // "-")"] | join(""))' <<<"$jsz"
  fi
}

cmd_kill_node() {
  local n=$1 pid
  node_index "$n" >/dev/null
  running "nats-$n" || die "nats-$n is not running"
  pid=$(<"$RUN/nats-$n.pid")
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$RUN/nats-$n.pid"
  say "nats-$n killed (SIGKILL, pid $pid); its store stays in $RUN/nats-$n"
}

cmd_restart_node() {
  local n=$1 i
  i=$(node_index "$n")
  running "nats-$n" && die "nats-$n is running"
  start_node "$n"
  # Healthy means caught up: JetStream current on every stream it holds.
  wait_http "nats-$n" "http://127.0.0.1:${NATS_MONITOR[$i]}/healthz"
  say "nats-$n restarted on its store and healthy (caught up)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  publish) cmd_publish ;;
  kill-node) cmd_kill_node "${2:-}" ;;
  restart-node) cmd_restart_node "${2:-}" ;;
  config) config "${2:-}" ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
