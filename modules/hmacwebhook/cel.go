package hmacwebhook

import (
	"fmt"
	"reflect"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// CELLibrary exposes the matcher to `expression` matchers as
// hmac_webhook(<secret>...), with the defaults a WhatsApp webhook wants:
// header X-Hub-Signature-256, max_body 1MiB, Content-Type application/json,
// a JSON body. A failed check ends the request with its status, as the
// matcher does. Escape placeholders in the arguments (\{env.X}): the
// expression matcher would otherwise turn them into request-time calls
// inside the string; escaped, they reach the matcher, which resolves them
// once at provision time.
//
//	expression hmac_webhook('\{env.WHATSAPP_APP_SECRET}') && method('POST')
func (MatchHMACWebhook) CELLibrary(ctx caddy.Context) (cel.Library, error) {
	return caddyhttp.CELMatcherImpl(
		"hmac_webhook",
		"hmac_webhook_match_request_secrets",
		[]*cel.Type{cel.ListType(cel.StringType)},
		func(data ref.Val) (caddyhttp.RequestMatcherWithError, error) {
			secrets, err := data.ConvertToNative(stringSlice)
			if err != nil {
				return nil, fmt.Errorf("hmac_webhook: secrets must be strings: %v", err)
			}
			m := MatchHMACWebhook{
				Secrets:     secrets.([]string),
				ContentType: "application/json",
				RequireJSON: true,
			}
			if err := m.Provision(ctx); err != nil {
				return nil, err
			}
			return m, m.Validate()
		},
	)
}

var stringSlice = reflect.TypeOf([]string{})
