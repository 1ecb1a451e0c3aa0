"""Support: the hand-off to the support chat, paging webhooks, durable deliveries."""
