package agent

import "testing"

func TestDisplayPhone(t *testing.T) {
	for in, want := range map[string]string{"34600111222": "+34600111222", "+34600111222": "+34600111222", "600111222": "600111222", "": ""} {
		if got := displayPhone(in); got != want {
			t.Errorf("displayPhone(%q) = %q, want %q", in, got, want)
		}
	}
}
