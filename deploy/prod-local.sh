#!/usr/bin/env bash
# `make prod-local`: the production topology on this machine. nginx in front of two
# `ragline serve` replicas, one `ragline worker`, PostgreSQL and Redis. Prints the URL and
# stops everything it started on Ctrl-C. compose.yaml is the same topology in containers.
#
# Settings (environment): PROD_LOCAL_PORT (nginx, 8080), PROD_LOCAL_API_PORTS ("8101 8102"),
# PROD_LOCAL_DIR (logs and nginx files, ./data/prod-local), PROD_LOCAL_STOP_GRACE (seconds
# between SIGTERM and SIGKILL when stopping, 20), and any RAGLINE_* setting, e.g.
# RAGLINE_DEFAULT_MODEL=scripted. The database defaults to `ragline_prod` on 127.0.0.1:5432
# and Redis to database 3 on 127.0.0.1:6379, apart from what tests use.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
PORT=${PROD_LOCAL_PORT:-8080}
read -r -a API_PORTS <<< "${PROD_LOCAL_API_PORTS:-8101 8102}"
RUN_DIR=$(mkdir -p "${PROD_LOCAL_DIR:-data/prod-local}" && cd "${PROD_LOCAL_DIR:-data/prod-local}" && pwd)
PG_DB=${PROD_LOCAL_DB:-ragline_prod}
STOP_GRACE=${PROD_LOCAL_STOP_GRACE:-20}  # seconds after SIGTERM before SIGKILL

CREATE_DB=$([[ -z "${RAGLINE_DATABASE_URL:-}" ]] && echo yes || echo no)
export RAGLINE_DATABASE_URL=${RAGLINE_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/$PG_DB}
export RAGLINE_REDIS_URL=${RAGLINE_REDIS_URL:-redis://127.0.0.1:6379/3}
export RAGLINE_DATA_DIR=${RAGLINE_DATA_DIR:-$RUN_DIR/data}  # uploads: shared by API and worker
export RAGLINE_RUN_EXECUTION=${RAGLINE_RUN_EXECUTION:-worker}
export RAGLINE_LOG_JSON=${RAGLINE_LOG_JSON:-false}

PIDS=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping ${#PIDS[@]} processes..."
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 "$((STOP_GRACE * 2))"); do  # runs get RAGLINE's grace period to finish
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.5
  done
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then echo "process $pid ignored SIGTERM: killed"; kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  done
  echo "stopped."
}
trap stop_all INT TERM EXIT

wait_http() {  # url, name, pid
  for _ in $(seq 1 240); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      echo "$2 exited; last lines of its log:" >&2
      tail -n 30 "$RUN_DIR/logs/$2.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$2 did not answer at $1" >&2
  return 1
}

# 1. PostgreSQL and Redis: start them if they are down (as .ci/run does).
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/prod-local.log || true
fi
for _ in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p 5432 -q && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break
  sleep 1
done
if [[ $CREATE_DB == yes ]]; then
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" \
    | grep -q 1 || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE \"$PG_DB\""
fi

# 2. Migrations once, before any replica starts.
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/nginx-tmp" "$RAGLINE_DATA_DIR"
"$BIN/ragline" db upgrade

# 3. Two API replicas and one worker.
for i in "${!API_PORTS[@]}"; do
  RAGLINE_EMBEDDED_WORKER=false RAGLINE_LOAD_MODEL_AT_STARTUP=false \
  "$BIN/ragline" serve --host 127.0.0.1 --port "${API_PORTS[$i]}" \
    > "$RUN_DIR/logs/api$((i + 1)).log" 2>&1 &
  PIDS+=($!)
done
"$BIN/ragline" worker > "$RUN_DIR/logs/worker.log" 2>&1 &
PIDS+=($!)
for i in "${!API_PORTS[@]}"; do
  wait_http "http://127.0.0.1:${API_PORTS[$i]}/healthz" "api$((i + 1))" "${PIDS[$i]}"
done

# 4. nginx in front, with deploy/nginx.conf filled in and wrapped in a main config.
export RAGLINE_LISTEN_PORT="127.0.0.1:$PORT"
export RAGLINE_API_1="127.0.0.1:${API_PORTS[0]}" RAGLINE_API_2="127.0.0.1:${API_PORTS[1]}"
envsubst '${RAGLINE_LISTEN_PORT} ${RAGLINE_API_1} ${RAGLINE_API_2}' \
  < deploy/nginx.conf > "$RUN_DIR/ragline.conf"
chmod 0777 "$RUN_DIR/nginx-tmp"  # nginx workers run as nobody when started by root
cat > "$RUN_DIR/nginx-main.conf" <<EOF
worker_processes 1;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log $RUN_DIR/logs/nginx-access.log;
    client_body_temp_path $RUN_DIR/nginx-tmp/body;
    proxy_temp_path $RUN_DIR/nginx-tmp/proxy;
    fastcgi_temp_path $RUN_DIR/nginx-tmp/fastcgi;
    uwsgi_temp_path $RUN_DIR/nginx-tmp/uwsgi;
    scgi_temp_path $RUN_DIR/nginx-tmp/scgi;
    include /etc/nginx/mime.types;
    include $RUN_DIR/ragline.conf;
}
EOF
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
"$NGINX" -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx-main.conf"
"$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx-main.conf" -g 'daemon off;' \
  > "$RUN_DIR/logs/nginx.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/healthz" nginx "${PIDS[-1]}"

echo "ragline (2 replicas + worker behind nginx): http://127.0.0.1:$PORT"
echo "  database $RAGLINE_DATABASE_URL, redis $RAGLINE_REDIS_URL, runs: $RAGLINE_RUN_EXECUTION"
echo "  logs in $RUN_DIR/logs; Ctrl-C stops everything"
# Exit (and stop the rest) as soon as any process dies, else wait for Ctrl-C.
wait -n "${PIDS[@]}" || true
echo "a process exited; see $RUN_DIR/logs" >&2
