# One command runs the service, one runs the tests; each installs what it needs into .venv/.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | md5sum | cut -c1-12)

.PHONY: run test bench-transitions bench-delivery bench-sweep bench-reads bench-signin bench-documents bench-reports clean

$(STAMP):
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

# The service on the embedded default: a SQLite file here, demo data, emails captured locally.
run: $(STAMP)
	$(VENV)/bin/rso up --demo

# Days the date-sensitive tests run as of too, around Thailand's holidays: the Friday before
# Songkran, New Year's Eve (a holiday itself), the Friday before King Bhumibol's birthday and
# Constitution Day.
TEST_DAYS ?= 2027-04-09 2026-12-31 2027-12-03
# ...on SQLite (the date arithmetic is the service's, whatever the database; the full run above
# covers both). `make test TEST_DAYS_DATABASES=sqlite,postgresql` runs them on both.
TEST_DAYS_DATABASES ?= sqlite

# The whole suite, on SQLite and on PostgreSQL (started here if it is down), with the browser
# tests in Debian's chromium (installed here if it is missing): one process a database, side
# by side (the tests that use no database run with SQLite's; with RSO_TEST_DATABASES set, one
# process runs what it names); then the tests marked `dates`
# again as of each of TEST_DAYS, the days side by side (each on its own SQLite files and
# ports), their output one day after the other. Any failure, or a run that finds no test, fails.
test: $(STAMP)
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
ifeq ($(RSO_TEST_DATABASES),)
	@log=$$(mktemp); \
	  ( RSO_TEST_DATABASES=postgresql RSO_TEST_ONLY_DATABASE_TESTS=1 $(VENV)/bin/python -m pytest -q \
	    -p no:cacheprovider $(PYTEST_ARGS) > $$log 2>&1 ) & pg=$$!; \
	  echo "== SQLite, and every test that uses no database (PostgreSQL's run alongside, printed after)"; \
	  RSO_TEST_DATABASES=sqlite $(VENV)/bin/python -m pytest $(PYTEST_ARGS); lite=$$?; \
	  wait $$pg; pgrc=$$?; echo "== PostgreSQL"; cat $$log; rm -f $$log; \
	  test $$lite = 0 && test $$pgrc = 0
else
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)
endif
	@logs=$$(mktemp -d); for day in $(TEST_DAYS); do \
	  ( RSO_TEST_TODAY=$$day RSO_TEST_DATABASES=$(TEST_DAYS_DATABASES) $(VENV)/bin/python -m pytest -q -m dates \
	    -p no:cacheprovider $(PYTEST_ARGS) > $$logs/$$day.log 2>&1; echo $$? > $$logs/$$day.rc ) & done; wait; \
	  failed=0; for day in $(TEST_DAYS); do echo "== the date-sensitive tests as of $$day"; cat $$logs/$$day.log; \
	  test "$$(cat $$logs/$$day.rc)" = 0 || failed=1; done; rm -rf $$logs; exit $$failed

bench-transitions: $(STAMP)
	$(VENV)/bin/python -m bench.transitions $(BENCH_ARGS)

bench-delivery: $(STAMP)
	$(VENV)/bin/python -m bench.delivery $(BENCH_ARGS)

bench-sweep: $(STAMP)
	$(VENV)/bin/python -m bench.sweep $(BENCH_ARGS)

bench-reads: $(STAMP)
	$(VENV)/bin/python -m bench.reads $(BENCH_ARGS)

bench-documents: $(STAMP)
	$(VENV)/bin/python -m bench.documents $(BENCH_ARGS)

bench-reports: $(STAMP)
	$(VENV)/bin/python -m bench.reports $(BENCH_ARGS)

bench-signin: $(STAMP)
	$(VENV)/bin/python -m bench.signin $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis rso.db rso.db-wal rso.db-shm
