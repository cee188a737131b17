# finsync: two commands on a fresh machine — `make run` and `make test`.
.PHONY: run test tools bench soak dist clean

## Install what is missing (pinned), start Azurite + the reference server with a demo
## population and key, serve the release app, and print the URL to open. Ctrl-C stops it all.
run:
	@scripts/tools.sh --app-only
	@scripts/run.sh

## Lints, native tests, browser unit tests and the end-to-end suite.
test: tools
	@scripts/test.sh

## Install the pinned tools (idempotent; also done by run and test).
tools:
	@scripts/tools.sh

## Benchmarks; figures go to BENCHMARKS.md.
bench: tools
	@scripts/bench.sh

## The engine simulation with 10,000 seeds (FINSYNC_SOAK_SEEDS to change); not part of make test.
soak:
	FINSYNC_SOAK_SEEDS=$${FINSYNC_SOAK_SEEDS:-10000} cargo test -p finsync-core --release engine::sim::soak -- --ignored --nocapture

## The static release bundle in dist/: hashed names, precompressed (.br, .gz), the service
## worker's file list, and headers for static hosts (docs/deploy.md). For a sub-path:
## make dist PUBLIC_URL=/finsync/ ; to complete the CSP's connect-src in dist/_headers and
## dist/staticwebapp.config.json: CONNECT_SRC='https://sync.example.org https://acct.blob.core.windows.net'
PUBLIC_URL ?= /
CONNECT_SRC ?=
dist:
	@scripts/tools.sh --app-only
	@PATH="$$PWD/node_modules/.bin:$$PATH" trunk build --release --public-url "$(PUBLIC_URL)"
	@CONNECT_SRC="$(CONNECT_SRC)" node scripts/postbuild.mjs

clean:
	cargo clean
	rm -rf dist test-output .data
