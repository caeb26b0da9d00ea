// Package cli implements the outcrop command line: one file per subcommand,
// each registering itself in the command table with register.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/store"
)

// Env is what a subcommand gets from main.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv in production).
	Getenv func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the command table, filled by register from each file's init.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, env *Env, args []string) error) {
	commands[name] = command{name, summary, run}
}

// ErrUsage is returned for bad command lines; main exits with status 2.
var ErrUsage = errors.New("usage error")

// Run runs the subcommand named by args[0].
func Run(ctx context.Context, env *Env, args []string) error {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		return nil
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(env.Stdout, "outcrop", Version)
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(env.Stderr)
		return fmt.Errorf("unknown command %q: %w", args[0], ErrUsage)
	}
	return c.run(ctx, env, args[1:])
}

// Version is set at build time with -ldflags "-X .../internal/cli.Version=…".
var Version = "dev"

func usage(w io.Writer) {
	fmt.Fprintln(w, "Outcrop: a self-hosted, Bedrock- and OpenAI-compatible generative-AI platform.")
	fmt.Fprintln(w, "\nUsage: outcrop <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  version      print the version")
	fmt.Fprintln(w, "\nRun 'outcrop <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: outcrop %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping -h to a nil error after printing usage and
// other problems to ErrUsage. It allows flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp
			}
			return nil, fmt.Errorf("%v: %w", err, ErrUsage)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if strings.HasPrefix(args[0], "-") && args[0] != "-" {
			continue
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// loadConfig loads the file at path, or the defaults (with $OUTCROP_HOME)
// when path is empty, for commands that work on the server's store.
func loadConfig(env *Env, path string) (*config.Config, error) {
	if path == "" {
		cfg := config.Default()
		if h := env.Getenv("OUTCROP_HOME"); h != "" {
			cfg.Home = h
		}
		return cfg, nil
	}
	return config.Load(path)
}

// openStore opens the store the server described by the config at path
// uses, so that commands work on it while the server runs. Warnings go to
// stderr.
func openStore(ctx context.Context, env *Env, path string) (*config.Config, *store.DB, error) {
	cfg, err := loadConfig(env, path)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	so, err := store.OptionsFrom(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, so)
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}
