// Command e2e drives the harness: lint and render drives, build the guest
// image, bring the lab up and down, boot topologies and run the checks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand; name may hold a space ("lab up").
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands []command

// register adds a subcommand; each lives in its own cmd_*.go file.
func register(c command) { commands = append(commands, c) }

// errUsage makes main print the usage and exit 2.
var errUsage = errors.New("usage")

func main() {
	// The first SIGINT/SIGTERM cancels ctx so teardown runs; a second one kills.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	c, args, ok := lookup(os.Args[1:])
	if !ok {
		usage()
		os.Exit(2)
	}
	err := c.run(ctx, args)
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "e2e %s: %v\n", c.name, err)
		os.Exit(1)
	}
}

// lookup finds the longest registered name that prefixes args.
func lookup(args []string) (command, []string, bool) {
	best, n := command{}, 0
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(words) > n && len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			best, n = c, len(words)
		}
	}
	return best, args[min(n, len(args)):], n > 0
}

func usage() {
	slices.SortFunc(commands, func(a, b command) int { return strings.Compare(a.name, b.name) })
	fmt.Fprintln(os.Stderr, "usage: e2e COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-14s %s\n", c.name, c.summary)
	}
}

// newFlags returns a flag set for a subcommand that prints its own usage.
func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("e2e "+name, flag.ContinueOnError)
}

// parseNoArgs parses a command's flags; positional arguments are a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
