package agente

import (
	"encoding/json"
	"testing"
)

func TestWorkerConfigKeepsOnlyTheAppWithItsWorkersOn(t *testing.T) {
	in := `{"admin":{"listen":":2019"},"logging":{"logs":{"default":{"level":"INFO"}}},
		"apps":{"http":{"servers":{"srv0":{"listen":[":8080"]}}},"agente":{"postgres_url":"postgres://x/y","workers":false}}}`
	out, err := workerConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Admin   map[string]any            `json:"admin"`
		Logging map[string]any            `json:"logging"`
		Apps    map[string]map[string]any `json:"apps"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Apps) != 1 || got.Apps["agente"]["workers"] != true || got.Apps["agente"]["postgres_url"] != "postgres://x/y" {
		t.Errorf("apps: %v", got.Apps)
	}
	if got.Admin["disabled"] != true || got.Logging == nil {
		t.Errorf("admin %v, logging %v", got.Admin, got.Logging)
	}
	t.Setenv("POSTGRES_URL", "")
	if _, err := workerConfig([]byte(`{"apps":{"agente":{}}}`)); err == nil {
		t.Error("a worker without Postgres was configured")
	}
	if _, err := workerConfig([]byte(`{"apps":{"http":{}}}`)); err == nil {
		t.Error("a configuration without the agente app was accepted")
	}
}
