# Sourced by the other scripts: where tools live and how wrangler is kept offline.
TOOLS_DIR=${TOOLS_DIR:-$PWD/.tools}
export TOOLS_DIR
export PATH="$TOOLS_DIR/node/bin:$TOOLS_DIR/bin:$PWD/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$TOOLS_DIR/bin/wasm-bindgen"
# wrangler bundles esbuild; reuse it rather than letting worker-build download one.
export ESBUILD_BIN="$PWD/node_modules/esbuild/bin/esbuild"
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false
