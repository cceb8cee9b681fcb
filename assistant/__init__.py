"""Bilingual (Arabic/English) RAG assistant over an article on decentralized AI.

The package is laid out one concern per module so the architecture reads from
the file tree: ``config`` -> ``corpus`` -> ``chunking`` -> ``embeddings`` ->
``store`` -> ``indexing`` (ingest) -> ``text``/``lexical`` -> ``retrieval`` ->
``llm`` -> ``chain`` -> ``ui``; ``cli`` ties them to the command line.
"""

__version__ = "0.1.0"
