"""Review machinery: diff model, context, token budget, engine client, analyzers, grounding.

Nothing in this package imports `bot` or a forge library (DESIGN.md).
"""
