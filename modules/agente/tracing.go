package agente

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracerProviders holds the process's one SDK tracer provider, for the
// application's spans (internal/tracing). Caddy's `tracing` directive keeps
// its own provider to itself (it sets no global one), so the application
// has its own, configured by the same OTEL_* variables; both send to the
// same collector, and the application's spans join the request's trace
// through the request's context. Held by reference count like the
// connections: a reload provisions the new config before cleaning up the
// old, so the provider (and its batch of unsent spans) survives reloads,
// and the last config's cleanup flushes and shuts it down.
var tracerProviders = caddy.NewUsagePool()

const tracerProviderKey = "otel"

// serviceName is service.name unless OTEL_SERVICE_NAME (or service.name in
// OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const serviceName = "agente-caddy"

// providerShutdownTimeout bounds the flush of the spans still batched when
// the last config goes.
const providerShutdownTimeout = 5 * time.Second

type pooledTracerProvider struct{ *sdktrace.TracerProvider }

func (p pooledTracerProvider) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), providerShutdownTimeout)
	defer cancel()
	return errors.Join(p.ForceFlush(ctx), p.Shutdown(ctx))
}

// acquireTracerProvider returns the process's tracer provider when the
// environment asks for traces (config.Settings.Traces), else nil (the
// application's no-op).
func (a *App) acquireTracerProvider(ctx context.Context) (trace.TracerProvider, error) {
	if !a.settings.Traces {
		return nil, nil
	}
	v, _, err := tracerProviders.LoadOrNew(tracerProviderKey, func() (caddy.Destructor, error) {
		// autoexport reads OTEL_TRACES_EXPORTER (otlp, console) and the
		// exporter reads OTEL_EXPORTER_OTLP_*; the batcher reads OTEL_BSP_*.
		exporter, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("trace exporter: %w", err)
		}
		res, err := resource.New(ctx,
			resource.WithAttributes(attribute.String("service.name", serviceName)),
			resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
		if err != nil {
			_ = exporter.Shutdown(ctx)
			return nil, fmt.Errorf("trace resource: %w", err)
		}
		return pooledTracerProvider{sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))}, nil
	})
	if err != nil {
		return nil, err
	}
	a.release = append(a.release, func() { _, _ = tracerProviders.Delete(tracerProviderKey) })
	return v.(pooledTracerProvider).TracerProvider, nil
}
