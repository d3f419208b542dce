// Command sluice moves database changes into Delta tables: capture (binlog,
// logical replication → Kafka), ingest (Kafka → raw Delta table), merge (raw
// → SCD1 tables) and the commands that operate them. This file parses the
// command line and maps results to exit codes; the work lives in jobs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice/jobs"
)

// command is one subcommand: its flags and what it runs.
type command struct {
	name    string
	summary string
	usage   string // after "sluice <name> "
	help    string // long description, printed by --help
	run     func(ctx context.Context, env *cmdEnv, args []string) error
}

// cmdEnv is what every command gets: where to print.
type cmdEnv struct {
	stdout, stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], &cmdEnv{stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, env *cmdEnv) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printCommandHelp(env.stdout, c, nil)
				return jobs.ExitOK
			}
		}
		printUsage(env.stdout)
		if len(args) == 0 {
			return jobs.ExitUsage
		}
		return jobs.ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "sluice: unknown command %q\n\n", args[0])
		printUsage(env.stderr)
		return jobs.ExitUsage
	}
	err := c.run(ctx, env, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return jobs.ExitOK
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "sluice %s: %v\n", c.name, err)
	}
	return jobs.ExitCode(err, classifiers...)
}

// classifiers map package error types to exit codes; commands add theirs.
var classifiers []jobs.Classifier

func printUsage(w io.Writer) {
	fmt.Fprint(w, `sluice moves MySQL/MariaDB and PostgreSQL changes into Delta tables.

Usage: sluice <command> [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run "sluice <command> --help" for a command's flags.
Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 retryable failure,
4 data quality (dead-letter ratio exceeded, validate found differences),
5 needs an operator, 6 skipped: another run holds the job's lease
(see docs/operations.md).
`)
}

func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: sluice %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.help))
	hasFlags := false
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	}
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// newFlags returns a FlagSet whose --help prints the command's help to
// stdout and whose errors are usage errors.
func newFlags(c *command, env *cmdEnv) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printCommandHelp(env.stdout, c, fs) }
	return fs
}

// parseFlags parses args, turning flag errors into usage errors. It accepts
// flags after positional arguments too ("describe PATH --json").
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp // fs.Parse printed the help already
			}
			return nil, jobs.UsageError(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
