"""Errors raised by media code."""


class MediaError(Exception):
    """Media could not be read, written or packaged."""
