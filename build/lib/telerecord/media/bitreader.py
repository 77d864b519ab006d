"""MSB-first bit reader with Exp-Golomb codes, for codec headers (H.264 SPS, VP9, AV1)."""

from __future__ import annotations


class BitReader:
    """Reads bits most-significant first; raises ValueError past the end of the data."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def bit(self) -> int:
        """One bit (u(1))."""
        byte_index = self._pos >> 3
        if byte_index >= len(self._data):
            raise ValueError("bitstream ended early")
        value = (self._data[byte_index] >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        """An unsigned number of `count` bits (u(n))."""
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        """Unsigned Exp-Golomb (ue(v))."""
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        """Signed Exp-Golomb (se(v))."""
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)

    def uvlc(self) -> int:
        """AV1 uvlc()."""
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros >= 32:
                return (1 << 32) - 1
        return (1 << zeros) - 1 + self.bits(zeros)
