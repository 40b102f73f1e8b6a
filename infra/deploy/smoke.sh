#!/usr/bin/env bash
# What a visitor needs from a fresh deploy: the probes, a page, a static file, the API
# schema. Usage: infra/deploy/smoke.sh https://captions.example.com
set -euo pipefail
base=${1%/}
check() {
  local path=$1 want=$2 got
  got=$(curl --silent --show-error --output /dev/null --write-out '%{http_code}' \
    --max-time 15 --retry 5 --retry-delay 10 --retry-all-errors "$base$path")
  if [ "$got" != "$want" ]; then
    echo "FAIL $path: $got (want $want)" >&2
    return 1
  fi
  echo "ok   $path: $got"
}
check /healthz 200
check /readyz 200
check /accounts/login/ 200
check /accounts/signup/ 200
check /static/css/app.css 200
check /api/schema/ 200
check /api/v1/jobs/ 401
