# Build, install and package vantage. Nothing here downloads anything: the
# Go modules come from the module cache, the .deb is made by dpkg-deb.
#
#   make                      build ./dist/vantage
#   make install              binary, units, config (never overwritten), docs,
#                             man pages, bash/zsh/fish completion
#   make install DESTDIR=/tmp/stage PREFIX=/usr
#   make uninstall            the same files, minus /etc/vantage and the state
#   make deb                  ./dist/vantage_<version>_<arch>.deb
#   make deb-version          the Debian version a .deb would get
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
MANDIR     ?= $(PREFIX)/share/man
# Where each shell looks for completions that a package ships: the
# bash-completion package's directory, Debian's zsh vendor-completions,
# fish's vendor_completions.d.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
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
# The man pages and completion scripts are generated from the CLI's own
# definitions and committed (docs/man, docs/completion); TestGeneratedDocs
# in cmd/vantage fails when they drift, and -update rewrites them.
MAN1       := $(notdir $(wildcard docs/man/*.1))
MAN5       := $(notdir $(wildcard docs/man/*.5))

# The version baked into the binary: the nearest tag (git describe), else,
# for a build with no tag behind it, 0.0.0+git<commit date>.<commit>, else
# 0.0.0 outside a git checkout. Each is computed once; any can be overridden
# on the command line (make deb VERSION=1.2.3).
GIT_COMMIT := $(shell git rev-parse --short=7 HEAD 2>/dev/null)
GIT_DATE   := $(shell git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null)
ifeq ($(origin VERSION),undefined)
VERSION    := $(shell git describe --tags 2>/dev/null || \
	{ [ -n '$(GIT_COMMIT)' ] && echo '0.0.0+git$(GIT_DATE).$(GIT_COMMIT)'; } || echo 0.0.0)
endif
# The Debian version. A tag maps as "v1.2.3" -> "1.2.3" and
# "v1.2.3-4-gabc1234" -> "1.2.3+4.gabc1234", which sorts after 1.2.3 and
# before 1.2.4. A bare commit (VERSION=7a13c82, as `git describe --always`
# gives) must not become the version as it is: one that starts with a digit
# would rank above every release (dpkg --compare-versions 7a13c82 gt 1.0.0),
# so it becomes 0.0.0+git<date>.<commit>, below every tagged release. The
# date is the commit's when git knows it, else today's.
ifeq ($(origin DEB_VERSION),undefined)
DEB_VERSION := $(shell v='$(VERSION)'; \
	if printf '%s\n' "$$v" | grep -Eqx '[0-9a-f]{7,40}'; then \
		d=$$(git log -1 --format=%cd --date=format:%Y%m%d "$$v" 2>/dev/null || date -u +%Y%m%d); \
		echo "0.0.0+git$$d.$$(printf '%.7s' "$$v")"; \
	else \
		printf '%s\n' "$$v" | sed -e 's/^v//' -e 's/-/+/' -e 's/-/./g' -e '/^[0-9]/!s/^/0.0.0+/'; \
	fi)
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
# -s -w: no symbol table and no DWARF (a third of the size; panics still
# print their stack, and the build info that `go version -m` and the
# copyright generator read stays). -trimpath: no build machine's paths.
GOBUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: all build install uninstall deb deb-version test clean

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
	install -d -m 0755 $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	@# gzip -n: no name or time stamp inside, so the package is reproducible.
	for m in $(MAN1:%=man1/%) $(MAN5:%=man5/%); do \
		gzip -9n < docs/man/$$(basename $$m) > $(DESTDIR)$(MANDIR)/$$m.gz && \
		chmod 0644 $(DESTDIR)$(MANDIR)/$$m.gz || exit 1; \
	done
	install -m 0644 docs/completion/vantage.bash $(DESTDIR)$(BASHCOMPDIR)/vantage
	install -m 0644 docs/completion/_vantage $(DESTDIR)$(ZSHCOMPDIR)/_vantage
	install -m 0644 docs/completion/vantage.fish $(DESTDIR)$(FISHCOMPDIR)/vantage.fish
	@# The configs hold no secrets (they come from credentials), and the
	@# services' dynamic users must read them: 0644. Never overwrite local edits.
	@for c in vantage.toml agent.toml; do \
		if [ -e $(DESTDIR)$(SYSCONFDIR)/vantage/$$c ]; then \
			echo "keeping $(DESTDIR)$(SYSCONFDIR)/vantage/$$c; the example is $(DESTDIR)$(DOCDIR)/config.example.toml"; \
		else \
			echo "install -m 0644 systemd/$$c $(DESTDIR)$(SYSCONFDIR)/vantage/$$c"; \
			install -m 0644 systemd/$$c $(DESTDIR)$(SYSCONFDIR)/vantage/$$c || exit 1; \
		fi; \
	done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# Keeps /etc/vantage (the config) and /var/lib/vantage (the store).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vantage
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	rm -f $(DESTDIR)$(DOCDIR)/config.example.toml $(DESTDIR)$(DOCDIR)/README.md
	rm -f $(MAN1:%=$(DESTDIR)$(MANDIR)/man1/%.gz) $(MAN5:%=$(DESTDIR)$(MANDIR)/man5/%.gz)
	rm -f $(DESTDIR)$(BASHCOMPDIR)/vantage $(DESTDIR)$(ZSHCOMPDIR)/_vantage $(DESTDIR)$(FISHCOMPDIR)/vantage.fish
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# A staged /usr install plus DEBIAN/ metadata, packed by dpkg-deb (part of
# Debian's essential dpkg); --root-owner-group makes every file root's.
deb:
	rm -rf $(DEBROOT)
	$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEBROOT)) PREFIX=/usr \
		BINDIR=/usr/bin UNITDIR=/lib/systemd/system DOCDIR=/usr/share/doc/vantage SYSCONFDIR=/etc \
		MANDIR=/usr/share/man BASHCOMPDIR=/usr/share/bash-completion/completions \
		ZSHCOMPDIR=/usr/share/zsh/vendor-completions FISHCOMPDIR=/usr/share/fish/vendor_completions.d
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
	printf '%s\n' /etc/vantage/vantage.toml /etc/vantage/agent.toml > $(DEBROOT)/DEBIAN/conffiles
	install -m 0755 systemd/deb/postinst systemd/deb/prerm systemd/deb/postrm $(DEBROOT)/DEBIAN/
	@# What Debian policy asks of every package: the licenses of all that is
	@# linked in (12.5), a changelog (12.7), and lintian's overrides with
	@# the reason for each.
	$(GO) run ./systemd/deb/copyright -bin $(DEBROOT)/usr/bin/vantage -o $(DEBROOT)/usr/share/doc/vantage/copyright
	systemd/deb/changelog $(DEB_VERSION) | gzip -9n > $(DEBROOT)/usr/share/doc/vantage/changelog.gz
	install -d -m 0755 $(DEBROOT)/usr/share/lintian/overrides
	install -m 0644 systemd/deb/lintian-overrides $(DEBROOT)/usr/share/lintian/overrides/vantage
	@# md5sums, as dh_md5sums writes it: every file but the conffiles,
	@# whose sums dpkg keeps itself.
	cd $(DEBROOT) && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort | \
		xargs -d '\n' md5sum > DEBIAN/md5sums
	dpkg-deb --build --root-owner-group -Z$(DEB_COMPRESS) $(DEBROOT) $(DEB)

# The version the .deb gets, for scripts (and the tests of the mapping).
deb-version:
	@echo '$(DEB_VERSION)'

test:
	$(GO) test -race -count=1 ./...

clean:
	rm -rf $(BUILDDIR) $(DISTDIR)
