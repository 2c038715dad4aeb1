package hotel

import (
	"context"

	"github.com/agentehotel/agente-caddy/internal/agent"
	"github.com/agentehotel/agente-caddy/internal/chat"
)

// handoffNotifier tells a hotel's staff that a guest waits for them.
type handoffNotifier struct{}

func (n *handoffNotifier) handoff(ctx context.Context, m chat.Message, hc agent.HotelContext, t agent.Turn) {
}
