"""The dialogue side: LLM backends and the manager that decides what the model sees and remembers."""
