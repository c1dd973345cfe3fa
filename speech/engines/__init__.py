"""Whisper engines, one per file, each implementing speech.transcriber.Transcriber."""
