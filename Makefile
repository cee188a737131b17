# finsync: two commands on a fresh machine — `make run` and `make test`.
.PHONY: run test tools bench soak dist clean

## Install what is missing (pinned), start Azurite + the reference server with a demo
## population and key, serve the release app, and print the URL to open. Ctrl-C stops it all.
run: tools
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

## The static release bundle in dist/.
dist: tools
	@PATH="$$PWD/node_modules/.bin:$$PATH" trunk build --release

clean:
	cargo clean
	rm -rf dist test-output .data
