-- The hotel's WhatsApp message template as Meta approved it: outside the
-- 24-hour customer-service window (the guest's last message is more than a
-- day old) WhatsApp delivers only approved templates, so a reply due then is
-- sent as this template. An empty name: the hotel has none, and such a reply
-- fails. Body parameters fill the template's {{1}}, {{2}}... in order; in
-- them {guest_name} and {hotel_name} are replaced (internal/tenancy).
ALTER TABLE tenants
    ADD COLUMN whatsapp_template_name text NOT NULL DEFAULT '',
    ADD COLUMN whatsapp_template_language text NOT NULL DEFAULT '',
    ADD COLUMN whatsapp_template_body_parameters text[] NOT NULL DEFAULT '{}';
