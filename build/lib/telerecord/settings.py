"""Service settings: read once, at the edge, from TELERECORD_* variables and CLI flags."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PREFIX = "TELERECORD_"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. Empty strings mean "derive a default" (see :meth:`resolved`)."""

    data_dir: Path = Path("./data")
    database_url: str = ""
    queue_url: str = ""
    storage_url: str = ""
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    signing_key: str = ""
    stun_url: str = ""
    public_ip: str = ""
    reconnect_grace: float = 30.0
    silence_timeout: float = 10.0
    thumbnail_interval: float = 10.0
    dash_segment_seconds: float = 4.0
    embedded_worker: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def resolved(self) -> Settings:
        """Fill derived defaults: SQLite and storage in the data dir, a persistent signing key."""
        data_dir = self.data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        database_url = self.database_url or f"sqlite:///{data_dir / 'telerecord.db'}"
        queue_url = self.queue_url or f"sqlite:///{data_dir / 'jobs.db'}"
        storage_url = self.storage_url or f"file://{data_dir / 'storage'}"
        public_url = (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
        signing_key = self.signing_key or _stored_signing_key(data_dir)
        return replace(
            self,
            data_dir=data_dir,
            database_url=database_url,
            queue_url=queue_url,
            storage_url=storage_url,
            public_url=public_url,
            signing_key=signing_key,
        )

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"


def _stored_signing_key(data_dir: Path) -> str:
    """A key generated on first start and kept in the data dir, so signed URLs survive restarts."""
    path = data_dir / "signing.key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return path.read_text().strip()


def load_settings(
    env: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
) -> Settings:
    """Settings from the environment, then flags (``overrides``, None values ignored)."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        raw = env.get(PREFIX + f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = _convert(f.name, raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _convert(key, value) if isinstance(value, str) else value
    return Settings(**values)  # type: ignore[arg-type]


def _convert(name: str, raw: str) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "Path":
            return Path(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return raw.strip().lower() in {"1", "true", "yes", "on"}
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name.upper()}: cannot read {raw!r}: {exc}") from None
    return raw
