// Command outcrop is the Outcrop server and its command-line tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/outcrop/outcrop/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := cli.Run(ctx, env, os.Args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, cli.ErrUsage):
		fmt.Fprintln(os.Stderr, "outcrop:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "outcrop:", err)
		os.Exit(1)
	}
}
