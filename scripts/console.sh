#!/usr/bin/env bash
# scripts/console.sh: build and check the web console (console/, docs/CONSOLE.md).
#
#   scripts/console.sh build   npm ci + npm run build -> internal/console/dist/
#   scripts/console.sh check   build, then lint, type check, unit tests (vitest)
#                              and the bundle budget (npm run size)
#
# Node and npm come from apt (.ci/apt.txt). @vitejs/plugin-react needs npm
# 11: an older npm is upgraded first (from the npm registry, as npm does).
# A checkout without console/ has nothing to build: build and check say so
# and succeed, so `make build` works before the frontend lands.
set -Eeuo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dist=$root/internal/console/dist

log() { printf '[console %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

have_app() { [ -f "$root/console/package.json" ]; }

npm_ok() {
  command -v node >/dev/null || die "node is missing: install nodejs (scripts/apt-deps.sh)"
  command -v npm >/dev/null || die "npm is missing: install nodejs/npm (scripts/apt-deps.sh)"
  local major; major=$(npm --version | cut -d. -f1)
  if [ "$major" -lt 11 ]; then
    log "npm $(npm --version) is older than 11; upgrading npm"
    npm install -g npm@11 >&2
  fi
}

build() {
  if ! have_app; then
    log "no console/ app in this checkout; the server serves the 'console not built' page"
    return 0
  fi
  if [ "${2:-}" != force ] && [ -f "$dist/index.html" ] &&
     [ -z "$(find "$root/console" -path "$root/console/node_modules" -prune -o -type f -newer "$dist/index.html" -print -quit)" ]; then
    log "internal/console/dist is up to date with console/"
    return 0
  fi
  npm_ok
  cd "$root/console"
  log "npm ci"
  npm ci --no-audit --no-fund >&2
  log "npm run build"
  npm run build >&2
  [ -f "$dist/index.html" ] || die "npm run build wrote no $dist/index.html"
  # Vite must not inject inline scripts: the CSP (script-src 'self') would block them.
  if grep -Eiq '<script(\s[^>]*)?>[^<]' "$dist/index.html"; then
    die "$dist/index.html has an inline script; the console's CSP forbids it"
  fi
  log "built $(find "$dist" -type f | wc -l) files into internal/console/dist"
}

check() {
  build "" force
  have_app || return 0
  cd "$root/console"
  log "npm run lint"; npm run lint >&2
  log "npm run typecheck"; npm run typecheck >&2
  log "npm test"; npm test >&2
  log "npm run size (bundle budget, docs/CONSOLE.md)"; npm run size >&2
}

case "${1:-}" in
  build) build ;;
  check) check ;;
  *) echo "usage: $0 build|check" >&2; exit 2 ;;
esac
