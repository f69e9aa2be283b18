# The two commands: `make run` (the application, with demo data) and `make test` (the suite).
# The work is in scripts/; see README.md.
.PHONY: run test bench lint messages ci

run:
	@scripts/run

# make test ARGS="accounts -x": extra pytest arguments
test:
	@scripts/test $(ARGS)

bench:
	@scripts/bench

lint:
	@scripts/lint

messages:
	@scripts/messages

# What CI runs: both profiles, against the local PostgreSQL and Redis.
ci:
	@bash .ci/run
