"""Command line: ``telerecord serve | worker | accounts create``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from telerecord.settings import Settings, load_settings

FLAGS = (
    "data_dir",
    "database_url",
    "queue_url",
    "storage_url",
    "public_url",
    "host",
    "port",
    "stun_url",
    "public_ip",
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", dest="data_dir")
    parser.add_argument("--database-url", dest="database_url")
    parser.add_argument("--queue-url", dest="queue_url")
    parser.add_argument("--storage-url", dest="storage_url")
    parser.add_argument("--public-url", dest="public_url")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telerecord", description="Record WHIP streams.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="API, WHIP ingest and (embedded) jobs in one process")
    _common(serve)
    serve.add_argument("--host", dest="host")
    serve.add_argument("--port", dest="port", type=int)
    serve.add_argument("--stun-url", dest="stun_url")
    serve.add_argument("--public-ip", dest="public_ip")
    worker = sub.add_parser("worker", help="job worker only (broker mode)")
    _common(worker)
    worker.add_argument("--workers", type=int, default=2)
    accounts = sub.add_parser("accounts", help="manage accounts")
    acc_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    create = acc_sub.add_parser("create", help="create an account and print its API secret")
    _common(create)
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(overrides={k: getattr(args, k, None) for k in FLAGS}).resolved()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"telerecord: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings)
    if args.command == "worker":
        return _worker(settings, args.workers)
    return _create_account(settings, args.name, as_json=args.json)


def _create_account(settings: Settings, name: str, *, as_json: bool) -> int:
    from telerecord.db.engine import Database
    from telerecord.db.migrate import upgrade
    from telerecord.services import accounts

    db = Database(settings.database_url)
    upgrade(db)
    with db.session() as session:
        account, secret = accounts.create_account(session, name)
        result = {"id": account.id, "name": account.name, "api_secret": secret.secret}
    if as_json:
        print(json.dumps(result))
    else:
        print(f"account {result['id']} ({name})\nAPI secret (shown once): {result['api_secret']}")
    return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from telerecord.server import build_app, build_runtime
    from telerecord.services import accounts

    runtime = build_runtime(settings)
    with runtime.db.session() as session:
        first = accounts.count_accounts(session) == 0
        if first:
            account, secret = accounts.create_account(session, "default")
    if first:
        print(f"Created account {account.id} (default).")
        print(f"API secret (shown once, keep it): {secret.secret}", flush=True)
    s = runtime.settings
    print(f"API:  {s.public_url}/v1/   WHIP: {s.public_url}/whip/{{stream_name}}", flush=True)
    print(f"Data: {s.data_dir}   Database: {runtime.db.url.split('@')[-1]}", flush=True)
    uvicorn.run(build_app(runtime), host=s.host, port=s.port, log_level="info", lifespan="on")
    return 0


def _worker(settings: Settings, workers: int) -> int:
    from telerecord.server import build_runtime

    runtime = build_runtime(settings, with_ingest=False)
    print(f"worker consuming {runtime.jobs.url.split('@')[-1]}", flush=True)
    runtime.jobs.run_worker(workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
