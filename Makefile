# The single entry point: `make demo` runs the end-to-end scenario, `make test` installs what is missing
# and runs every test (unit, PostgreSQL, SoftHSM, cross-checks with poppler/qpdf/openssl, fuzz seeds).
GO        ?= go
BIN       := bin/lienthong
export CGO_ENABLED := 1
TEST_TIMEOUT ?= 25m

.PHONY: all build deps test demo bench fuzz vet clean

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
