package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vantage-monitor/vantage/monitor/config"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath(), "the TOML watchlist to check")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: vantage validate [-config FILE]")
		fmt.Fprintln(stderr, "\nChecks the config without running anything and reports every problem.")
		fmt.Fprintln(stderr, "Exit status: 0 when the file is valid, 1 when it is not, 2 for a usage error.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vantage validate: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		printConfigError(stderr, "vantage validate", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s: OK: %d %s, %d %s, %d %s, %d %s\n", *path,
		len(cfg.Monitors), plural(len(cfg.Monitors), "monitor", "monitors"),
		len(cfg.Receivers), plural(len(cfg.Receivers), "receiver", "receivers"),
		len(cfg.Routes), plural(len(cfg.Routes), "route", "routes"),
		len(cfg.Vantages), plural(len(cfg.Vantages), "vantage", "vantages"))
	return exitOK
}
