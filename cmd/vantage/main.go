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
	"syscall"
)

// version is set at link time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
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
