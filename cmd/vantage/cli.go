package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one subcommand of the CLI. Its flags function is the only
// definition of its flags: the command's own parser, dispatch's flag check,
// -h and `vantage help NAME`, the completion scripts and the man pages all
// read it, so none of them can drift from what the command accepts.
type command struct {
	name    string
	summary string
	// synopsis are the usage lines, each after "vantage NAME ".
	synopsis []string
	// description is what the command does, one paragraph per element.
	description []string
	// exits are the exit statuses and what each means; none for a command
	// that only prints.
	exits []exitStatus
	// operands is what the positional arguments are, for completion.
	operands operandKind
	// flags defines the command's flags on fs. Called with throwaway values
	// when the flags are only described or checked.
	flags func(fs *flag.FlagSet)
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

type exitStatus struct {
	code    int
	meaning string
}

// operandKind says what a command's positional arguments complete to.
type operandKind int

const (
	operandNone     operandKind = iota
	operandFiles                // file names
	operandCommands             // subcommand names (help)
	operandShells               // bash, zsh, fish (completion)
	operandAny                  // something the shell cannot list (a URL, a receiver)
)

// Exit statuses shared by every subcommand.
const (
	exitOK     = 0
	exitFailed = 1 // the check failed, the config is invalid, the daemon failed
	exitUsage  = 2
)

func usageExit() exitStatus { return exitStatus{exitUsage, "for a usage error"} }

func commands() map[string]command {
	list := []command{
		{
			name:     "check",
			summary:  "probe a URL once and say exactly what failed",
			synopsis: []string{"[flags] URL"},
			description: []string{
				"Probes URL once from this host and says exactly what failed: which phase (DNS, connect, TLS, the response), which hop produced the error (the origin or a gateway in front of it), the evidence, and what to do.",
				"With --config, probes from every vantage of that watchlist (and checks their canaries) and says whether the target is down for everyone or just from here.",
				"On a terminal the verdict is coloured (DOWN red, UP green, the scope and the gateway); output to a file or a pipe never is, nor with NO_COLOR set to any value or TERM=dumb.",
			},
			exits:    []exitStatus{{exitOK, "when the check passed"}, {exitFailed, "when it failed"}, usageExit()},
			operands: operandAny,
			flags:    func(fs *flag.FlagSet) { defineCheckFlags(fs, new(checkFlagValues)) },
			run:      runCheck,
		},
		{
			name:    "agent",
			summary: "run a remote vantage agent that probes for a coordinator",
			synopsis: []string{
				"--listen ADDR --key-file FILE [flags]",
				"--config agent.toml",
				"--gen-key > agent.key",
			},
			description: []string{
				"Runs probes for a coordinator that signs its requests with the shared key. Flags given together with --config override the file's settings.",
			},
			exits: []exitStatus{{exitOK, "when stopped by SIGTERM or SIGINT"}, {exitFailed, "when the agent cannot start or fails"}, {exitUsage, "for a usage error or an invalid setting"}},
			flags: func(fs *flag.FlagSet) { defineAgentFlags(fs, new(agentFlagValues)) },
			run:   runAgent,
		},
		{
			name:     "run",
			summary:  "run the monitor daemon on the config's watchlist",
			synopsis: []string{"[--config FILE] [--log-format text|json] [--log-level LEVEL]"},
			description: []string{
				"Runs the monitor daemon until SIGTERM or SIGINT; SIGHUP reloads the config. Under systemd it reports readiness, reloads and a watchdog keepalive (Type=notify) and logs to the journal with priorities.",
			},
			exits: []exitStatus{{exitOK, "when stopped by SIGTERM or SIGINT"}, {exitFailed, "when the config does not load or the daemon fails"}, usageExit()},
			flags: func(fs *flag.FlagSet) { defineRunFlags(fs, new(runOptions)) },
			run:   runRun,
		},
		{
			name:     "validate",
			summary:  "check the config file without running anything",
			synopsis: []string{"[--config FILE]", "FILE..."},
			description: []string{
				"Checks the config without running anything and reports every problem, as file:line: section: key: message. Files named as arguments are each checked and reported; without any, the --config file is.",
			},
			exits:    []exitStatus{{exitOK, "when every file is valid"}, {exitFailed, "when one is not"}, {exitUsage, "for a usage error or a FILE that does not exist"}},
			operands: operandFiles,
			flags:    func(fs *flag.FlagSet) { defineValidateFlags(fs, new(string)) },
			run:      runValidate,
		},
		{
			name:     "notify-test",
			summary:  "send a sample alert through a configured receiver",
			synopsis: []string{"RECEIVER [--config FILE] [--open-only] [--timeout 30s]"},
			description: []string{
				"Sends a sample alert through the real receiver (a DOWN, then its RESOLVED, which updates the same Slack message or threads under the same email) and prints what happened. Nothing is written to the daemon's store.",
			},
			exits:    []exitStatus{{exitOK, "when every send worked"}, {exitFailed, "when one failed"}, usageExit()},
			operands: operandAny,
			flags:    func(fs *flag.FlagSet) { defineNotifyTestFlags(fs, new(notifyTestOptions)) },
			run:      runNotifyTest,
		},
		{
			name:     "demo",
			summary:  "run a self-contained demo on loopback: no config, no network",
			synopsis: []string{"[--listen ADDR] [--state DIR] [--duration D] [--keep-running]"},
			description: []string{
				"Runs the real daemon against scenario targets on 127.0.0.1 (a healthy site, a 502 and a 504 behind nginx-like gateways, a refused port, a name that does not resolve) from three vantages, one of them impaired, and prints each alert once: the email's text, then what Slack would show. No config and no network needed.",
				"It prints the URL of the daemon's status page, which is up while the demo runs; --keep-running keeps it running after the cycle, until Ctrl-C, to look at the page.",
			},
			exits: []exitStatus{{exitOK, "when the demo's cycle completed or Ctrl-C stopped it"}, {exitFailed, "when the cycle did not complete within --duration or the daemon failed"}, usageExit()},
			flags: func(fs *flag.FlagSet) { defineDemoFlags(fs, new(demoOptions)) },
			run:   runDemo,
		},
		{
			name:    "silence",
			summary: "add, list or expire silences in the running daemon",
			synopsis: []string{
				"add (--monitor NAME | --tag TAG | --class CLASS | --vantage NAME | --scope SCOPE)... (--for DURATION | --until TIME) [--comment TEXT]",
				"list [--all] [--json]",
				"expire ID",
			},
			description: []string{
				"Talks to the running daemon over its control socket (see docs/control.md). A silence mutes the notifications of the incidents it matches, as a [[maintenance]] window does: checks still run and incidents still open and close. Matchers of one kind are ORed, different kinds ANDed: --monitor shop --monitor cart --class bad_gateway matches a bad gateway of either. The daemon keeps silences in its store, and records who made or expired one (the Unix user, from the socket).",
				"The socket is --socket, else [api] socket in the --config file, else /run/vantage/control.sock when it exists, else control.sock in the state directory. Using it takes being root, the daemon's user, or a member of its group ([api] socket_group).",
			},
			exits:    []exitStatus{{exitOK, "when the daemon did it"}, {exitFailed, "when the daemon refused or cannot be reached"}, usageExit()},
			operands: operandAny,
			flags:    func(fs *flag.FlagSet) { defineSilenceFlags(fs, new(silenceFlagValues)) },
			run:      runSilence,
		},
		{
			name:     "ack",
			summary:  "acknowledge an open incident in the running daemon",
			synopsis: []string{"INCIDENT [--comment TEXT] [--json]"},
			description: []string{
				"Acknowledges the open incident with that ID (as the API's /api/v1/incidents lists them), over the daemon's control socket (see docs/control.md): it gets no reminders and no escalation after this, and the receivers that were told it opened are told who took it. Acknowledging it again changes nothing. The socket is found as for vantage silence.",
			},
			exits:    []exitStatus{{exitOK, "when the incident is acknowledged"}, {exitFailed, "when the daemon refused or cannot be reached"}, usageExit()},
			operands: operandAny,
			flags:    func(fs *flag.FlagSet) { defineAckFlags(fs, new(ackFlagValues)) },
			run:      runAck,
		},
		{
			name:     "completion",
			summary:  "print a shell completion script: bash, zsh or fish",
			synopsis: []string{"bash|zsh|fish"},
			description: []string{
				"Prints a completion script for the shell, made from the same command and flag definitions vantage parses with. The packages install them where each shell looks; by hand, for example: source <(vantage completion bash).",
			},
			exits:    []exitStatus{{exitOK, "when the script was printed"}, usageExit()},
			operands: operandShells,
			run:      runCompletion,
		},
		{
			name:     "version",
			summary:  "print the version",
			synopsis: []string{""},
			run:      runVersion,
		},
		{
			name:     "help",
			summary:  "list the subcommands, or show one's help",
			synopsis: []string{"[COMMAND]"},
			operands: operandCommands,
			run:      runHelp,
		},
	}
	m := make(map[string]command, len(list))
	for _, c := range list {
		m[c.name] = c
	}
	return m
}

// commandNames lists the subcommands in a stable order: alphabetical.
func commandNames() []string {
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
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
	case "-v", "--version", "-version":
		name = "version"
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "vantage: unknown command %q\nRun 'vantage help' for the commands.\n", args[0])
		return exitUsage
	}
	// Every command's flags are checked here, against its definition, so
	// that -h, an unknown flag and a bad value read the same everywhere.
	if err := checkFlagSyntax(cmd, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(stderr, "vantage %s: %v\nRun 'vantage %s -h' for usage.\n", cmd.name, err, cmd.name)
		return exitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vantage <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	cmds := commands()
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'vantage help <command>' or 'vantage <command> -h' for a command's flags.")
	fmt.Fprintln(w, flagSpellingNote)
}

// flagSpellingNote is said once in every help and in README.md: the flag
// package takes both spellings, the docs use one.
const flagSpellingNote = "Flags are written --name here; -name works too, as does --name=value."

func runHelp(_ context.Context, args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		cmd, ok := commands()[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "vantage help: unknown command %q\nRun 'vantage help' for the commands.\n", args[0])
			return exitUsage
		}
		writeHelp(stdout, cmd)
		return exitOK
	default:
		fmt.Fprintf(stderr, "vantage help: one command at a time, got %d: %s\n", len(args), strings.Join(args, " "))
		return exitUsage
	}
}

// writeHelp prints what -h and `vantage help NAME` show.
func writeHelp(w io.Writer, cmd command) {
	for i, s := range cmd.synopsis {
		prefix := "Usage: "
		if i > 0 {
			prefix = "       "
		}
		fmt.Fprintln(w, strings.TrimRight(prefix+"vantage "+cmd.name+" "+s, " "))
	}
	for _, p := range cmd.description {
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrap(p, 78))
	}
	if len(cmd.exits) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrap("Exit status: "+exitSentence(cmd.exits), 78))
	}
	flags := cmdFlags(cmd)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	for _, f := range flags {
		line := "  " + f.spelling()
		if len(line) <= 5 && f.arg == "" {
			// A short flag's usage goes on the same line, as PrintDefaults does.
			fmt.Fprintf(w, "%-6s%s\n", line, f.usageWithDefault())
			continue
		}
		fmt.Fprintln(w, line)
		fmt.Fprintln(w, indent(wrap(f.usageWithDefault(), 70), "        "))
	}
	fmt.Fprintln(w, "  -h, --help")
	fmt.Fprintln(w, "        show this help")
	fmt.Fprintln(w)
	fmt.Fprintln(w, flagSpellingNote)
}

func exitSentence(exits []exitStatus) string {
	parts := make([]string, len(exits))
	for i, e := range exits {
		parts[i] = fmt.Sprintf("%d %s", e.code, e.meaning)
	}
	switch len(parts) {
	case 1:
		return parts[0] + "."
	default:
		return strings.Join(parts[:len(parts)-1], ", ") + ", " + parts[len(parts)-1] + "."
	}
}

// flagInfo is one flag as help, completion and man pages describe it.
type flagInfo struct {
	name  string
	arg   string // the value's placeholder (DURATION, FILE); "" for a switch
	usage string
	def   string // "" when the default is not worth saying
}

// spelling is how the docs write the flag: --name ARG, or -4 for a
// one-letter switch.
func (f flagInfo) spelling() string {
	s := "--" + f.name
	if len(f.name) == 1 {
		s = "-" + f.name
	}
	if f.arg != "" {
		s += " " + f.arg
	}
	return s
}

func (f flagInfo) usageWithDefault() string {
	if f.def == "" {
		return f.usage
	}
	return f.usage + " (default " + f.def + ")"
}

// cmdFlags describes cmd's flags, sorted by name as the flag package sorts.
func cmdFlags(cmd command) []flagInfo {
	fs := definedFlags(cmd)
	var out []flagInfo
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if t, ok := f.Value.(interface{ Placeholder() string }); ok && !strings.Contains(f.Usage, "`") {
			arg = t.Placeholder()
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			arg = ""
		}
		def := f.DefValue
		switch def {
		case "", "0", "false", "[]":
			def = ""
		}
		out = append(out, flagInfo{name: f.Name, arg: strings.ToUpper(arg), usage: usage, def: def})
	})
	return out
}

// newFlagSet makes an empty flag set for the command name that prints
// nothing: parse errors are returned and said once by the caller, and help
// is written by writeHelp.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// definedFlags is cmd's flag set with its flags defined on throwaway values.
func definedFlags(cmd command) *flag.FlagSet {
	fs := newFlagSet(cmd.name)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	return fs
}

// checkFlagSyntax parses args against cmd's flags, flags and operands in
// any order, and returns flag.ErrHelp for -h or an error that says which
// flag and why in one line.
func checkFlagSyntax(cmd command, args []string) error {
	fs := definedFlags(cmd)
	var bad *setError
	fs.VisitAll(func(f *flag.Flag) {
		f.Value = recordValue(f.Name, f.Value, &bad)
	})
	_, err := parseInterleaved(fs, args)
	if err != nil && bad != nil {
		return bad
	}
	return err
}

// setError is a flag value that did not parse, said as "--name: why".
type setError struct {
	name, value string
	err         error
}

func (e *setError) Error() string {
	var own *flagValueError
	if errors.As(e.err, &own) {
		return "--" + e.name + ": " + e.err.Error()
	}
	// The flag package's own values say only "parse error".
	return fmt.Sprintf("--%s: %q is not a valid value (%v)", e.name, e.value, e.err)
}

// flagValueError is the error of a value type of this package, which says
// already what is wrong with the value.
type flagValueError struct{ msg string }

func (e *flagValueError) Error() string { return e.msg }

// recordValue wraps v so that a failed Set is kept in *bad, keeping the
// boolean-ness the flag package looks for.
func recordValue(name string, v flag.Value, bad **setError) flag.Value {
	r := recorder{Value: v, name: name, bad: bad}
	if b, ok := v.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return boolRecorder{r}
	}
	return r
}

type recorder struct {
	flag.Value
	name string
	bad  **setError
}

func (r recorder) Set(s string) error {
	err := r.Value.Set(s)
	if err != nil {
		*r.bad = &setError{name: r.name, value: s, err: err}
	}
	return err
}

type boolRecorder struct{ recorder }

func (boolRecorder) IsBoolFlag() bool { return true }

// wrap breaks text into lines of at most width columns at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	col := 0
	for _, word := range strings.Fields(text) {
		switch {
		case col == 0:
		case col+1+len(word) > width:
			b.WriteByte('\n')
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}

func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
