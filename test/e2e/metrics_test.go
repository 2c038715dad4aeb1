package e2e

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sample is one line of a Prometheus text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metrics is an exposition as its samples: a histogram or summary is its
// _bucket (or quantile), _sum and _count series, as the text format writes
// them.
type metrics []sample

// scrape reads the exposition served at url, an instance's /metrics on the
// site or on the admin API.
func scrape(t testing.TB, url string) metrics {
	t.Helper()
	status, _, body := Do(t, "GET", url, nil, nil)
	if status != 200 {
		t.Fatalf("%s: %d %s", url, status, body)
	}
	m, err := readMetrics(body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return m
}

// metric is the value of one series on the instance's /metrics; an absent
// series is 0.
func metric(t testing.TB, in *Instance, series string) float64 {
	t.Helper()
	v, _ := scrape(t, in.URL("/metrics")).value(series)
	return v
}

// readMetrics parses a Prometheus text exposition with expfmt. The parser
// wants the final newline, which Do trims.
func readMetrics(text string) (metrics, error) {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	var out metrics
	add := func(name string, labels map[string]string, v float64) {
		out = append(out, sample{name: name, labels: labels, value: v})
	}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			with := func(name, value string) map[string]string {
				l := maps.Clone(labels)
				l[name] = value
				return l
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, labels, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, labels, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, labels, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					count := b.GetCumulativeCountFloat()
					if count == 0 {
						count = float64(b.GetCumulativeCount())
					}
					add(name+"_bucket", with("le", formatFloat(b.GetUpperBound())), count)
				}
				count := h.GetSampleCountFloat()
				if count == 0 {
					count = float64(h.GetSampleCount())
				}
				add(name+"_sum", labels, h.GetSampleSum())
				add(name+"_count", labels, count)
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, with("quantile", formatFloat(q.GetQuantile())), q.GetValue())
				}
				add(name+"_sum", labels, s.GetSampleSum())
				add(name+"_count", labels, float64(s.GetSampleCount()))
			default:
				return nil, fmt.Errorf("%s: metric type %v", name, mf.GetType())
			}
		}
	}
	return out, nil
}

// formatFloat writes le and quantile values as the text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// selector reads a series written as in the exposition, e.g.
// `tenant_resolution_total{result="hit"}`, in any label order.
func selector(series string) sample {
	m, err := readMetrics(series + " 0\n")
	if err != nil || len(m) != 1 {
		panic(fmt.Sprintf("series %q: %v", series, err))
	}
	return m[0]
}

// value is the value of the series with exactly the given name and labels.
func (ms metrics) value(series string) (float64, bool) {
	want := selector(series)
	for _, s := range ms {
		if s.name == want.name && maps.Equal(s.labels, want.labels) {
			return s.value, true
		}
	}
	return 0, false
}

// has reports whether some series has the given name and at least the
// given labels.
func (ms metrics) has(series string) bool {
	want := selector(series)
outer:
	for _, s := range ms {
		if s.name != want.name {
			continue
		}
		for k, v := range want.labels {
			if got, ok := s.labels[k]; !ok || got != v {
				continue outer
			}
		}
		return true
	}
	return false
}

// names are the sample names.
func (ms metrics) names() map[string]bool {
	names := map[string]bool{}
	for _, s := range ms {
		names[s.name] = true
	}
	return names
}

func TestReadMetrics(t *testing.T) {
	m, err := readMetrics("# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 3\nb 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.1\nh_count 1\n")
	if err != nil {
		t.Fatal(err)
	}
	got := m.names()
	for _, want := range []string{"a_total", "b", "h_bucket", "h_sum", "h_count"} {
		if !got[want] {
			t.Errorf("%s not found in %v", want, got)
		}
	}
	if len(got) != 5 {
		t.Errorf("got %v", got)
	}

	m, err = readMetrics(`# TYPE d histogram
d_bucket{m="POST",e="/w",le="0.5"} 2
d_bucket{m="POST",e="/w",le="+Inf"} 3
d_sum{m="POST",e="/w"} 1.25
d_count{m="POST",e="/w"} 3
# TYPE up gauge
up 1
# TYPE r_total counter
r_total{a="1",b="2"} 7`) // no final newline: Do trims it
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`d_bucket{e="/w",le="0.5",m="POST"}`:  2,
		`d_bucket{le="+Inf",m="POST",e="/w"}`: 3,
		`d_sum{e="/w",m="POST"}`:              1.25,
		`d_count{e="/w",m="POST"}`:            3,
		`up`:                                  1,
		`r_total{b="2",a="1"}`:                7,
	} {
		if v, ok := m.value(series); !ok || v != want {
			t.Errorf("value(%s) = %v %v, want %v", series, v, ok, want)
		}
	}
	if _, ok := m.value(`r_total{a="1"}`); ok {
		t.Error("value matched a series by a subset of its labels")
	}
	for series, want := range map[string]bool{
		`d_bucket{e="/w",m="POST"}`: true,
		`r_total`:                   true,
		`r_total{a="1"}`:            true,
		`r_total{a="2"}`:            false,
		`d`:                         false,
		`d_count{m="GET"}`:          false,
	} {
		if got := m.has(series); got != want {
			t.Errorf("has(%s) = %v, want %v", series, got, want)
		}
	}
}
