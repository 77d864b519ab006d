import base64

import pytest

from telerecord.signing import check_token, make_token

KEY = b"k" * 32
NOW = 1_700_000_000.0
LATER = int(NOW) + 3600


def test_valid_token_for_its_path() -> None:
    token = make_token(KEY, "rec_x/file/recording.webm", LATER)
    assert check_token(KEY, token, "rec_x/file/recording.webm", NOW)


def test_token_is_url_safe_without_slash_or_padding() -> None:
    # Many scopes and expiries, so that every base64 character position gets exercised.
    for n in range(200):
        token = make_token(KEY, f"rec_{n}/dash/", LATER + n)
        assert "/" not in token and "+" not in token and "=" not in token
        assert check_token(KEY, token, f"rec_{n}/dash/seg-1.webm", NOW)


def test_expired_token() -> None:
    token = make_token(KEY, "rec_x/file/recording.webm", LATER)
    assert check_token(KEY, token, "rec_x/file/recording.webm", LATER - 0.001)
    assert not check_token(KEY, token, "rec_x/file/recording.webm", LATER)
    assert not check_token(KEY, token, "rec_x/file/recording.webm", LATER + 10)


def test_wrong_key() -> None:
    token = make_token(KEY, "rec_x/file/recording.webm", LATER)
    assert not check_token(b"other-key", token, "rec_x/file/recording.webm", NOW)


def test_tampered_token() -> None:
    token = make_token(KEY, "rec_x/file/recording.webm", LATER)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for index in (0, 7, 8, len(raw) - 1):  # expiry, scope start, MAC
        changed = bytearray(raw)
        changed[index] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode()
        assert not check_token(KEY, forged, "rec_x/file/recording.webm", NOW)
    # Extending the expiry or widening the scope without the key does not pass either.
    widened = make_token(b"attacker", "rec_x/", LATER)
    assert not check_token(KEY, widened, "rec_x/file/recording.webm", NOW)


@pytest.mark.parametrize("garbage", ["", "x", "!!!!", "a/b", "é" * 40, "A" * 60, "A" * 61])
def test_garbage_token(garbage: str) -> None:
    assert not check_token(KEY, garbage, "rec_x/file/recording.webm", NOW)


def test_tampered_path() -> None:
    token = make_token(KEY, "rec_x/file/recording.webm", LATER)
    assert not check_token(KEY, token, "rec_x/file/recording.mp4", NOW)
    assert not check_token(KEY, token, "rec_y/file/recording.webm", NOW)
    assert not check_token(KEY, token, "rec_x/file/recording.webm/x", NOW)
    # A file scope is not a prefix, even for names that start with it.
    assert not check_token(KEY, token, "rec_x/file/recording.webm.bak", NOW)


def test_prefix_scope() -> None:
    token = make_token(KEY, "rec_x/dash/", LATER)
    assert check_token(KEY, token, "rec_x/dash/seg-1.webm", NOW)
    assert check_token(KEY, token, "rec_x/dash/manifest.mpd", NOW)
    assert check_token(KEY, token, "rec_x/dash/video/init.webm", NOW)
    assert not check_token(KEY, token, "rec_x/file/recording.webm", NOW)
    assert not check_token(KEY, token, "rec_x/dashboard.html", NOW)
    assert not check_token(KEY, token, "rec_x/dash", NOW)


@pytest.mark.parametrize(
    "path",
    [
        "rec_x/dash/../file/recording.webm",
        "rec_x/dash/..",
        "rec_x/dash/./seg-1.webm",
        "rec_x/dash//seg-1.webm",
        "rec_x/dash/a\\..\\..\\file",
        "rec_x/dash/seg\0.webm",
    ],
)
def test_prefix_scope_refuses_dot_segments(path: str) -> None:
    token = make_token(KEY, "rec_x/dash/", LATER)
    assert not check_token(KEY, token, path, NOW)


@pytest.mark.parametrize("scope", ["", "/", "/rec_x/file", "rec_x/../file/", "rec_x//dash/"])
def test_bad_scope_refused(scope: str) -> None:
    with pytest.raises(ValueError):
        make_token(KEY, scope, LATER)


def test_empty_key_refused() -> None:
    with pytest.raises(ValueError):
        make_token(b"", "rec_x/dash/", LATER)
