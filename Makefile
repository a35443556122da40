GO ?= go
BIN := bin/zkserver
PORT ?= 2181
DATA ?= ./data

.PHONY: build run test test-race fuzz bench vet compat-zk zk-deps

build:
	$(GO) build -o $(BIN) ./cmd/zkserver

run: build
	./$(BIN) start --port $(PORT) --data-dir $(DATA)

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed"; exit 1)
	$(GO) vet ./...

test: vet
	$(GO) test -race -count=1 ./...

# Short fuzz pass over every decoder (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@for t in $$($(GO) test -list '^Fuzz' ./wire/ | grep '^Fuzz'); do \
		echo "== $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./wire/ || exit 1; \
	done

bench: build
	@echo "benchmarks arrive with issue 4"; $(GO) test -run '^$$' -bench . ./...
