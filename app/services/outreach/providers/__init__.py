"""Provider adapters: how a message reaches SMTP, Kavenegar, Twilio and the WhatsApp Cloud API,
and how their callbacks read."""
