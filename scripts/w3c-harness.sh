#!/usr/bin/env bash
# Runs the W3C Trace Context test harness against examples/w3c_test_service.
#
#   scripts/w3c-harness.sh HARNESS_DIR [TEST_NAME...]
#
# HARNESS_DIR is the harness folder: the `test/` directory of a checkout of
# https://github.com/w3c/trace-context (the one holding `test.py`). The harness needs Python 3 with
# `aiohttp` (`pip install aiohttp`); set PYTHON to pick the interpreter (default `python3`). TEST_NAMEs
# (for example `TraceContextTest.test_tracestate_duplicated_keys`) run only those tests.
#
# The service is built and started on SERVICE_PORT (default 5000), the harness listens on
# HARNESS_PORT (default 7777), both on 127.0.0.1, at STRICT_LEVEL=2 (the default; override with
# STRICT_LEVEL) and SPEC_LEVEL=2 (Level 2: the random trace-id flag). Spans are not exported
# (OTEL_TRACES_EXPORTER=none). The harness's exit status is the script's: 0 when every test passes.
set -euo pipefail

if [[ $# -lt 1 || ! -f "$1/test.py" ]]; then
    echo "usage: $0 HARNESS_DIR [TEST_NAME...]  (HARNESS_DIR holds test.py of w3c/trace-context)" >&2
    exit 2
fi
harness_dir=$(cd "$1" && pwd)
shift
python=${PYTHON:-python3}
service_port=${SERVICE_PORT:-5000}
harness_port=${HARNESS_PORT:-7777}

if ! "$python" -c 'import aiohttp' 2>/dev/null; then
    echo "$0: $python cannot import aiohttp; install it (pip install aiohttp) or set PYTHON" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
cargo build --quiet --example w3c_test_service --features reqwest,axum
service=$(cargo metadata --format-version 1 --no-deps |
    "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples/w3c_test_service

OTEL_TRACES_EXPORTER=none "$service" "$service_port" &
service_pid=$!
trap 'kill "$service_pid" 2>/dev/null || true; wait "$service_pid" 2>/dev/null || true' EXIT

# Wait (at most 10 s) for the service to listen.
for _ in $(seq 1 100); do
    if "$python" -c "import socket,sys; socket.create_connection(('127.0.0.1', $service_port), 0.1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$service_pid" 2>/dev/null; then
        echo "$0: the service exited before listening on port $service_port" >&2
        exit 1
    fi
    sleep 0.1
done

cd "$harness_dir"
STRICT_LEVEL=${STRICT_LEVEL:-2} SPEC_LEVEL=${SPEC_LEVEL:-2} \
    HARNESS_HOST=127.0.0.1 HARNESS_PORT="$harness_port" \
    "$python" test.py "http://127.0.0.1:$service_port/test" "$@"
