# ztgo developer targets. `make test` is what CI runs (.ci/run).

GO       ?= go
FUZZTIME ?= 10s
# How long the fuzzer may spend shrinking each new interesting input (Go's
# default, 60 s, swallows a short run of a slow target whole).
FUZZMINIMIZETIME ?= 5s

# The oldest Go that builds, tests and checks run on: it has the standard
# library's security fixes that govulncheck asks for (net/http, crypto/tls,
# crypto/x509 in go1.26.8). Where the machine's own Go is older, the go
# command fetches this one from the module proxy once (about 76 MB).
SECURE_GO := go1.27.3
LOCAL_GO  := $(shell $(GO) env GOVERSION 2>/dev/null)
ifneq ($(shell printf '%s\n%s\n' $(SECURE_GO) $(LOCAL_GO) | sort -V | tail -1),$(LOCAL_GO))
export GOTOOLCHAIN := $(SECURE_GO)
endif

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test fmtcheck vet crossbuild check tidycheck staticcheck vulncheck bench fuzz demo perf clean

all: build

# ztgo is the node and its CLI, built without cgo: a static binary that
# neither loads libc nor carries its per-thread heaps (about 5 MB less RSS).
# The developer tools are binaries of their own so the node does not carry
# their code: ztgo-demo (a whole network, userspace stacks) and ztdump (the
# capture decoder).
build:
	CGO_ENABLED=0 $(GO) build -o bin/ztgo ./cli/ztgo
	$(GO) build -o bin/ztgo-demo ./tools/ztgo-demo
	$(GO) build -o bin/ztdump ./tools/ztdump

test: fmtcheck vet crossbuild check
	$(GO) test -race ./...

# Static checks that keep the tree honest: go.mod and go.sum tidy,
# staticcheck clean, no known vulnerability reachable from our code.
check: tidycheck staticcheck vulncheck

tidycheck:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

staticcheck:
	$(GO) run $(STATICCHECK) ./...

vulncheck:
	GO=$(GO) tools/checks/vulncheck.sh

# The macOS, Windows and FreeBSD drivers are built and vetted on every run.
crossbuild:
	@for os in darwin windows freebsd; do \
		echo "== GOOS=$$os"; \
		GOOS=$$os $(GO) build ./... && GOOS=$$os $(GO) vet ./drivers/... ./cli/... || exit 1; \
	done

# Fails listing the files gofmt would change.
fmtcheck:
	@files=$$(gofmt -l .); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Runs every fuzz target in the repository for FUZZTIME each; a target is
# found by its `func FuzzXxx(` line, so new ones need no edit here. A failed
# run is retried once: the Go fuzzer sometimes ends a loaded run with a bare
# "context deadline exceeded", while a real crasher is written to testdata
# and fails the retry at once.
fuzz:
	@grep -rl --include='*_test.go' --exclude-dir=testdata --exclude-dir=.git '^func Fuzz[A-Za-z0-9_]*(' . | sort | \
	while read -r file; do \
		pkg=./$$(dirname "$${file#./}"); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$file"); do \
			echo "== $$pkg $$fn"; \
			$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) "$$pkg" || \
			$(GO) test -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) "$$pkg" || exit 1; \
		done; \
	done

# A whole virtual network in one process: private root, controller, two
# members with userspace stacks; ping and HTTP across it. No root needed.
demo: build
	bin/ztgo-demo

# Throughput, latency, CPU and memory of two ztgo members with real TAPs in
# network namespaces, against the bare underlay (and ZeroTierOne 1.14.1 when
# ZTGO_REFERENCE_BIN names its zerotier-one); prints a markdown table. Root
# only (it skips otherwise); see spec/performance.md. DURATION is seconds
# per iperf3 run, RUNS the runs per median.
DURATION ?= 5
RUNS     ?= 3
perf: build
	ZTGO_PERF=1 ZTGO_BIN=$(CURDIR)/bin/ztgo ZTGO_PERF_DURATION=$(DURATION) ZTGO_PERF_RUNS=$(RUNS) \
		$(GO) test -count=1 -v -timeout 30m -run '^TestPerf$$' ./tools/perf

clean:
	rm -rf bin
