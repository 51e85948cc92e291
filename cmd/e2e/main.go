// Command e2e drives the harness: lint and render drives, build the guest
// image, bring the lab up and down, boot topologies and run the checks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// The first SIGINT/SIGTERM cancels ctx so teardown runs; a second one kills.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		cancel(interrupted{s})
	}()

	args := os.Args[1:]
	if len(args) == 1 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0]) {
		usage(os.Stdout)
		return
	}
	c, args, err := lookup(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n\n", err)
		usage(os.Stderr)
		os.Exit(2)
	}
	os.Exit(exitCode(ctx, c.name, c.run(ctx, args), os.Stderr))
}

// exitCode reports a command's error on w and gives the exit status: 0 also
// for -h, 2 for a usage error (already printed), 130 when a signal stopped it.
func exitCode(ctx context.Context, name string, err error, w io.Writer) int {
	var sig interrupted
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(context.Cause(ctx), &sig):
		// Whatever failed after the signal failed because of it, even
		// where a library dropped context.Canceled from the chain.
		fmt.Fprintf(w, "e2e %s: stopped by %s before it finished (%v); run it again to complete it\n", name, sig.String(), err)
		return 130
	default:
		fmt.Fprintf(w, "e2e %s: %v\n", name, err)
		return 1
	}
}

// interrupted is the cause of a context cancelled by a signal.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return i.String() + " received" }

func (i interrupted) String() string {
	if i.sig == os.Interrupt {
		return "SIGINT (Ctrl-C)"
	}
	// os.Signal's own name is "terminated", not SIGTERM.
	if s, ok := i.sig.(syscall.Signal); ok && unix.SignalName(s) != "" {
		return unix.SignalName(s)
	}
	return i.sig.String()
}

// lookup finds the longest registered name that prefixes args, or says
// what is wrong with args.
func lookup(args []string) (command, []string, error) {
	best, n := command{}, 0
	var subs []string // commands whose first word is args[0]
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(words) > n && len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			best, n = c, len(words)
		}
		if len(args) > 0 && len(words) > 1 && words[0] == args[0] {
			subs = append(subs, c.name)
		}
	}
	slices.Sort(subs)
	switch {
	case n > 0:
		return best, args[n:], nil
	case len(args) == 0:
		return command{}, nil, errors.New("no command given")
	case len(subs) > 0 && len(args) == 1:
		return command{}, nil, fmt.Errorf("%q needs a subcommand: %s", args[0], strings.Join(subs, ", "))
	case len(subs) > 0:
		return command{}, nil, fmt.Errorf("unknown command %q; %q has: %s", strings.Join(args[:2], " "), args[0], strings.Join(subs, ", "))
	case strings.HasPrefix(args[0], "-"):
		return command{}, nil, fmt.Errorf("%s before the command; flags follow it (e2e COMMAND [flags])", args[0])
	}
	return command{}, nil, fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	slices.SortFunc(commands, func(a, b command) int { return strings.Compare(a.name, b.name) })
	fmt.Fprintln(w, "usage: e2e COMMAND [flags]   (e2e COMMAND -h: its flags)\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
}

// newFlags returns a flag set for a subcommand that prints its own usage.
func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet("e2e "+name, flag.ContinueOnError)
}

// parseFlags parses a command's flags; the flag package has printed what
// was wrong and the usage, so a parse error is errUsage (exit 2), -h is
// flag.ErrHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return err
}

// parseNoArgs parses a command's flags; positional arguments are a usage error.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected arguments %q\n", fs.Name(), fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}

// requireFlags refuses flags given as empty (--out=), which would otherwise
// surface as `open : no such file or directory`.
func requireFlags(fs *flag.FlagSet, names ...string) error {
	var errs []error
	for _, name := range names {
		f := fs.Lookup(name)
		if strings.TrimSpace(f.Value.String()) == "" {
			errs = append(errs, fmt.Errorf("--%s is empty; give %s (default %s)", name, f.Usage, f.DefValue))
		}
	}
	return errors.Join(errs...)
}
