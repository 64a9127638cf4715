"""Cue-word lexicons, one JSON file per language."""
