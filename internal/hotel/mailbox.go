package hotel

import (
	"context"
	"errors"
	"strings"

	"github.com/agentehotel/agente-caddy/internal/chat"
	"github.com/agentehotel/agente-caddy/internal/mailbox"
)

// buildMailboxes makes a reader for each configured mailbox. Positions are
// kept in Postgres when configured, else in memory kept across reloads.
func (s *Service) buildMailboxes() error {
	var state mailbox.StateStore
	if s.deps.Postgres != nil {
		state = mailbox.PostgresState{Pool: s.deps.Postgres}
	} else {
		var err error
		if state, err = keep(s.deps.Keeper, "mailbox:state", func() *mailbox.MemoryState { return &mailbox.MemoryState{} }); err != nil {
			return err
		}
	}
	s.mailboxState = state
	var own []string
	if s.cfg.SMTP.From != "" {
		if a, err := mailAddress(s.cfg.SMTP.From); err == nil {
			own = append(own, a)
		}
	}
	for _, mc := range s.cfg.Mailboxes {
		w, err := mailbox.NewWorker(mc, state, s.acceptMail, s.log, own...)
		if err != nil {
			return err
		}
		s.mailboxes = append(s.mailboxes, w)
	}
	return nil
}

// acceptMail makes a mailbox's mail durable in the inbox, where the workers
// answer it like any guest message (with AnswerInline, at once).
func (s *Service) acceptMail(ctx context.Context, msgs []chat.Message) error {
	if s.cfg.AnswerInline {
		_, err := s.answerInline(ctx, msgs, nil)
		return err
	}
	_, err := s.inbox.Accept(ctx, msgs, nil)
	return err
}

func mailAddress(s string) (string, error) {
	i, j := strings.LastIndexByte(s, '<'), strings.LastIndexByte(s, '>')
	if i >= 0 && j > i {
		s = s[i+1 : j]
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.Contains(s, "@") {
		return "", errors.New("not an address")
	}
	return s, nil
}

// oneMail joins a turn's replies into one: each is a separate message on
// WhatsApp, but a guest's email gets one answer.
func oneMail(replies []chat.Reply) []chat.Reply {
	if len(replies) <= 1 {
		return replies
	}
	var parts []string
	for _, r := range replies {
		if p := strings.TrimSpace(r.Plain()); p != "" {
			parts = append(parts, p)
		}
	}
	return []chat.Reply{{Kind: chat.ReplyText, Text: strings.Join(parts, "\n\n")}}
}
