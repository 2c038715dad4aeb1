package agente

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

// The worker subcommand: the application's workers without a listener.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "worker",
		Usage: "[--config <path>] [--adapter <name>]",
		Short: "Runs the inbox workers and senders only, with the server's configuration",
		Long: `
Loads the same configuration as 'run' but starts only the agente app: the
inbox workers, the outbox senders and the periodic jobs, with no HTTP
listener and no admin endpoint. Edges run with 'workers off' in the agente
options and accept webhooks into the Postgres inbox; any number of worker
processes on the same Postgres handle them (claims are leased per
conversation, so they share the work safely). Needs Postgres.

  agente-caddy worker --config Caddyfile --adapter caddyfile`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "configuration file (default: Caddyfile in the current directory)")
			cmd.Flags().StringP("adapter", "a", "", "name of the config adapter")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdWorker)
		},
	})
}

func cmdWorker(fl caddycmd.Flags) (int, error) {
	caddy.TrapSignals()
	raw, _, _, err := caddycmd.LoadConfig(fl.String("config"), fl.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	cfg, err := workerConfig(raw)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if err := caddy.Load(cfg, true); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("loading the worker configuration: %w", err)
	}
	select {} // until a signal stops the process (caddy.TrapSignals)
}

// workerConfig is cfg with only the agente app, its workers on whatever the
// server's configuration says, and no admin endpoint (an edge on the same
// host has it). Logging is kept.
func workerConfig(cfg []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	var apps map[string]json.RawMessage
	if err := json.Unmarshal(doc["apps"], &apps); err != nil || apps["agente"] == nil {
		return nil, errors.New("the configuration has no agente app: nothing for a worker to run")
	}
	var app map[string]any
	if err := json.Unmarshal(apps["agente"], &app); err != nil {
		return nil, fmt.Errorf("reading the agente app: %w", err)
	}
	if url, _ := app["postgres_url"].(string); url == "" && os.Getenv("POSTGRES_URL") == "" {
		return nil, errors.New("a worker needs Postgres (POSTGRES_URL or the agente postgres option): a memory inbox is its own process's only")
	}
	app["workers"] = true
	agente, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"admin": map[string]any{"disabled": true},
		"apps":  map[string]json.RawMessage{"agente": agente},
	}
	if l, ok := doc["logging"]; ok {
		out["logging"] = l
	}
	return json.Marshal(out)
}
