// Package mailfixtures holds real-world mails in their wire form (RFC 5322,
// as a receiving server stores them) for the email channel's tests: replies
// written in Gmail, Outlook and Apple Mail, an HTML-only newsletter, a
// bounce, an out-of-office reply, ISO-8859-1 quoted-printable and
// Windows-1252 base64 bodies, an attachment, a spoofed From. Each was
// received by mx.hotel.test for reception@hotel.test: that is the
// authserv-id of the Authentication-Results the tests trust.
package mailfixtures

import (
	"embed"
	"strings"
)

//go:embed testdata/*.eml
var files embed.FS

// AuthservID is the receiving server's name in the fixtures'
// Authentication-Results.
const AuthservID = "mx.hotel.test"

// Mailbox is the hotel's address the fixtures were sent to.
const Mailbox = "reception@hotel.test"

// Raw returns the fixture name (without .eml) as stored.
func Raw(name string) []byte {
	b, err := files.ReadFile("testdata/" + name + ".eml")
	if err != nil {
		panic(err)
	}
	return b
}

// With returns the fixture with each {{KEY}} replaced by vars[KEY].
func With(name string, vars map[string]string) []byte {
	s := string(Raw(name))
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return []byte(s)
}

// Names lists the fixtures.
func Names() []string {
	entries, _ := files.ReadDir("testdata")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".eml"))
	}
	return out
}
