# tandem: build the library, the C examples, run every test, install.
#   make build | demo [ARGS="--yes ..."] | test | install [PREFIX=/usr/local] [DESTDIR=] | clean

CC ?= cc
CARGO ?= cargo
CFLAGS ?= -O2 -g
WARNINGS := -std=c11 -Wall -Wextra -Wpedantic -Werror
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# The SONAME build.rs gives the library: libtandem.so.0.<minor> while the major version is 0, else .<major>.
SONAME := libtandem.so.$(shell echo $(VERSION) | awk -F. '{ print ($$1 == "0") ? "0." $$2 : $$1 }')
ARGS ?=

.PHONY: all build demo test install clean
all: build

build:
	$(CARGO) build --release

# The examples link the release library in place: the rpath lets build/* find it without installing.
build/%: examples/c/%.c include/tandem.h build
	@mkdir -p build
	$(CC) $(WARNINGS) $(CFLAGS) -Iinclude $< -o $@ -Ltarget/release -ltandem -pthread \
		-Wl,-rpath,'$$ORIGIN/../target/release'

demo: build/demo
	./build/demo $(ARGS)

test:
	scripts/test-all.sh

install: build
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	install -m 755 target/release/tandem-acp $(DESTDIR)$(BINDIR)/tandem-acp
	install -m 755 target/release/libtandem.so $(DESTDIR)$(LIBDIR)/libtandem.so.$(VERSION)
	ln -sf libtandem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libtandem.so
	install -m 644 target/release/libtandem.a $(DESTDIR)$(LIBDIR)/libtandem.a
	install -m 644 include/tandem.h $(DESTDIR)$(INCLUDEDIR)/tandem.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' tandem.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/tandem.pc

clean:
	rm -rf build
	$(CARGO) clean
