-- The trace context (W3C traceparent) of the span that accepted a message
-- or queued a reply, so the worker that processes it and the sender that
-- sends it continue the webhook's trace (internal/tracing). NULL: accepted
-- or queued without tracing. Adding a nullable column without a default
-- rewrites no row.
ALTER TABLE inbox_messages ADD COLUMN trace_parent text;
ALTER TABLE outbox_replies ADD COLUMN trace_parent text;
