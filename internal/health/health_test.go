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

func TestAdvisoryCheckIsReportedButLeavesTheInstanceReady(t *testing.T) {
	var c Checker
	c.Add("database", func(context.Context) error { return nil })
	c.AddAdvisory("pms_hotel_ids", func(context.Context) error { return errors.New("1 active tenant without pms_hotel_id: hotel_new") })
	rep := c.Run(context.Background(), time.Second)
	if !rep.Ready || testutil.ToFloat64(ReadinessUp) != 1 {
		t.Fatalf("a failing advisory check made the instance unready: %+v", rep)
	}
	want := []Status{
		{Name: "database", Up: true},
		{Name: "pms_hotel_ids", Up: false, Advisory: true, Error: "1 active tenant without pms_hotel_id: hotel_new"},
	}
	if len(rep.Dependencies) != 2 || rep.Dependencies[0] != want[0] || rep.Dependencies[1] != want[1] {
		t.Fatalf("dependencies %+v, want %+v", rep.Dependencies, want)
	}
	if got := testutil.ToFloat64(DependencyUp.WithLabelValues("pms_hotel_ids")); got != 0 {
		t.Errorf("dependency_up{pms_hotel_ids} = %v, want 0", got)
	}
}
