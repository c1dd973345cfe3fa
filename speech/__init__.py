"""speech: audio in, a typed Transcript out.

    from speech.audio import decode_audio              # bytes | Path | (rate, ndarray) -> Audio (16 kHz mono)
    from speech.transcriber import load_transcriber    # SpeechConfig -> shared Transcriber (model loads lazily)
    transcript = load_transcriber(config).transcribe(decode_audio(upload), prompt="IBAN, SWIFT")

Importing this package loads no model and no torch; engines import their libraries on first use.
"""
