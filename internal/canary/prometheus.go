package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/agentehotel/agente-caddy/internal/judge"
)

// promClient reads instant queries from Prometheus's HTTP API.
type promClient struct {
	base   string
	client *http.Client
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query that must answer a vector.
func (p promClient) query(ctx context.Context, q string) ([]promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var doc struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("prometheus: HTTP %d, unreadable answer to %s: %v", resp.StatusCode, q, err)
	}
	if doc.Status != "success" {
		return nil, fmt.Errorf("prometheus: query %s: %s (HTTP %d)", q, doc.Error, resp.StatusCode)
	}
	if doc.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus: query %s answered a %s, want a vector", q, doc.Data.ResultType)
	}
	return doc.Data.Result, nil
}

func sampleValue(s promSample) (float64, error) {
	str, ok := s.Value[1].(string)
	if !ok {
		return 0, fmt.Errorf("prometheus: sample value %v is not a string", s.Value[1])
	}
	return strconv.ParseFloat(str, 64)
}

// scalar is the single value of a sum(); no series (no data) is 0.
func (p promClient) scalar(ctx context.Context, q string) (float64, error) {
	res, err := p.query(ctx, q)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	if len(res) > 1 {
		return 0, fmt.Errorf("prometheus: query %s answered %d series, want 1", q, len(res))
	}
	return sampleValue(res[0])
}

// buckets turns cumulative `le` buckets into a histogram of per-bin counts.
func (p promClient) buckets(ctx context.Context, q string) (judge.Histogram, error) {
	res, err := p.query(ctx, q)
	if err != nil {
		return judge.Histogram{}, err
	}
	type bucket struct{ le, cum float64 }
	bs := make([]bucket, 0, len(res))
	for _, s := range res {
		le, err := strconv.ParseFloat(s.Metric["le"], 64)
		if err != nil {
			return judge.Histogram{}, fmt.Errorf("prometheus: bucket le %q: %v", s.Metric["le"], err)
		}
		v, err := sampleValue(s)
		if err != nil {
			return judge.Histogram{}, err
		}
		bs = append(bs, bucket{le, v})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	h := judge.Histogram{Upper: make([]float64, len(bs)), Counts: make([]uint64, len(bs))}
	var prev uint64
	for i, b := range bs {
		h.Upper[i] = b.le
		c := count(b.cum)
		if c > prev {
			h.Counts[i] = c - prev
			prev = c
		}
	}
	return h, nil
}
