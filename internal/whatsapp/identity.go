package whatsapp

import "regexp"

// userIDRE is the shape of a business-scoped user id (BSUID) in Meta's
// webhook reference: a two-letter country code, a dot, and up to 128
// letters and digits; a parent id (shared by a group of businesses) has
// "ENT." after the country code.
var userIDRE = regexp.MustCompile(`^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$`)

// IsUserID reports whether s is a WhatsApp business-scoped user id rather
// than a phone number. A message from a guest who uses a username may carry
// only this id; a reply to such a guest names it in the send request's
// `recipient` instead of `to`.
func IsUserID(s string) bool { return userIDRE.MatchString(s) }
