#!/usr/bin/env bash
# Installs what is missing on Debian 12 (as root), then configures and builds doppler.
# usage: bash tools/setup.sh [--tests] [--sanitize] [--build-dir DIR]
#   --tests     also installs what the test suite uses (python3-simpy3 for the live SimPy check)
#   --sanitize  builds with AddressSanitizer + UndefinedBehaviorSanitizer (default dir build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
sanitize=OFF
tests=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) tests=1 ;;
    --sanitize) sanitize=ON; build_dir=build-asan ;;
    --build-dir) build_dir="$2"; shift ;;
    *) echo "setup.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

packages=(cmake g++ make pkg-config libboost-graph-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
          libmetis-dev libgtest-dev libgmock-dev libbenchmark-dev libtorch-dev libopenblas0-pthread)
[ "$tests" = 1 ] && packages+=(python3 python3-simpy3 python3-networkx)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DDOPPLER_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
