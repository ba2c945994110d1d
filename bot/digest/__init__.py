"""The weekly quality digest: figures, Markdown / Slack / HTML renderings, delivery."""
