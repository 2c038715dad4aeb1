package mailbox

import (
	"strings"

	"github.com/emersion/go-message"
)

// machineSenders are local parts of addresses no person reads.
var machineSenders = []string{"mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "do-not-reply", "donotreply", "do_not_reply", "bounce", "bounces"}

// MachineReason says why a mail comes from a machine, so that answering it
// could start a mail loop or spam a list (RFC 3834), or "" when a person
// wrote it: Auto-Submitted other than "no", Precedence bulk/list/junk, a
// mailing list's List-Id or List-Unsubscribe, an empty Return-Path (a
// bounce), a delivery report, Microsoft's X-Auto-Response-Suppress, a
// mailer-daemon/postmaster/no-reply sender, or one of our own addresses.
func MachineReason(h message.Header, from string, own []string) string {
	if from == "" {
		return "no From address"
	}
	for _, o := range own {
		if strings.EqualFold(strings.TrimSpace(o), from) {
			return "sent from our own address"
		}
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return "Auto-Submitted: " + v
	}
	switch v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v {
	case "bulk", "list", "junk", "auto_reply":
		return "Precedence: " + v
	}
	if h.Get("List-Id") != "" {
		return "mailing list (List-Id)"
	}
	if h.Get("List-Unsubscribe") != "" {
		return "mailing list (List-Unsubscribe)"
	}
	if h.Has("Return-Path") && strings.TrimSpace(strings.Trim(strings.TrimSpace(h.Get("Return-Path")), "<>")) == "" {
		return "null Return-Path (a bounce)"
	}
	if t, _, _ := h.ContentType(); t == "multipart/report" {
		return "delivery report (multipart/report)"
	}
	if v := strings.ToLower(h.Get("X-Auto-Response-Suppress")); strings.Contains(v, "all") || strings.Contains(v, "oof") || strings.Contains(v, "autoreply") {
		return "X-Auto-Response-Suppress: " + v
	}
	if h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != "" {
		return "auto-reply header"
	}
	local := from
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		local = from[:i]
	}
	local = strings.ToLower(local)
	for _, s := range machineSenders {
		if local == s || strings.HasPrefix(local, s+"+") || strings.HasPrefix(local, s+"-") {
			return "machine sender " + local
		}
	}
	return ""
}
