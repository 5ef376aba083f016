package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vantage-monitor/vantage/monitor/config"
)

func defineValidateFlags(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "config", config.DefaultPath(), "the TOML watchlist `file` to check when no FILE is named")
}

// runValidate checks each FILE named, or the --config file, as promtool
// check config does: every file is reported, and the exit status is the
// worst of them.
func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate")
	var path string
	defineValidateFlags(fs, &path)
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "vantage validate: %v\nRun 'vantage validate -h' for usage.\n", err)
		return exitUsage
	}
	if len(files) == 0 {
		return validateFile(path, stdout, stderr)
	}
	configSet := false
	fs.Visit(func(f *flag.Flag) { configSet = configSet || f.Name == "config" })
	if configSet {
		fmt.Fprintln(stderr, "vantage validate: name the files either with --config or as arguments, not both")
		return exitUsage
	}
	// A FILE that is not there is an argument that names nothing to check
	// ("vantage validate extra"): a usage error, after every file has been
	// reported.
	code := exitOK
	for _, f := range files {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "vantage validate: %s: no such file\n", f)
			code = exitUsage
			continue
		}
		if c := validateFile(f, stdout, stderr); c != exitOK && code == exitOK {
			code = c
		}
	}
	return code
}

// validateFile loads one config and says OK with what it holds, or every
// problem.
func validateFile(path string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, "vantage validate", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s: OK: %d %s, %d %s, %d %s, %d %s\n", path,
		len(cfg.Monitors), plural(len(cfg.Monitors), "monitor", "monitors"),
		len(cfg.Receivers), plural(len(cfg.Receivers), "receiver", "receivers"),
		len(cfg.Routes), plural(len(cfg.Routes), "route", "routes"),
		len(cfg.Vantages), plural(len(cfg.Vantages), "vantage", "vantages"))
	return exitOK
}
