// Package systemd holds vantage's systemd units (vantage.service for the
// monitor, vantage-agent.service for a remote agent) and the Debian
// maintainer scripts in deb/, and its tests check them as shipped: that
// systemd-analyze accepts the units and rates their sandbox at an exposure
// of 2.0 or less, that `make install` puts every file in place without
// overwriting a local config, and that the .deb from `make deb` installs,
// removes (keeping config and state) and purges cleanly.
//
// It has no Go API; the files are the product. The tests need make,
// systemd-analyze (apt-get install -y systemd; systemd need not be running)
// and dpkg, and run as root. VANTAGE_E2E=off opts out of the ones that
// build and install.
package systemd
