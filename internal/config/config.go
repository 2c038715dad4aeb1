// Package config reads agente-caddy's environment (DESIGN.md "Configuration")
// and decides whether it is fit to start.
package config
