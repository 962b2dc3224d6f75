#!/usr/bin/env bash
# Install what tests/clients needs on a fresh Debian/Ubuntu machine (as root). Idempotent: a
# second run installs nothing and downloads nothing.
#
#   Java:  the ZooKeeper client (zookeeper / libzookeeper-java) and Apache Curator, compiled with javac
#   C:     libzookeeper-mt-dev (+ gcc), and zookeeper-bin for cli_mt
#   Go:    golang-go and golang-github-samuel-go-zookeeper-dev (built offline, GOPATH mode)
#   Node:  node + npm, and node-zookeeper-client from the npm registry into tests/clients/node/node_modules
#
# Toolchains already on the machine (java/javac, gcc, node/npm from any source) are kept as they are.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here="$(cd "$(dirname "$0")" && pwd)"

packages=(
    zookeeper zookeeper-bin libzookeeper-java libzookeeper-mt-dev
    libcurator-client-java libcurator-framework-java libcurator-recipes-java libguava-java libslf4j-java
    golang-go golang-github-samuel-go-zookeeper-dev
)
command -v javac >/dev/null || packages+=(default-jdk-headless)
command -v gcc >/dev/null || packages+=(gcc libc6-dev)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "tests/clients/install.sh: apt-get install ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# node-zookeeper-client, exactly as pinned by node/package-lock.json
if ! node -e "require('$here/node/node_modules/node-zookeeper-client')" 2>/dev/null; then
    echo "tests/clients/install.sh: npm ci in $here/node"
    (cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
