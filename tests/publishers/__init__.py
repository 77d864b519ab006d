"""Real WHIP publishers (aiortc, headless Chromium, FFmpeg) for end-to-end tests."""
