"""Presentation, from the analysis only: the report's tables, diagrams (model, layout, DOT, TikZ) and HTML."""
