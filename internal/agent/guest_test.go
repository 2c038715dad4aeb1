package agent

import (
	"testing"

	"github.com/agentehotel/agente-caddy/internal/nlp"
)

func TestDisplayPhone(t *testing.T) {
	for in, want := range map[string]string{"34600111222": "+34600111222", "+34600111222": "+34600111222", "600111222": "600111222", "": ""} {
		if got := displayPhone(in); got != want {
			t.Errorf("displayPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeclinesEmail(t *testing.T) {
	for text, want := range map[string]bool{
		"sin email": true, "Sin correo, gracias": true, "no tengo": true, "prefiero no darlo": true,
		"No thanks": true, "I'd rather not": true, "I don't have one": true, "no email please": true,
		"skip":            true,
		"ana@example.com": false, "sí": false, "pasó algo?": false, "nonetheless": false, "Ana Paso": false,
	} {
		if got := declinesEmail(text, ""); got != want {
			t.Errorf("declinesEmail(%q) = %v, want %v", text, got, want)
		}
	}
	if !declinesEmail("nope", nlp.No) {
		t.Error("a plain no (as the analyzer reads it) does not decline")
	}
}
