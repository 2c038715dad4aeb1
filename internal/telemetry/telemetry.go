// Package telemetry holds the Prometheus collectors shared by every route of
// ours (the HTTP metrics of the original system's dashboards and alerts) and
// the one way all our packages register their collectors into a Caddy
// config's registry.
//
// Collectors are package-level values created once per process; each config
// registers them into its own registry (ctx.GetMetricsRegistry()). A reload
// registers the same objects again, so values carry over and nothing panics:
// the pattern of Caddy's reverse_proxy metrics.
package telemetry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers each collector, tolerating one already registered (the
// same collector from an earlier config or another module of this config).
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// The HTTP metrics, under the original system's names (kept so its dashboards
// and alerts keep working), recorded for our routes.
var (
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests served by agente-caddy routes, by method, endpoint template and status code.",
	}, []string{"method", "endpoint", "status_code"})

	RequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "request_duration_seconds",
		Help:    "Time to serve a request on agente-caddy routes, by method and endpoint template.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "endpoint"})

	ActiveConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "active_connections",
		Help: "Requests in flight on agente-caddy routes.",
	})
)

// HTTPCollectors are the collectors above, for Register.
func HTTPCollectors() []prometheus.Collector {
	return []prometheus.Collector{HTTPRequests, RequestDuration, ActiveConnections}
}

// knownEndpoints are the route templates we serve. Paths are reported by
// template so that ids in paths cannot explode the label's cardinality.
var knownEndpoints = []string{
	"/webhooks/whatsapp",
	"/api/webhooks/whatsapp",
	"/webhooks/gmail",
	"/health/live",
	"/health/ready",
	"/metrics",
	"/admin/tenants",
	"/admin/tenants/refresh",
	"/admin/tenants/{id}",
	"/admin/tenants/{id}/identifiers",
	"/admin/tenants/{id}/identifiers/{identifier}",
	"/admin/tenants/{id}/conversations/{guest}/resume",
	"/admin/feature-flags",
	"/admin/feature-flags/{flag}",
	"/admin/dashboard",
}

// endpointSegments are knownEndpoints split once: Endpoint runs on every
// request.
var endpointSegments = func() [][]string {
	out := make([][]string, len(knownEndpoints))
	for i, tmpl := range knownEndpoints {
		out[i] = strings.Split(tmpl, "/")
	}
	return out
}()

// literalEndpoints maps each path that is a route template without
// parameters to what matching gives it, so the common paths (the webhooks,
// health) are answered without splitting them.
var literalEndpoints = func() map[string]string {
	out := map[string]string{}
	for _, tmpl := range knownEndpoints {
		if !strings.Contains(tmpl, "{") {
			out[tmpl] = matchEndpoint(tmpl)
		}
	}
	return out
}()

// Endpoint maps a request path to its route template, or "other".
func Endpoint(path string) string {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if e, ok := literalEndpoints[path]; ok {
		return e
	}
	return matchEndpoint(path)
}

// matchEndpoint is the first template path matches, or "other".
func matchEndpoint(path string) string {
	segs := strings.Split(path, "/")
	for i, tmpl := range endpointSegments {
		if matchTemplate(tmpl, segs) {
			return knownEndpoints[i]
		}
	}
	return "other"
}

func matchTemplate(tmpl, segs []string) bool {
	if len(tmpl) != len(segs) {
		return false
	}
	for i, t := range tmpl {
		if strings.HasPrefix(t, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if t != segs[i] {
			return false
		}
	}
	return true
}

// requestKey names one series pair of HTTPRequests and RequestDuration.
type requestKey struct {
	method, endpoint string
	status           int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// requestSeriesOf holds the series of the requests seen so far with a
// standard method, looked up once each: a label lookup hashes and checks
// its values on every call. Other methods (the client chooses them) are
// looked up every time, so they cannot grow this map.
var requestSeriesOf sync.Map // requestKey → requestSeries

// ObserveRequest counts one request of method to endpoint (a template of
// Endpoint) answered with status, and its duration.
func ObserveRequest(method, endpoint string, status int, seconds float64) {
	switch method {
	case "GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		HTTPRequests.WithLabelValues(method, endpoint, strconv.Itoa(status)).Inc()
		RequestDuration.WithLabelValues(method, endpoint).Observe(seconds)
		return
	}
	k := requestKey{method, endpoint, status}
	v, ok := requestSeriesOf.Load(k)
	if !ok {
		v, _ = requestSeriesOf.LoadOrStore(k, requestSeries{
			count:    HTTPRequests.WithLabelValues(method, endpoint, strconv.Itoa(status)),
			duration: RequestDuration.WithLabelValues(method, endpoint),
		})
	}
	s := v.(requestSeries)
	s.count.Inc()
	s.duration.Observe(seconds)
}
