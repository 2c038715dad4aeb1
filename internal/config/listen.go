package config

import (
	"net"
	"strings"
)

// ListenVars are the listeners the shipped Caddyfiles take from the
// environment: each address variable and the host and port variables the
// Caddyfiles read (a Caddyfile cannot split an address itself).
var ListenVars = []struct{ Address, Host, Port string }{
	{"SITE_ADDRESS", "SITE_HOST", "SITE_PORT"},
	{"INTERNAL_ADDRESS", "INTERNAL_HOST", "INTERNAL_PORT"},
}

// ApplyListenAddresses splits SITE_ADDRESS and INTERNAL_ADDRESS
// ("[host]:port") into their host and port variables, which the shipped
// Caddyfiles read when they are adapted: the site block listens on the port,
// binds the host only (every interface when there is none) and answers
// requests for another host with a JSON 404. An address without a port is a
// host on port 80, as the Caddyfile's `http://<address>` read it before. It
// reports the variables it set.
func ApplyListenAddresses(lookup Lookup, set func(k, v string) error) []string {
	var done []string
	for _, v := range ListenVars {
		addr, ok := lookup(v.Address)
		addr = strings.TrimSpace(addr)
		if !ok || addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			host, port = strings.Trim(addr, "[]"), "80"
		}
		if set(v.Host, host) == nil && set(v.Port, port) == nil {
			done = append(done, v.Host, v.Port)
		}
	}
	return done
}
