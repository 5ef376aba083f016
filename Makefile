# Build, install and package vantage. Nothing here downloads anything: the
# Go modules come from the module cache, the .deb is made by dpkg-deb.
#
#   make                      build ./dist/vantage
#   make install              binary, units, config (never overwritten), docs
#   make install DESTDIR=/tmp/stage PREFIX=/usr
#   make uninstall            the same files, minus /etc/vantage and the state
#   make deb                  ./dist/vantage_<version>_<arch>.deb
#   make test                 the test suite, exactly as CI runs it
#
# Units go to /lib/systemd/system when PREFIX is /usr (where Debian's own
# packages put them) and to $(PREFIX)/lib/systemd/system otherwise, which
# systemd also searches for /usr/local. Their ExecStart= is rewritten to
# $(PREFIX)/bin/vantage at install time. The config lives in /etc/vantage
# whatever the PREFIX, because that is where the daemon looks by default.

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
DOCDIR     ?= $(PREFIX)/share/doc/vantage
SYSCONFDIR ?= /etc
ifeq ($(PREFIX),/usr)
UNITDIR    ?= /lib/systemd/system
else
UNITDIR    ?= $(PREFIX)/lib/systemd/system
endif

GO         ?= go
BUILDDIR   ?= dist
DISTDIR    ?= dist
UNITS      := vantage.service vantage-agent.service

# The version baked into the binary: the nearest tag, else the commit, else
# 0.0.0 outside a git checkout. Each is computed once; any can be overridden
# on the command line (make deb VERSION=1.2.3).
ifeq ($(origin VERSION),undefined)
VERSION    := $(shell git describe --tags --always 2>/dev/null || echo 0.0.0)
endif
# A Debian version must start with a digit: "v1.2.3-4-gabc" becomes
# "1.2.3+4.gabc"; a bare commit "abc1234" becomes "0.0.0+gabc1234".
ifeq ($(origin DEB_VERSION),undefined)
DEB_VERSION := $(shell echo '$(VERSION)' | \
	sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g' -e '/^[0-9]/!s/^/0.0.0+g/')
endif
ifeq ($(origin GOARCH),undefined)
GOARCH     := $(shell $(GO) env GOARCH)
endif
# Go's architecture names where Debian's differ (arm: GOARM=7, armhf).
ifeq ($(origin DEB_ARCH),undefined)
DEB_ARCH   := $(shell case '$(GOARCH)' in \
	(386) echo i386 ;; (arm) echo armhf ;; (ppc64le) echo ppc64el ;; \
	(mips64le) echo mips64el ;; (mipsle) echo mipsel ;; (*) echo '$(GOARCH)' ;; esac)
endif
# dpkg-deb's compressor: xz is Debian's default; tests use gzip for speed.
DEB_COMPRESS ?= xz
DEB        := $(DISTDIR)/vantage_$(DEB_VERSION)_$(DEB_ARCH).deb
DEBROOT    := $(DISTDIR)/debroot

# CGO off: a static binary with Go's own DNS resolver, so the .deb depends
# on no libc and the daemon unit's RestrictAddressFamilies= (no AF_NETLINK)
# holds; the agent's allows netlink only to list its own addresses.
GOBUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)"

.PHONY: all build install uninstall deb test clean

all: build

# go build is cheap when nothing changed: it leaves an up-to-date binary alone.
build:
	@mkdir -p $(BUILDDIR)
	$(GOBUILD) -o $(BUILDDIR)/vantage ./cmd/vantage

install: build
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/vantage
	install -m 0755 $(BUILDDIR)/vantage $(DESTDIR)$(BINDIR)/vantage
	for u in $(UNITS); do \
		sed -e 's|^ExecStart=[^ ]*/vantage |ExecStart=$(BINDIR)/vantage |' \
		    -e 's|file:/usr/share/doc/vantage/|file:$(DOCDIR)/|' \
		    systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 config.example.toml README.md $(DESTDIR)$(DOCDIR)/
	@# The config holds no secrets (they come from credentials), and the
	@# service's dynamic user must read it: 0644. Never overwrite local edits.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/vantage/vantage.toml ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/vantage/vantage.toml; the new example is $(DESTDIR)$(DOCDIR)/config.example.toml"; \
	else \
		echo "install -m 0644 systemd/vantage.toml $(DESTDIR)$(SYSCONFDIR)/vantage/vantage.toml"; \
		install -m 0644 systemd/vantage.toml $(DESTDIR)$(SYSCONFDIR)/vantage/vantage.toml; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# Keeps /etc/vantage (the config) and /var/lib/vantage (the store).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vantage
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -f $(DESTDIR)$(DOCDIR)/config.example.toml $(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# A staged /usr install plus DEBIAN/ metadata, packed by dpkg-deb (part of
# Debian's essential dpkg); --root-owner-group makes every file root's.
deb:
	rm -rf $(DEBROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEBROOT)) PREFIX=/usr \
		BINDIR=/usr/bin UNITDIR=/lib/systemd/system DOCDIR=/usr/share/doc/vantage SYSCONFDIR=/etc
	install -d -m 0755 $(DEBROOT)/DEBIAN
	{ \
		echo "Package: vantage"; \
		echo "Version: $(DEB_VERSION)"; \
		echo "Architecture: $(DEB_ARCH)"; \
		echo "Maintainer: vantage developers <vantage@example.com>"; \
		echo "Installed-Size: $$(du -sk --exclude=DEBIAN $(DEBROOT) | cut -f1)"; \
		echo "Section: net"; \
		echo "Priority: optional"; \
		echo "Homepage: https://github.com/vantage-monitor/vantage"; \
		echo "Description: synthetic uptime monitor and alerting daemon"; \
		echo " vantage checks URLs on a schedule from several vantage points, says"; \
		echo " exactly what failed and which hop produced the error, and alerts on"; \
		echo " Slack or by email with suggested fixes. Ships the vantage and"; \
		echo " vantage-agent systemd units, hardened and not enabled by default."; \
	} > $(DEBROOT)/DEBIAN/control
	echo /etc/vantage/vantage.toml > $(DEBROOT)/DEBIAN/conffiles
	install -m 0755 systemd/deb/postinst systemd/deb/prerm systemd/deb/postrm $(DEBROOT)/DEBIAN/
	dpkg-deb --build --root-owner-group -Z$(DEB_COMPRESS) $(DEBROOT) $(DEB)

test:
	$(GO) test -race -count=1 ./...

clean:
	rm -rf $(BUILDDIR) $(DISTDIR)
