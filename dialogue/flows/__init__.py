"""Guided dialogue flows: a task (book a room) with typed slots the user fills by speaking, then an action."""
