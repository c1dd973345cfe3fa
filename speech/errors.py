"""Errors whose message is shown to the user as is. Anything else is a bug."""

from __future__ import annotations


class SpeechError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class AudioInputError(SpeechError):
    """The audio itself cannot be used; the user should send a different recording."""


class EmptyAudioError(AudioInputError):
    """The upload has no bytes or decodes to zero samples."""


class NotAudioError(AudioInputError):
    """The content is not audio at all (an image, a text file, ...), whatever its file name says."""


class CorruptAudioError(AudioInputError):
    """The content looks like audio but cannot be decoded completely (damaged or cut off)."""


class AudioTooLongError(AudioInputError):
    """The clip is longer than the configured maximum duration."""


class AudioTooLargeError(AudioInputError):
    """The upload is bigger than the configured maximum size in bytes."""


class InvalidAudioFormatError(AudioInputError):
    """Sample rate, channel count or sample type outside what any microphone produces."""


class NoSpeechError(AudioInputError):
    """The audio decodes fine but holds no speech (silence, noise)."""


class ModelError(SpeechError):
    """A Whisper model cannot be found, verified or loaded; the operator must fix the installation."""


class ModelNotAvailableError(ModelError):
    """The requested model is neither in the offline pack, nor a local path, nor downloadable."""


class ModelIntegrityError(ModelError):
    """A weight file's sha256 does not match the pinned value: refuse to load it."""


class UnknownEngineError(SpeechError):
    """The configured engine name is not one of the registered engines."""


class EngineNotInstalledError(SpeechError):
    """The engine's Python package is missing; the message says what to pip install."""


class ManifestError(SpeechError):
    """An evaluation manifest is missing, malformed, or points at missing audio files."""
