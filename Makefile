# uploadguard: plain GNU make.  `make` builds build/libuploadguard.so.
# Knobs: PREFIX, DESTDIR (install only), CFLAGS, SANITIZE=address,undefined
# (or thread), V=1 for full commands.

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/uploadguard
BINDIR ?= $(PREFIX)/bin
CC ?= cc
CFLAGS ?= -O2 -g
SANITIZE ?=
B ?= build

ifeq ($(V),1)
Q :=
else
Q := @
endif

UG_CFLAGS := -DUG_BUILDING_SHIM -U_FORTIFY_SOURCE -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fPIC \
	-fvisibility=hidden -fno-strict-aliasing -D_GNU_SOURCE -Iinclude -Ishim \
	-MMD -MP
ifneq ($(SANITIZE),)
UG_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
endif

# Modules that interpose nothing and call no real_* pointer: unit-testable.
PURE := config json path http digest caps
PURE_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard $(PURE:%=shim/%.c)))
SHIM_SRCS := $(wildcard shim/*.c)
SHIM_OBJS := $(SHIM_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
INTEG_SRCS := $(wildcard tests/integ/*.c)
INTEG_BINS := $(INTEG_SRCS:tests/integ/%.c=$(B)/tests/integ/%)

SHIM := $(B)/libuploadguard.so
CHECK := $(B)/uploadguard-check

all: $(SHIM) $(CHECK)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(UG_CFLAGS) $(CFLAGS) -c $< -o $@

# The exported symbols: every name in shim/hooks.def plus the public API.
$(B)/exports.txt: shim/hooks.def
	@mkdir -p $(B)
	$(Q)printf '#define UG_HOOK(r, n, p, a, f) n\n#include "hooks.def"\n' | \
		$(CC) -E -P -Ishim -x c - | grep -v '^ *$$' > $@.tmp
	$(Q)printf 'ug_session_enter\nug_session_leave\nug_session_current\n' >> $@.tmp
	$(Q)mv $@.tmp $@

$(B)/uploadguard.map: $(B)/exports.txt
	$(Q){ echo '{ global:'; sed 's/$$/;/' $<; echo 'local: *; };'; } > $@

$(SHIM): $(SHIM_OBJS) $(B)/uploadguard.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(SHIM_OBJS) $(SAN_LDFLAGS) \
		-Wl,--version-script=$(B)/uploadguard.map \
		-Wl,--no-undefined -ldl -lpthread

$(CHECK): tools/check.c $(PURE_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(UG_CFLAGS) $(CFLAGS) -o $@ $^ $(SAN_LDFLAGS)

# Unit tests link the pure modules only; they never load the shim.
$(B)/tests/%: tests/unit/%.c $(PURE_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(UG_CFLAGS) $(CFLAGS) -o $@ $^ $(SAN_LDFLAGS) -lcmocka

# Integration drivers: plain programs run under LD_PRELOAD by tests/run.
$(B)/tests/integ/%: tests/integ/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ishim -O1 -g -Wall -Wno-format-truncation \
		-o $@ $< -lcmocka -lpthread -ldl

tests: $(UNIT_BINS) $(INTEG_BINS)

test: deps all tests
	$(Q)B=$(B) tests/run

deps:
	$(Q)sh tests/deps

# The guard at work on a real upload server (installs what is missing).
demo: deps all
	$(Q)UG_LIB=$(CURDIR)/$(SHIM) UPLOADGUARD_LIB=$(CURDIR)/$(SHIM) tools/demo

# Longer hardening: sanitizers, valgrind, fuzzing, load (tests/hard).
check-hard: all tests
	$(Q)B=$(B) sh tests/hard/run-all

# The guard's cost against the same work without it (optimised build).
bench:
	$(Q)$(MAKE) --no-print-directory B=build-bench CFLAGS="-O2 -g -DNDEBUG" all
	$(Q)B=build-bench sh tests/bench/run

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 0644 $(SHIM) $(DESTDIR)$(LIBDIR)/libuploadguard.so
	install -m 0755 $(CHECK) $(DESTDIR)$(LIBDIR)/uploadguard-check
	install -m 0755 tools/uploadguard $(DESTDIR)$(BINDIR)/uploadguard
	install -d $(DESTDIR)$(PREFIX)/include
	install -m 0644 include/uploadguard.h $(DESTDIR)$(PREFIX)/include/

format:
	clang-format -i shim/*.c shim/*.h include/*.h tests/unit/*.c tests/integ/*.c tools/*.c

clean:
	rm -rf $(B)

.PHONY: all tests test deps install format clean demo bench check-hard
-include $(SHIM_OBJS:.o=.d) $(PURE_OBJS:.o=.d)
