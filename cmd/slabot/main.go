// Command slabot watches Genesys Cloud queues and alerts Slack when a queue
// breaches its SLA. `slabot serve` (the default) runs the service;
// `slabot setup` checks credentials and prints the Slack manifest.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "slabot:", err)
		os.Exit(1)
	}
}

const usage = `usage: slabot [serve|setup|demo|version]
  serve    run the service (default)
  setup    check Slack and Genesys credentials, list queues, print the Slack manifest
  demo     a one-minute scripted story of the product, no credentials needed (-json adds Block Kit)
  version  print the version`

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// run is the whole program, minus process concerns, so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "setup":
		cfg, err := loadConfig(getenv)
		if err != nil {
			return err
		}
		return setup(ctx, cfg, getenv("PUBLIC_URL"), stdout)
	case "demo":
		return demo(ctx, args, stdout)
	case "version", "-v", "--version":
		fmt.Fprintln(stdout, "slabot", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
