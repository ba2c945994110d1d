"""The bot: settings, webhooks, forge adapters, commands, history, digest and CLI."""
