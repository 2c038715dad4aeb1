package agente

import (
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/pflag"
)

// A zero --timeout would end every backup and restore before it starts:
// it is refused, naming the flag; a positive one is read.
func TestTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		want    time.Duration
		refused bool
	}{{"0", 0, true}, {"0s", 0, true}, {"", 0, true}, {"-1m", 0, true}, {"90s", 90 * time.Second, false}, {"1h", time.Hour, false}} {
		fs := pflag.NewFlagSet("backup", pflag.ContinueOnError)
		fs.String("timeout", "1h", "")
		if err := fs.Parse([]string{"--timeout=" + tc.arg}); err != nil {
			t.Fatal(err)
		}
		got, err := timeoutFlag(caddycmd.Flags{FlagSet: fs})
		if tc.refused {
			if err == nil || !strings.Contains(err.Error(), "--timeout") {
				t.Errorf("--timeout %q: %v, %v; want refused naming the flag", tc.arg, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("--timeout %q: %v, %v; want %v", tc.arg, got, err, tc.want)
		}
	}
}
