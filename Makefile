# The single entry point: `make demo` runs the end-to-end scenario, `make test` installs what is missing
# and runs every test (unit, PostgreSQL, SoftHSM, cross-checks with poppler/qpdf/openssl, fuzz seeds).
GO        ?= go
BIN       := bin/lienthong
export CGO_ENABLED := 1
# Build and test with Go 1.27.3 or newer: go.mod's toolchain line names 1.27.3 and `auto` lets the go
# command fetch it through the module proxy when the machine's Go is older (this kind of machine sets
# GOTOOLCHAIN=local, which ignores that line). govulncheck finds 13 vulnerabilities of Go 1.26.8's
# standard library (net/http, crypto/tls, crypto/x509, html/template) on paths our code calls, all
# fixed in 1.27.3. go.mod's language version stays `go 1.26.8`. A GOTOOLCHAIN in the environment wins.
export GOTOOLCHAIN ?= auto
TEST_TIMEOUT ?= 25m

.PHONY: all build deps test demo bench fuzz vet vulncheck clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/lienthong

deps:
	./scripts/install-deps.sh

# staticcheck is pinned; `go run pkg@version` fetches it through the module proxy like any dependency.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l . ; echo 'gofmt needed'; exit 1; }

test: deps build vet
	CGO_ENABLED=0 $(GO) build ./...
	./scripts/with-postgres.sh $(GO) test -p 2 -timeout $(TEST_TIMEOUT) -count=1 ./...

demo: deps build
	$(BIN) demo

bench: deps build
	PACKETS=$${PACKETS:-300} ./scripts/with-postgres.sh $(GO) test -run '^$$' -bench . -benchmem ./...

# govulncheck against a local copy of the Go vulnerability database, built from the pinned
# golang.org/x/vulndb module (vuln.go.dev itself is not reachable here); bump VULNDB to refresh it.
VULNDB ?= golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
vulncheck:
	@dir=$$($(GO) mod download -json $(VULNDB) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$dir" || { echo "vulncheck: cannot download $(VULNDB) from the module proxy" >&2; exit 1; }; \
	  rm -rf bin/vulndb && (cd "$$dir" && $(GO) run ./cmd/indexdb -vulns data/osv -out $(CURDIR)/bin/vulndb) && \
	  $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0 -db file://$(CURDIR)/bin/vulndb ./...

# Runs every fuzz target for FUZZTIME each (seed corpora live in testdata/ and run in `make test`).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
