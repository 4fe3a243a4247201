#!/usr/bin/env bash
# Installs redis-server (Debian's package) for the Redis part of the peer comparison in
# `npm run bench`. bench/setup.js runs it when redis-server is missing and it needs no password
# (root with apt-get), or always with BENCH_SETUP_REDIS=1 (sudo); BENCH_SETUP_REDIS=0 never.
# The bench starts its own redis-server on 127.0.0.1 and a random port in a temp dir, and stops it;
# it does not use a system service the package may have started on port 6379.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is already installed: $(redis-server --version)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-redis.sh: no apt-get here; install redis-server with this system's package manager" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" != 0 ]; then SUDO=(sudo); fi
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends redis-server
redis-server --version
