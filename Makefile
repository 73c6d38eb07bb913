# veil: one Makefile, no recursion. Objects and programs go to $(B)/;
# `make asan` and `make fuzz` build into their own trees so that the
# ordinary build is never clobbered.

B	?= build
PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
CFLAGS	?= -O2 -g
PKG	 = lua5.4 libseccomp libcrypto msgpack sqlite3
WARN	 = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla
HARDEN	 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
# Math never reports through errno here, so llrint & co. compile inline.
CPPFLAGS+= -fno-math-errno
HLDFLAGS = -pie -Wl,-z,relro,-z,now
CPPFLAGS+= -std=c11 -D_GNU_SOURCE -Icommon -Ianonymize -Iruntime -Isandbox \
	   -Ipolicies $(shell pkg-config --cflags $(PKG)) -MMD -MP
LIBS	 = $(shell pkg-config --libs $(PKG)) -lm
TESTLIBS = $(shell pkg-config --libs cmocka)

COMMON_O = $(addprefix $(B)/common/, error.o utf8.o table.o table_build.o \
	   csv.o luadata.o hierarchy.o schema.o ingest.o datefmt.o \
	   jsonw.o frame.o)
SANDBOX_O = $(addprefix $(B)/sandbox/, confine.o spawner.o ingestor.o) \
	   $(B)/gen/filter_bpf.o
RUNTIME_O = $(addprefix $(B)/runtime/, luastate.o bound.o rowfn.o rowprog.o \
	   dataset.o eval.o job.o)
CLI_O	 = $(addprefix $(B)/cli/, veil.o inspect.o mock.o run.o anonymize.o \
	   client.o exchange.o)
ANON_O	 = $(addprefix $(B)/anonymize/, identifiers.o scrub.o kanon.o)
POLICY_O = $(addprefix $(B)/policies/, policy.o release.o sampler.o dp.o \
	   ledger.o)
DAEMON_O = $(addprefix $(B)/sandbox/, catalog.o jobspec.o)
LIB_O	 = $(COMMON_O) $(ANON_O) $(POLICY_O) $(SANDBOX_O) $(RUNTIME_O) $(DAEMON_O)
# veil-worker runs buyers' jobs: the runtime, confinement, the table and
# framing code, and no libcrypto. It is linked static-pie: one is exec'd
# per job, and the dynamic loader was a quarter of its CPU time. ASLR
# stays (PIE). `make asan` links it dynamically (WORKER_LINK= ), since the
# sanitizers' runtime is a shared library.
WORKER_O = $(B)/sandbox/worker.o $(RUNTIME_O) $(B)/sandbox/confine.o \
	   $(B)/gen/filter_bpf.o $(COMMON_O)
WORKER_LIBS = $(shell pkg-config --libs lua5.4 msgpack) -lm
WORKER_LINK ?= -static-pie
WORKER_SLIBS = $(shell pkg-config --static --libs lua5.4 msgpack) -lm
# veil-ingest is the same program with the ingest kinds (worker.c): it
# parses uploads, checks policies and de-identifies (identifiers, scrub)
# under the data set's key. One runs per upload: linked dynamically.
INGEST_O = $(B)/sandbox/worker_ingest.o $(RUNTIME_O) $(SANDBOX_O) \
	   $(COMMON_O) $(addprefix $(B)/anonymize/, identifiers.o scrub.o) \
	   $(B)/policies/policy.o
INGEST_LIBS = $(shell pkg-config --libs lua5.4 msgpack libcrypto) -lm

PROGS	 = $(B)/veil $(B)/veild $(B)/veil-worker $(B)/veil-ingest \
	   $(B)/clinic-gen
UNIT	 = table csv ingest utf8 schema hierarchy inspect clinic frame sandbox mock run runtime jobsec sampler dp ledger policy scrub kanon ingestor client catalog
TESTS	 = $(addprefix $(B)/tests/test_, $(UNIT))
FUZZ	 = csv schema table frame policy scrub rpc
REPLAY	 = $(addprefix $(B)/tests/replay_, $(FUZZ))
BENCH	 = $(B)/bench/bench_ingest $(B)/bench/bench_spawn \
	   $(B)/bench/bench_runtime $(B)/bench/bench_release \
	   $(B)/bench/bench_kanon $(B)/bench/bench_veild \
	   $(B)/bench/bench_kernels

# Quiet by default; `make V=1` prints every command.
ifeq ($(V),1)
Q	 =
msg	 = @true
else
Q	 = @
msg	 = @printf '  %-6s %s\n'
endif

all: $(PROGS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(HARDEN) $(WARN) $(CFLAGS) $(XFLAGS) -c -o $@ $<

# The aggregation kernels' loops ran up to a quarter slower or faster
# with where the link happened to put them (a 64-byte line crossed or
# not: 4.3 or 5.5 ms over 1e7 floats, the same instructions); with their
# loops aligned they run alike in every program that links them.
$(B)/runtime/eval.o: XFLAGS = -falign-loops=32

$(B)/veil: $(CLI_O) $(LIB_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

VEILD_O	 = $(addprefix $(B)/sandbox/, veild.o veild_methods.o veild_run.o)
$(B)/veild: $(VEILD_O) $(LIB_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread

$(B)/veil-worker: $(WORKER_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(WORKER_LINK) $(LDFLAGS) -o $@ $^ \
	    $(if $(WORKER_LINK),$(WORKER_SLIBS),$(WORKER_LIBS))

$(B)/sandbox/worker_ingest.o: sandbox/worker.c
	@mkdir -p $(@D)
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) -DVEIL_INGEST_KINDS $(HARDEN) $(WARN) $(CFLAGS) \
	    -c -o $@ $<

$(B)/veil-ingest: $(INGEST_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(INGEST_LIBS)

# The seccomp filter is compiled once, here, by libseccomp, into BPF.
$(B)/filter-gen: $(B)/sandbox/filter_gen.o
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libseccomp)

$(B)/gen/filter_bpf.c: $(B)/filter-gen
	@mkdir -p $(@D)
	$(msg) GEN $@
	$(Q)$(B)/filter-gen > $@.tmp && mv $@.tmp $@

$(B)/gen/filter_bpf.o: $(B)/gen/filter_bpf.c
	$(msg) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(HARDEN) $(WARN) $(CFLAGS) -c -o $@ $<

# Test-only: confines itself as veil-worker does, then misbehaves.
$(B)/tests/sandbox-probe: $(B)/tests/sandbox_probe.o $(SANDBOX_O) $(COMMON_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(INGEST_LIBS)

$(B)/clinic-gen: $(B)/examples/clinic/clinic_gen.o
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^

$(B)/tests/test_%: $(B)/tests/test_%.o $(LIB_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(TESTLIBS)

# The fuzz targets, linked with a main that replays the saved corpus.
$(B)/tests/replay_%: $(B)/tests/fuzz/fuzz_%.o $(B)/tests/fuzz/replay.o $(LIB_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# The veild benchmark and test_client use the client library.
$(B)/bench/bench_veild: $(B)/cli/client.o
$(B)/tests/test_client: $(B)/cli/client.o

$(B)/bench/bench_%: $(B)/bench/bench_%.o $(LIB_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) $(HLDFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

test: $(PROGS) $(TESTS) $(REPLAY) $(B)/tests/sandbox-probe $(B)/veild
	@B=$(B) sh tests/run.sh $(UNIT) -- $(FUZZ)
	@B=$(B) python3 tests/veild_test.py

asan:
	$(MAKE) B=build-asan CC=$(CC) test \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DVEIL_DEBUG" \
	    HARDEN="-fPIE" WORKER_LINK=

# libFuzzer targets (clang). Run one with e.g.
#   build-fuzz/fuzz_csv -max_total_time=60 tests/fuzz/corpus/csv
FUZZ_CFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined
fuzz:
	$(MAKE) B=build-fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" HARDEN="-fPIE" \
	    $(addprefix build-fuzz/fuzz_, $(FUZZ))

build-fuzz/fuzz_%: build-fuzz/tests/fuzz/fuzz_%.o $(LIB_O)
	$(msg) LD $@
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

bench: $(BENCH) $(PROGS)
	@$(B)/bench/bench_ingest $(B)/clinic-gen
	@$(B)/bench/bench_spawn $(B)/veil-worker
	@$(B)/bench/bench_runtime $(B)/veil-worker
	@$(B)/bench/bench_kernels $(B)/veil-worker
	@$(B)/bench/bench_release
	@$(B)/bench/bench_kanon
	@$(B)/bench/bench_veild $(B)

demo: $(PROGS)
	@sh examples/demo.sh $(B)

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/veil \
	    $(DESTDIR)$(PREFIX)/share/veil/examples
	install -m 0755 $(B)/veil $(B)/veild $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(B)/veil-worker $(B)/veil-ingest \
	    $(DESTDIR)$(PREFIX)/libexec/veil/
	cp -R examples/adult examples/clinic $(DESTDIR)$(PREFIX)/share/veil/examples/

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all test asan fuzz bench demo install clean
.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
