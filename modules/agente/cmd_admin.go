package agente

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/agentehotel/agente-caddy/internal/adminauth"
	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/internal/tenancy"
)

// The admin subcommands: minting admin API tokens and applying the schema.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "admin-token",
		Usage: "--sub <name> [--ttl <duration>] [--role admin|staff] [--tenant <id>]...",
		Short: "Prints an admin API token (HS256 JWT signed with JWT_SECRET_KEY)",
		Long: `
Mints a bearer token for the admin API (/admin/*), signed with HS256 under the
JWT_SECRET_KEY environment variable, which must be the server's. --sub names
the operator; the audit log records it for every change made with the token.
--ttl sets how long the token is valid (default 1h; the server refuses tokens
living longer than its maximum, 30 days unless ADMIN_TOKEN_MAX_LIFETIME says
otherwise). --role admin (default) reaches the whole admin API; --role staff
reaches only the conversations of the hotels named with --tenant (repeat it or
separate with commas). The token's id (jti), which POST /admin/tokens/revoke
takes, is in its payload and in GET /admin/whoami.

  curl -H "Authorization: Bearer $(agente-caddy admin-token --sub ops@hotel)" \
       http://localhost:8080/admin/tenants
  agente-caddy admin-token --sub reception@madrid --role staff --tenant tenant_hotel_madrid --ttl 720h`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("sub", "", "who the token identifies (JWT sub; required)")
			cmd.Flags().Duration("ttl", time.Hour, "validity of the token")
			cmd.Flags().String("role", adminauth.RoleAdmin, "admin or staff")
			cmd.Flags().StringSlice("tenant", nil, "a hotel a staff token reaches (repeatable)")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdAdminToken)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "migrate",
		Usage: "[--url <postgres url>]",
		Short: "Applies the embedded Postgres schema migrations",
		Long: `
Applies every embedded migration not yet recorded in schema_migrations to the
database at POSTGRES_URL (or --url), each in its own transaction, and prints
the ones it applied. Safe to run while instances start: an advisory lock
serialises concurrent runs.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("url", "", "Postgres URL (default $POSTGRES_URL)")
			cmd.Flags().Duration("timeout", 5*time.Minute, "give up after this long")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdMigrate)
		},
	})
}

func cmdAdminToken(fl caddycmd.Flags) (int, error) {
	settings, err := config.FromOS()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	secret := settings.JWTSecretKey
	if secret == "" {
		return caddy.ExitCodeFailedStartup, errors.New("JWT_SECRET_KEY is not set: export the server's secret to mint a token it accepts")
	}
	sub := fl.String("sub")
	if sub == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--sub is required: it names who makes the changes in the audit log")
	}
	ttl := fl.Duration("ttl")
	if ttl <= 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--ttl must be positive, not %v", ttl)
	}
	if maxLife := adminTokenMaxLifetime(); ttl > maxLife {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--ttl %v is longer than the server's maximum token lifetime %v (ADMIN_TOKEN_MAX_LIFETIME)", ttl, maxLife)
	}
	tenants, err := fl.GetStringSlice("tenant")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	for _, t := range tenants {
		if err := tenancy.ValidateTenantID(t); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("--tenant %q: %v", t, err)
		}
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	jti := hex.EncodeToString(b[:])
	token, err := adminauth.MintToken([]byte(secret), adminauth.Token{Subject: sub, Role: fl.String("role"), Tenants: tenants, TTL: ttl, ID: jti}, time.Now())
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Println(token)
	return 0, nil
}

// adminTokenMaxLifetime is ADMIN_TOKEN_MAX_LIFETIME (as caddy reads a
// duration: 720h, 30d), or the default.
func adminTokenMaxLifetime() time.Duration {
	if v := os.Getenv("ADMIN_TOKEN_MAX_LIFETIME"); v != "" {
		if d, err := caddy.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return adminauth.DefaultMaxLifetime
}

func cmdMigrate(fl caddycmd.Flags) (int, error) {
	url := fl.String("url")
	if url == "" {
		settings, err := config.FromOS()
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		url = settings.PostgresURL
	}
	if url == "" {
		return caddy.ExitCodeFailedStartup, errors.New("POSTGRES_URL is not set (or pass --url)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), fl.Duration("timeout"))
	defer cancel()
	pool, err := store.Connect(ctx, url)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer pool.Close()
	applied, err := store.Migrate(ctx, pool)
	for _, name := range applied {
		fmt.Println("applied", name)
	}
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if len(applied) == 0 {
		fmt.Println("schema up to date")
	}
	return 0, nil
}
