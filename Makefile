# The whole project builds from this one Makefile (no recursion).
#
#   make                 build everything (release flavour, build/release/)
#   make SAN=1           the same with AddressSanitizer + UBSan (build/asan/)
#   make run             install missing packages, build, start the local stack
#   make test            install missing packages, build, run every test tier
#   make test-unit       cmocka unit tests  (also: test-component, test-e2e, test-fault, test-asan)
#   make bench           benchmarks beside NATS JetStream and Redis Streams
#   make fuzz            libFuzzer targets, 600 s each (FUZZ_SECONDS=60, FUZZ_TARGETS=json; also fuzz-smoke)
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
# libh2o's .pc file leaves out H2O_USE_LIBUV=0, without which its structs mismatch.
CFLAGS := -std=c11 -D_GNU_SOURCE -g -pthread $(OPT) $(WARN) -MMD -MP \
          -Icommon -Icommon/kmsg -I$(B)/gen -I/usr/include/postgresql -DH2O_USE_LIBUV=0 \
          $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(OPT) $(EXTRA_LDFLAGS)
# Generated codecs: warnings that their uniform shape triggers are not bugs.
KMSG_CFLAGS := -Wno-missing-prototypes -Wno-unused-function

COMPRESS_LIBS := -lz -llz4 -lzstd -lsnappy
RDKAFKA_LIBS := -lrdkafka
PG_LIBS := -lpq
HTTP_LIBS := -lh2o-evloop -lssl -lcrypto
CURL_LIBS := -lcurl

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
BROKER_LIBS := $(LIBBROKER) $(LIBCOMMON) $(COMPRESS_LIBS) $(PG_LIBS) $(CURL_LIBS) -lcrypto

$(LIBBROKER): $(BROKER_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BROKER): $(B)/brokers/bk_main.o $(LIBBROKER) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(BROKER_LIBS)

# ---- control plane ---------------------------------------------------------

# The SQL migrations are compiled in (tools/embed-sql.sh), so the daemon never reads them
# from disk at run time.
MIGRATIONS := $(sort $(wildcard control-plane/migrations/*.sql))
CP_GEN := $(B)/control-plane/cp_migrations.c
CP_SRC := $(filter-out control-plane/cp_main.c,$(wildcard control-plane/*.c))
CP_OBJ := $(CP_SRC:%.c=$(B)/%.o) $(B)/control-plane/cp_migrations.o
LIBCP := $(B)/libcp.a
CONTROL_PLANE := $(BIN)/streamd-control-plane
STREAMCTL := $(BIN)/streamctl
CP_LIBS := $(LIBCP) $(LIBCOMMON) $(HTTP_LIBS) $(PG_LIBS) $(COMPRESS_LIBS)

$(CP_GEN): $(MIGRATIONS) tools/embed-sql.sh
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	$(Q)tools/embed-sql.sh $@ $(MIGRATIONS)

$(B)/control-plane/cp_migrations.o: $(CP_GEN)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Icontrol-plane -c $< -o $@

$(B)/control-plane/%.o: control-plane/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Icontrol-plane -c $< -o $@

$(LIBCP): $(CP_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(CONTROL_PLANE): $(B)/control-plane/cp_main.o $(LIBCP) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(CP_LIBS)

STREAMCTL_SRC := $(wildcard control-plane/cli/*.c)

$(STREAMCTL): $(STREAMCTL_SRC) control-plane/cli/streamctl_internal.h $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(STREAMCTL_SRC) $(LIBCOMMON) $(CURL_LIBS) $(LDFLAGS)

# ---- gateway ---------------------------------------------------------------

# The tenant gRPC API: C message codecs generated from proto/ by protoc-c at build time.
PROTO_SRC := proto/streaming/v1/streaming.proto
PROTO_GEN_C := $(PROTO_SRC:proto/%.proto=$(B)/gen/%.pb-c.c)
PROTO_GEN_H := $(PROTO_GEN_C:.c=.h)
PROTO_OBJ := $(PROTO_GEN_C:.c=.o)
GRPC_LIBS := -lgrpc -lgpr -lprotobuf-c

$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/gen
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(B)/gen $<

# protoc-c's initializers of oneof members leave out braces.
PROTO_CFLAGS := -Wno-missing-braces

$(B)/gen/%.pb-c.o: $(B)/gen/%.pb-c.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(PROTO_CFLAGS) -c $< -o $@

GATEWAY_SRC := $(wildcard gateway/*.c)
GATEWAY_OBJ := $(GATEWAY_SRC:%.c=$(B)/%.o)
GATEWAY := $(BIN)/streamd-gateway
GATEWAY_LIBS := $(LIBCOMMON) $(HTTP_LIBS) $(PG_LIBS) $(CURL_LIBS) $(COMPRESS_LIBS) -ljwt \
                $(GRPC_LIBS)

# The generated headers exist before any gateway file is compiled.
$(GATEWAY_OBJ): | $(PROTO_GEN_H)

$(GATEWAY): $(GATEWAY_OBJ) $(PROTO_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $(GATEWAY_OBJ) $(PROTO_OBJ) $(GATEWAY_LIBS)

# ---- test programs and tools -----------------------------------------------

# Unit tests: one binary per tests/unit/<dir>/test_*.c, linked with the libraries.
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)

$(B)/tests/unit/%: tests/unit/%.c $(LIBBROKER) $(LIBCP) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Ibrokers -Icontrol-plane -Itests/unit -o $@ $< $(LIBBROKER) $(CP_LIBS) \
		$(CURL_LIBS) -lcmocka $(LDFLAGS)

# Test tools and benchmarks: one binary per C file, built on librdkafka and our codec.
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BIN)/%)

$(BIN)/%: tests/tools/%.c $(LIBCP) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -Icontrol-plane -o $@ $< $(CP_LIBS) $(RDKAFKA_LIBS) $(LDFLAGS)

BENCH_BIN := $(BIN)/bench-kafka $(BIN)/bench-fsync $(BIN)/bench-grpc
BENCH_PEER_BIN := $(BIN)/bench-nats $(BIN)/bench-redis

$(BIN)/bench-kafka: tests/bench/bench_kafka.c tests/bench/bench_common.h $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIBCOMMON) $(RDKAFKA_LIBS) $(LDFLAGS) -lm

$(BIN)/bench-grpc: tests/bench/bench_grpc.c tests/bench/bench_common.h $(PROTO_GEN_C)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(PROTO_CFLAGS) -o $@ $< $(PROTO_GEN_C) $(GRPC_LIBS) $(LDFLAGS)

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

# ---- fuzz targets (clang + libFuzzer) -----------------------------------------

# tests/fuzz/fuzz_<name>.c, each linked with common/ and brokers/ compiled by clang into
# build/fuzz/ (never mixed with the gcc flavours). The library objects get coverage
# instrumentation without libFuzzer's main (fuzzer-no-link); each target links libFuzzer.
# tests/fuzz/README.md says how to run them.
FUZZ_CC ?= clang
FB := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -pthread $(FUZZ_SAN) $(WARN) -MMD -MP \
               -Icommon -Icommon/kmsg -I/usr/include/postgresql -DH2O_USE_LIBUV=0 $(EXTRA_CFLAGS)
FUZZ_LIBS := $(COMPRESS_LIBS) $(HTTP_LIBS) $(PG_LIBS) $(CURL_LIBS) -ljwt
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_LIB_OBJ := $(COMMON_SRC:%.c=$(FB)/%.o) $(KMSG_SRC:%.c=$(FB)/%.o) $(BROKER_SRC:%.c=$(FB)/%.o)
FUZZ_SECONDS ?= 600

$(FB)/common/kmsg/%.o: common/kmsg/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(KMSG_CFLAGS) -c $< -o $@

$(FB)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FB)/libfuzzlib.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

# A target may #include a gateway file to reach its statics (fuzz_credentials), so gateway/
# is on its include path; the .c under test is then compiled into the target itself.
$(FB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FB)/libfuzzlib.a
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Ibrokers -Igateway -Itests/fuzz -o $@ $< \
		$(FB)/libfuzzlib.a $(FUZZ_LIBS)

# Writes the seed corpora of tests/fuzz/corpus/ (committed; rerun after a format change).
$(FB)/fuzz-seeds: tests/fuzz/gen_seeds.c $(FB)/libfuzzlib.a
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Ibrokers -o $@ $< $(FB)/libfuzzlib.a \
		$(FUZZ_LIBS)

fuzz-build:
	@deploy/deps.sh build fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

# Every target for FUZZ_SECONDS (600) from a scratch copy of its seeds; FUZZ_TARGETS=json
# (names or fragments) runs a subset. Fails when any target finds a crash.
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FB)

# The short run `make test` does: every seed replayed, then 20 s of fuzzing per target.
fuzz-smoke: fuzz-build
	@FUZZ_SECONDS=20 tests/fuzz/run.sh $(FB)

fuzz-seeds: $(FB)/fuzz-seeds
	@$(FB)/fuzz-seeds tests/fuzz/corpus

# ---- top-level targets -----------------------------------------------------

.PHONY: all deps run stop test test-unit test-component test-e2e test-fault test-asan bench format \
        regen-kafka clean fuzz fuzz-build fuzz-smoke fuzz-seeds

all: $(BROKER) $(CONTROL_PLANE) $(GATEWAY) $(STREAMCTL) $(UNIT_BIN) $(TOOL_BIN)

deps:
	@deploy/deps.sh build test run

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/run-local.sh $(CURDIR)/$(BIN)

stop:
	@deploy/stop-local.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit test-component test-e2e test-fault
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz-smoke

test-unit: all
	@tests/run-tier.sh unit $(B)

test-component: all
	@tests/run-tier.sh component $(B)

test-e2e: all
	@tests/run-tier.sh e2e $(B)

test-fault: all
	@tests/run-tier.sh fault $(B)

# The sanitizer build and the unit and end-to-end tiers under it.
test-asan:
	@$(MAKE) --no-print-directory SAN=1 all
	@tests/run-tier.sh unit build/asan
	@tests/run-tier.sh component build/asan
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

-include $(COMMON_OBJ:.o=.d) $(GATEWAY_OBJ:.o=.d) $(BROKER_OBJ:.o=.d) $(B)/brokers/bk_main.d $(CP_OBJ:.o=.d) \
         $(B)/control-plane/cp_main.d $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_BIN:=.d) $(TOOL_BIN:=.d)
