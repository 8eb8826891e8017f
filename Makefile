# The whole project builds from this one Makefile (no recursion).
#
#   make                 build everything (release flavour, build/release/)
#   make SAN=1           the same with AddressSanitizer + UBSan (build/asan/)
#   make run             install missing packages, build, start the local stack
#   make test            install missing packages, build, run every test tier
#   make test-unit       cmocka unit tests            (also: test-e2e, test-fault, test-asan)
#   make bench           benchmarks beside NATS JetStream and Redis Streams
#   make format          clang-format every C file
#   make regen-kafka SCHEMAS=../shared/kafka-protocol/messages   regenerate common/kmsg/
#
# Warnings are errors in every flavour.

.DEFAULT_GOAL := all

SAN ?= 0
CC ?= gcc

ifeq ($(SAN),1)
FLAVOUR := asan
OPT := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
FLAVOUR := release
OPT := -O2
endif

B := build/$(FLAVOUR)
BIN := $(B)/bin

# V=1 prints whole commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
        -Wmissing-prototypes -Wstrict-prototypes -Wvla
CFLAGS := -std=c11 -D_GNU_SOURCE -g -pthread $(OPT) $(WARN) -MMD -MP \
          -Icommon -Icommon/kmsg $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(OPT) $(EXTRA_LDFLAGS)
# Generated codecs: warnings that their uniform shape triggers are not bugs.
KMSG_CFLAGS := -Wno-missing-prototypes -Wno-unused-function

COMPRESS_LIBS := -lz -llz4 -lzstd -lsnappy
RDKAFKA_LIBS := -lrdkafka

# ---- shared library --------------------------------------------------------

COMMON_SRC := $(wildcard common/*.c)
KMSG_SRC := $(wildcard common/kmsg/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o) $(KMSG_SRC:%.c=$(B)/%.o)
LIBCOMMON := $(B)/libcommon.a

$(B)/common/kmsg/%.o: common/kmsg/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(KMSG_CFLAGS) -c $< -o $@

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

# ---- broker ----------------------------------------------------------------

BROKER_SRC := $(filter-out brokers/bk_main.c,$(wildcard brokers/*.c))
BROKER_OBJ := $(BROKER_SRC:%.c=$(B)/%.o)
LIBBROKER := $(B)/libbroker.a
BROKER := $(BIN)/streamd-broker
BROKER_LIBS := $(LIBBROKER) $(LIBCOMMON) $(COMPRESS_LIBS)

$(LIBBROKER): $(BROKER_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BROKER): $(B)/brokers/bk_main.o $(LIBBROKER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(BROKER_LIBS)

# ---- test programs and tools -----------------------------------------------

# Unit tests: one binary per tests/unit/<dir>/test_*.c, linked with the libraries.
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)

$(B)/tests/unit/%: tests/unit/%.c $(LIBBROKER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Ibrokers -Itests/unit -o $@ $< $(BROKER_LIBS) -lcmocka $(LDFLAGS)

# Test tools and benchmarks: one binary per C file, built on librdkafka and our codec.
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BIN)/%)

$(BIN)/%: tests/tools/%.c $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIBCOMMON) $(COMPRESS_LIBS) $(RDKAFKA_LIBS) $(LDFLAGS)

BENCH_BIN := $(BIN)/bench-kafka $(BIN)/bench-fsync
BENCH_PEER_BIN := $(BIN)/bench-nats $(BIN)/bench-redis

$(BIN)/bench-kafka: tests/bench/bench_kafka.c tests/bench/bench_common.h $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIBCOMMON) $(RDKAFKA_LIBS) $(LDFLAGS) -lm

$(BIN)/bench-fsync: tests/bench/bench_fsync.c tests/bench/bench_common.h
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(BIN)/bench-nats: tests/bench/bench_nats.c tests/bench/bench_common.h
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< -lnats $(LDFLAGS) -lm

$(BIN)/bench-redis: tests/bench/bench_redis.c tests/bench/bench_common.h
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< -lhiredis $(LDFLAGS) -lm

# ---- top-level targets -----------------------------------------------------

.PHONY: all deps run stop test test-unit test-e2e test-fault test-asan bench format \
        regen-kafka clean

all: $(BROKER) $(UNIT_BIN) $(TOOL_BIN)

deps:
	@deploy/deps.sh build test

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/run-local.sh $(CURDIR)/$(BIN)

stop:
	@deploy/stop-local.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit test-e2e test-fault
	@$(MAKE) --no-print-directory test-asan

test-unit: all
	@tests/run-tier.sh unit $(B)

test-e2e: all
	@tests/run-tier.sh e2e $(B)

test-fault: all
	@tests/run-tier.sh fault $(B)

# The sanitizer build and the unit and end-to-end tiers under it.
test-asan:
	@$(MAKE) --no-print-directory SAN=1 all
	@tests/run-tier.sh unit build/asan
	@tests/run-tier.sh e2e build/asan

bench: deps
	@deploy/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(BENCH_PEER_BIN)
	@tests/bench/run.sh $(B)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

regen-kafka:
	@test -n "$(SCHEMAS)" || { echo "usage: make regen-kafka SCHEMAS=path/to/kafka/messages"; exit 2; }
	python3 tools/kafka-gen/gen.py $(SCHEMAS) common/kmsg

clean:
	rm -rf build

-include $(COMMON_OBJ:.o=.d) $(BROKER_OBJ:.o=.d) $(B)/brokers/bk_main.d
