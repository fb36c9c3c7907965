"""`hark serve`: many voice sessions at once, from browsers and programs, on one set of loaded models."""
