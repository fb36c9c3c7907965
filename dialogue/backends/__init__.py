"""LLM backends: Ollama over HTTP, and an embedded llama.cpp model."""
