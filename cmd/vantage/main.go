// Command vantage is a synthetic uptime monitor and alerting daemon: it
// checks URLs on a schedule from several vantage points, says exactly what
// failed and which hop produced the error, and alerts with suggested fixes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"
)

// version is set at link time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// command is one subcommand of the CLI.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Exit statuses shared by every subcommand.
const (
	exitOK     = 0
	exitFailed = 1 // the check failed, the config is invalid, the daemon failed
	exitUsage  = 2
)

func commands() map[string]command {
	return map[string]command{
		"check":       {"probe a URL once and say exactly what failed", runCheck},
		"agent":       {"run a remote vantage agent that probes for a coordinator", runAgent},
		"run":         {"run the monitor daemon on the config's watchlist", runRun},
		"validate":    {"check the config file without running anything", runValidate},
		"notify-test": {"send a sample alert through a configured receiver", runNotifyTest},
		"demo":        {"run a self-contained demo on loopback: no config, no network", runDemo},
		"version":     {"print the version", runVersion},
		"help":        {"list the subcommands", runHelp},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help":
		name = "help"
	case "--version", "-version":
		name = "version"
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "vantage: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vantage <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'vantage <command> -h' for the flags of a command.")
}

func runHelp(_ context.Context, _ []string, stdout, _ io.Writer) int {
	usage(stdout)
	return exitOK
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(stdout, "vantage %s (%s)\n", v, bi.GoVersion)
		return exitOK
	}
	fmt.Fprintf(stdout, "vantage %s\n", v)
	return exitOK
}
