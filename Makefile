# Shuqiao 数桥. `make demo` runs the platform with demo data; `make test` runs every test.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X shuqiao/internal/app.Version=$(VERSION)
# Tests run on SQLite always, and on PostgreSQL too when SHUQIAO_TEST_POSTGRES holds a DSN
# (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build demo serve test test-short vet fmt fmt-check bench fuzz clean web web-test

all: build

# The web app (web/) is built into web/dist and embedded in the binary. Where
# npm is missing, `go build` embeds a placeholder page instead; `make build NPM=`
# skips the app on purpose.
NPM ?= $(shell command -v npm 2>/dev/null)
CHROMIUM ?= /usr/bin/chromium

ifneq ($(NPM),)
build: web
endif
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/shuqiao ./cmd/shuqiao

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund

web: web/node_modules/.package-lock.json
	cd web && npm run build

# Browser tests in Debian's Chromium against the real server (web/e2e);
# screenshots go to web/test-results/. They fail when Chromium is missing.
web-test: web
	cd web && CHROMIUM=$(CHROMIUM) npm run test:browser

demo: build
	./bin/shuqiao demo

serve: build
	./bin/shuqiao serve

# Browser tests run too where Chromium and npm are installed, and always in CI.
test:
	$(GO) test $(TESTFLAGS) ./...
	@if [ -n "$$CI" ] || { [ -x "$(CHROMIUM)" ] && [ -n "$(NPM)" ]; }; then $(MAKE) web-test; \
	else echo "make test: browser tests not run here (no $(CHROMIUM) or npm); make web-test runs them"; fi

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Benchmarks print the governed figure, the raw baseline measured in the same run, and their ratio.
bench:
	@set -e; for d in bench/*/; do case $$d in bench/harness/) continue;; esac; echo "== $$d"; $(GO) run ./$$d; done

# Short fuzzing of every parser of outside input (FUZZTIME=1m for longer).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
