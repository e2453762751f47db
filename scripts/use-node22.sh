#!/usr/bin/env bash
# Source this file: puts Node 22 first on PATH when the machine's node is older than 22.12.
# Node comes from the npm registry (package node-linux-<arch>), cached in ~/.cache/faceparts/node-<version>.
# npm_config_nodedir points node-gyp at its headers, so native addons (better-sqlite3) build without a download.
faceparts_node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)'
}
if ! faceparts_node_ok; then
  case "$(uname -m)" in
    x86_64) faceparts_arch=x64 ;;
    aarch64 | arm64) faceparts_arch=arm64 ;;
    *) echo "no Node 22 package for $(uname -m): install Node >= 22.12 yourself" >&2; return 1 2>/dev/null || exit 1 ;;
  esac
  faceparts_version=22.23.5
  faceparts_node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/faceparts/node-${faceparts_version}-${faceparts_arch}"
  if [ ! -x "$faceparts_node_dir/bin/node" ]; then
    faceparts_tmp=$(mktemp -d)
    (cd "$faceparts_tmp" && npm pack --silent "node-linux-${faceparts_arch}@${faceparts_version}" >/dev/null)
    mkdir -p "$faceparts_node_dir"
    tar xzf "$faceparts_tmp"/node-linux-*.tgz -C "$faceparts_node_dir" --strip-components=1
    rm -rf "$faceparts_tmp"
  fi
  export PATH="$faceparts_node_dir/bin:$PATH"
  export npm_config_nodedir="$faceparts_node_dir"
  echo "using Node $(node --version) from $faceparts_node_dir"
fi
