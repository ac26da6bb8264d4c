# zconform: every entry point. `make conformance` is the main job, `make test`
# the tests. A fresh machine needs only Go (and Node.js with npm for the checks
# against the official Zoho Node SDK and the JUnit schema); the rest is fetched here.

GO       ?= go
GINKGO   := $(GO) tool ginkgo
# the commit the run was built from, for reports and certificates (go run
# and -buildvcs=false stamp none)
COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git status --porcelain 2>/dev/null | grep -q . && echo -dirty)
LDFLAGS  := $(if $(COMMIT),-ldflags '-X github.com/zconform/zconform/internal/version.commit=$(COMMIT)')
NODESDK  := fakeserver/testdata/nodesdk
ADDR     ?= 127.0.0.1:8080
FUZZTIME ?= 10s
# minimizing a new input may take this long; the default (60s) would eat a
# short run's whole budget
FUZZMINIMIZETIME ?= 1s
# package:target; go test runs one fuzz target per invocation
FUZZ_TARGETS := \
	fakeserver:FuzzTokenEndpoint fakeserver:FuzzAuthorizeEndpoint fakeserver:FuzzControlAPI fakeserver:FuzzSeedFile \
	fixtures:FuzzCatalogueParse suites/target:FuzzTargetFile reports:FuzzDeviations

.PHONY: conformance certify test deps vet fmt-check unit ginkgo fake bench catalogue help fuzz mutation

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# conformance and certify build bin/zconform and exec it, so that a SIGINT or
# SIGTERM reaches zconform itself (go run would not pass a SIGTERM on) and it
# can revoke what the run created before it stops.
conformance: ## the main job: the whole catalogue against the bundled fake; reports in out/ (PROFILE=, LABELS=, OUT=)
	$(GO) build $(LDFLAGS) -o bin/zconform ./cmd/zconform && exec bin/zconform run $(if $(PROFILE),-profile $(PROFILE)) $(if $(LABELS),-label-filter '$(LABELS)') $(if $(OUT),-out $(OUT))

certify: ## certify an integration against the fake (ADAPTER=go:careful|go:oauth2|node-sdk|ts-sdk|simple-oauth2|python-requests-oauthlib|python-stdlib|cmd CMD=…)
	$(GO) build $(LDFLAGS) -o bin/zconform ./cmd/zconform && exec bin/zconform certify -adapter $(or $(ADAPTER),go:careful) $(if $(CMD),-cmd '$(CMD)')

catalogue: ## list the catalogue's cases
	$(GO) run ./cmd/zconform catalogue

test: deps fmt-check vet unit ginkgo ## the project's tests: gofmt, go vet, go test -race, Ginkgo suites in parallel

deps: ## fetch Go modules, the npm packages of the Node checks and adapters, and Debian's python3-requests-oauthlib
	$(GO) mod download
	@if ! /usr/bin/python3 -c 'import requests_oauthlib' >/dev/null 2>&1; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian's python3-requests-oauthlib (for the requests-oauthlib adapter)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-requests-oauthlib >/dev/null; \
		else \
			echo "python3-requests-oauthlib is missing and apt-get cannot run here: its adapter's test will skip (install it with apt-get as root)"; \
		fi; \
	fi
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NODESDK) --no-audit --no-fund --loglevel=error && \
		npm ci --prefix reports/testdata/xsd --no-audit --no-fund --loglevel=error && \
		npm ci --prefix certify/adapters/nodesdk --no-audit --no-fund --loglevel=error && \
		npm ci --prefix certify/adapters/tssdk --no-audit --no-fund --loglevel=error && \
		npm ci --prefix certify/adapters/simpleoauth2 --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the Node SDK test will fail; install Node.js, or set ZCONFORM_SKIP_NODE=1 to skip it"; \
	fi

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './$(NODESDK)/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

# The tests' own conformance reports go to a scratch folder: never over a
# user's out/.
unit: ## go test -race over every package
	ZCONFORM_OUT=$$(mktemp -d) $(GO) test -race -count=1 ./...

ginkgo: ## the Ginkgo suites, in parallel and in random order; the conformance suite under both profiles
	ZCONFORM_OUT=$$(mktemp -d) $(GINKGO) -r -p --randomize-all --fail-on-pending --fail-on-empty --keep-going $(if $(CI),--no-color)
	ZCONFORM_OUT=$$(mktemp -d) ZCONFORM_PROFILE=accounts-2025 $(GINKGO) -p --randomize-all --fail-on-empty $(if $(CI),--no-color) ./suites/conformance

mutation: ## mutation testing of the fake's rule code with the conformance suite as the only oracle (about 10 minutes on 2 cores; not in CI)
	scripts/mutation/run

fake: ## serve the fake on $(ADDR) (override: make fake ADDR=127.0.0.1:9000 SEED=seed.yaml)
	$(GO) run ./cmd/zconform fake -addr $(ADDR) $(if $(SEED),-seed $(SEED))

fuzz: ## run each fuzz target for FUZZTIME (default 10s; make fuzz FUZZTIME=5m for a long run); failing inputs land in the package's testdata/fuzz
	@fail=0; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "== $$name (./$$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$pkg || fail=1; \
	done; exit $$fail

bench: ## benchmarks of the fake (exchange, refresh, bare-handler ceiling, memory per token)
	$(GO) test -run '^$$' -bench . -benchmem ./fakeserver/
