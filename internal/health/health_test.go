package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRunReportsEachDependencyAndMetrics(t *testing.T) {
	var c Checker
	c.Add("database", func(context.Context) error { return nil })
	c.Add("redis", func(context.Context) error { return errors.New("connection refused") })
	c.Add("pms", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })

	rep := c.Run(context.Background(), 20*time.Millisecond)
	if rep.Ready {
		t.Fatal("ready with a failing dependency")
	}
	want := map[string]bool{"database": true, "redis": false, "pms": false}
	for _, st := range rep.Dependencies {
		if want[st.Name] != st.Up {
			t.Errorf("%s up = %v", st.Name, st.Up)
		}
		if got := testutil.ToFloat64(DependencyUp.WithLabelValues(st.Name)); got != boolGauge(st.Up) {
			t.Errorf("dependency_up{%s} = %v", st.Name, got)
		}
	}
	if testutil.ToFloat64(ReadinessUp) != 0 || testutil.ToFloat64(LastCheck) < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Error("readiness gauges not updated")
	}

	c.Add("redis", func(context.Context) error { return nil })
	c.Add("pms", func(context.Context) error { return nil })
	if rep := c.Run(context.Background(), time.Second); !rep.Ready || testutil.ToFloat64(ReadinessUp) != 1 {
		t.Fatalf("recovered dependencies: %+v", rep)
	}
}

func TestNoChecksIsReady(t *testing.T) {
	var c Checker
	if !c.Run(context.Background(), time.Second).Ready {
		t.Fatal("nothing configured must be ready")
	}
}
