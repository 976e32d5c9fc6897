"""The Data Map: data sources, their harvested tables and columns, sensitive types.

Higher apps react to catalog changes through hooks (``apps.catalog.hooks``), never the
other way round.
"""
