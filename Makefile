# zconform: every entry point. `make conformance` is the main job, `make test`
# the tests. A fresh machine needs only Go (and Node.js with npm for the checks
# against the official Zoho Node SDK and the JUnit schema); the rest is fetched here.

GO       ?= go
GINKGO   := $(GO) tool ginkgo
# the commit and version the binary was built from, for reports and
# certificates (go run and -buildvcs=false stamp none); VERSION is the
# nearest v* tag (git describe), or set it: make release VERSION=v0.2.0
COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git status --porcelain 2>/dev/null | grep -q . && echo -dirty)
VERSION  ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null)
VPKG     := github.com/zconform/zconform/internal/version
LDFLAGS  := -ldflags '$(if $(COMMIT),-X $(VPKG).commit=$(COMMIT)) $(if $(VERSION),-X $(VPKG).version=$(VERSION))'
NODESDK  := fakeserver/testdata/nodesdk
# the npm packages of the Node checks and adapters: installed again only
# when a lock file changed
NPM_DIRS := $(NODESDK) reports/testdata/xsd certify/adapters/nodesdk certify/adapters/tssdk certify/adapters/simpleoauth2
NPM_STAMPS := $(addsuffix /node_modules/.zconform-installed,$(NPM_DIRS))
# Debian packages tests need: the Python adapter and example, the CI
# examples' shell steps (shellcheck, jq), and the image's independent
# readers and engine (podman with runc, skopeo, umoci)
DEBS     := python3-requests-oauthlib python3-requests python3-pytest curl shellcheck jq podman runc skopeo umoci
ADDR     ?= 127.0.0.1:8080
FUZZTIME ?= 10s
# minimizing a new input may take this long; the default (60s) would eat a
# short run's whole budget
FUZZMINIMIZETIME ?= 1s
# package:target; go test runs one fuzz target per invocation
FUZZ_TARGETS := \
	fakeserver:FuzzTokenEndpoint fakeserver:FuzzAuthorizeEndpoint fakeserver:FuzzControlAPI fakeserver:FuzzSeedFile \
	fakeserver:FuzzDeviceEndpoints \
	fixtures:FuzzCatalogueParse suites/target:FuzzTargetFile reports:FuzzDeviations

.PHONY: conformance certify test deps vet fmt-check unit profiles ginkgo fake bench catalogue help fuzz mutation release zconform image

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# conformance and certify build bin/zconform and exec it, so that a SIGINT or
# SIGTERM reaches zconform itself (go run would not pass a SIGTERM on) and it
# can revoke what the run created before it stops.
conformance: zconform ## the main job: the whole catalogue against the bundled fake; reports in out/ (PROFILE=, LABELS=, OUT=, VIA=proxy)
	exec bin/zconform run $(if $(VIA),-via $(VIA)) $(if $(PROFILE),-profile $(PROFILE)) $(if $(LABELS),-label-filter '$(LABELS)') $(if $(OUT),-out $(OUT))

certify: zconform ## certify an integration against the fake (ADAPTER=go:careful|go:oauth2|node-sdk|ts-sdk|simple-oauth2|python-requests-oauthlib|python-stdlib|cmd CMD=…, VIA=proxy)
	exec bin/zconform certify -adapter $(or $(ADAPTER),go:careful) $(if $(CMD),-cmd '$(CMD)') $(if $(VIA),-via $(VIA))

zconform: ## build bin/zconform (the one binary: run, certify, fake, diff, catalogue, version)
	@[ -x bin/zconform ] || echo "building bin/zconform: a first build downloads the Go modules and compiles every package (about a minute on 2 cores)" >&2
	$(GO) build $(LDFLAGS) -o bin/zconform ./cmd/zconform

release: ## release archives for linux/darwin/windows on amd64/arm64 with SHA256SUMS in dist/ (VERSION=v0.2.0; offline)
	@[ -n "$(VERSION)" ] || { echo "make release needs VERSION=vX.Y.Z (or a v* tag on HEAD)"; exit 2; }
	$(GO) run ./scripts/release -version $(VERSION) -commit $(COMMIT) -out dist

# the image's platforms: this machine's by default; a release builds both,
# make image IMAGE_PLATFORMS="linux/amd64 linux/arm64"
IMAGE_PLATFORMS ?= linux/$(shell $(GO) env GOARCH)

image: ## the container image, from scratch and offline, as an OCI archive: bin/zconform-image.tar (podman load -i …; IMAGE_PLATFORMS=)
	@for p in $(IMAGE_PLATFORMS); do \
		os=$${p%%/*}; arch=$${p#*/}; \
		echo "building bin/$$os-$$arch/zconform (static, CGO_ENABLED=0)"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath $(LDFLAGS) -o bin/$$os-$$arch/zconform ./cmd/zconform || exit 1; \
	done
	$(GO) run ./scripts/image $(foreach p,$(IMAGE_PLATFORMS),-binary bin/$(subst /,-,$(p))/zconform) $(if $(VERSION),-version $(VERSION)) $(if $(COMMIT),-commit $(COMMIT)) -o bin/zconform-image.tar

catalogue: ## list the catalogue's cases
	$(GO) run ./cmd/zconform catalogue

test: deps fmt-check vet unit profiles ## the project's tests: gofmt, go vet, go test -race (each test once), the conformance suite under the second profile, and through the fake's proxy

deps: $(NPM_STAMPS) ## fetch Go modules, the npm packages of the Node checks and adapters (when their lock files changed), the Debian packages the tests use (DEBS: python3-pytest, shellcheck, podman, ...)
	$(GO) mod download
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian's" $$missing "(for the Python adapter and example, the CI examples' tests and the image's tests)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "Debian's" $$missing "missing and apt-get cannot run here: the tests that need them skip (install them with apt-get as root)"; \
		fi; \
	fi

%/node_modules/.zconform-installed: %/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $* --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the Node tests in $* will fail; install Node.js, or set ZCONFORM_SKIP_NODE=1 to skip them"; \
	fi

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './$(NODESDK)/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

# The tests' own conformance reports go to a scratch folder: never over a
# user's out/. Each test runs once: go test runs the Ginkgo suites too (in
# random order, failing on pending specs). The longest package,
# cmd/zconform, builds and runs the binary and the reference adapters:
# about 3 minutes alone, more on a loaded machine, hence -timeout.
unit: ## go test -race over every package
	ZCONFORM_OUT=$$(mktemp -d) ZCONFORM_RANDOMIZE_ALL=1 $(GO) test -race -count=1 -timeout 20m ./...

profiles: ## the conformance suite against the fake under the second profile (accounts-2025), and through the fake's proxy on Zoho's real host names
	ZCONFORM_OUT=$$(mktemp -d) ZCONFORM_RANDOMIZE_ALL=1 ZCONFORM_PROFILE=accounts-2025 $(GO) test -race -count=1 ./suites/conformance
	ZCONFORM_OUT=$$(mktemp -d) ZCONFORM_RANDOMIZE_ALL=1 ZCONFORM_VIA=proxy $(GO) test -race -count=1 ./suites/conformance

ginkgo: ## (not in make test) the Ginkgo suites with the ginkgo CLI, in parallel and in random order
	ZCONFORM_OUT=$$(mktemp -d) $(GINKGO) -r -p --randomize-all --fail-on-pending --fail-on-empty --keep-going $(if $(CI),--no-color)

mutation: ## mutation testing of the fake's rule code with the conformance suite as the only oracle (about 16 minutes on 2 cores; not in CI)
	scripts/mutation/run

fake: ## serve the fake on $(ADDR) (override: make fake ADDR=127.0.0.1:9000 SEED=seed.yaml)
	$(GO) run ./cmd/zconform fake -addr $(ADDR) $(if $(SEED),-seed $(SEED))

fuzz: ## run each fuzz target for FUZZTIME (default 10s; make fuzz FUZZTIME=5m for a long run); failing inputs land in the package's testdata/fuzz
	@GO="$(GO)" FUZZTIME="$(FUZZTIME)" FUZZMINIMIZETIME="$(FUZZMINIMIZETIME)" scripts/fuzz/run $(FUZZ_TARGETS)

bench: ## benchmarks of the fake (exchange, refresh, bare-handler ceiling, memory per token)
	$(GO) test -run '^$$' -bench . -benchmem ./fakeserver/
