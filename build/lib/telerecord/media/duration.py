"""How long an opened media container lasts, in seconds from its first timestamp."""

from __future__ import annotations

import av
from av.container import InputContainer


def container_span(container: InputContainer) -> tuple[float, float]:
    """Return (start, duration) in seconds of an opened input container.

    Uses the container header (WebM Duration, MP4 moov) when present; a file without
    one (e.g. a spool piece cut by a crash) is scanned packet by packet, then rewound.
    """
    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    if container.duration is not None and container.duration > 0:
        return start, container.duration / av.time_base
    end = _scan_end(container)
    container.seek(0)
    return start, max(0.0, end - start)


def _scan_end(container: InputContainer) -> float:
    end = 0.0
    for packet in container.demux():
        if packet.pts is None or packet.time_base is None:
            continue
        packet_end = packet.pts + (packet.duration or 0)
        end = max(end, float(packet_end * packet.time_base))
    return end
