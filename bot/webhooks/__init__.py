"""The webhook edge: receivers for GitHub and GitLab, signature checks, routing, health.

The app factory is `bot.webhooks.app.create_app`; the production composition root is
`bot.webhooks.asgi.build_app` (`uvicorn --factory bot.webhooks.asgi:build_app`).
"""
