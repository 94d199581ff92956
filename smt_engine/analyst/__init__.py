"""The analyst: prompt, Gemini client, parsing and validation, heuristic fallback."""
