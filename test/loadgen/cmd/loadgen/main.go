// Command loadgen posts distinct signed WhatsApp webhooks to a local
// agente-caddy and prints the rate, p50/p99 and the statuses. (Accepted vs
// processed, with a fake Graph API counting the replies, is what `make
// bench` adds: test/e2e's BenchmarkStaircase.)
//
//	go run ./test/loadgen/cmd/loadgen -url http://127.0.0.1:8080/webhooks/whatsapp -n 20000 -c 32
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/agentehotel/agente-caddy/internal/config"
	"github.com/agentehotel/agente-caddy/test/loadgen"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/webhooks/whatsapp", "webhook URL (loopback only)")
	n := flag.Int("n", 10000, "requests, each a new message")
	conns := flag.Int("c", 16, "connections")
	rate := flag.Float64("rate", 0, "requests per second (0: as fast as answered)")
	guests := flag.Int("guests", 256, "distinct guests (conversations)")
	secret := flag.String("secret", config.DevDefaults["WHATSAPP_APP_SECRET"], "app secret to sign with")
	pnid := flag.String("phone-number-id", "106540352242922", "business number the messages are written to")
	text := flag.String("text", "hola", "message text")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prefix := fmt.Sprintf("loadgen-%d", time.Now().UnixNano())
	res, err := loadgen.Run(ctx, loadgen.Config{URL: *target, Requests: loadgen.Bodies(*n, *guests, *secret, *pnid, prefix, *text),
		Connections: *conns, Rate: *rate})
	fmt.Printf("sent %d, 2xx %d, errors %d, statuses %v\n", res.Sent, res.OK, res.Errors, res.Statuses)
	fmt.Printf("%.0f req/s over %v; p50 %v, p99 %v\n", res.RPS(), res.Elapsed.Round(time.Millisecond), res.P50, res.P99)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
