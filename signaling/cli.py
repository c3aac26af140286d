"""The `pysfu` command line: `serve`, `token` and `info`."""

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version

import uvloop

from sfu import SfuError, create_worker
from signaling.config import SETTINGS, ConfigError, Settings, load_settings
from signaling.tokens import (
    MAX_IDENTITY_LENGTH,
    MAX_METADATA_LENGTH,
    MAX_NAME_LENGTH,
    VideoGrant,
    check_room_name,
    create_token,
)

EXIT_CONFIG_ERROR = 2
MAX_TTL_SECONDS = 366 * 24 * 3600
DEFAULT_TTL_SECONDS = 6 * 3600


def _version() -> str:
    try:
        return version("pysfu")
    except PackageNotFoundError:
        return "unknown"


async def _info() -> int:
    """Start one worker, print its dump and resource usage, and close it."""
    try:
        worker = await create_worker()
    except SfuError as error:
        print(f"pysfu: {error}", file=sys.stderr)
        return 1
    try:
        report = {
            "version": _version(),
            "worker": await worker.dump(),
            "resourceUsage": await worker.get_resource_usage(),
        }
    finally:
        worker.close()
        await worker.wait_closed()
    print(json.dumps(report, indent=2))
    return 0


def _add_key_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="TOML file with settings and a [keys] table"
    )
    parser.add_argument(
        "--api-key", dest="api_key", metavar="KEY", help="API key: the iss claim of tokens"
    )
    parser.add_argument(
        "--api-secret",
        dest="api_secret",
        metavar="SECRET",
        help="secret of --api-key, at least 32 characters "
        "(prefer PYSFU_API_SECRET: flags are visible to other local users)",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pysfu", description="pysfu WebRTC SFU")
    parser.add_argument("--version", action="version", version=f"pysfu {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="start one media worker, print what it reports, and exit")

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the server. Every flag can also be set with the PYSFU_* variable "
        "of the same name (--rtc-ip: PYSFU_RTC_IP) or as a key of the --config file; "
        "flags win over variables, which win over the file.",
    )
    for spec in SETTINGS:
        serve.add_argument(spec.flag, dest=spec.name, metavar="VALUE", help=spec.help)
    _add_key_flags(serve)

    token = commands.add_parser(
        "token",
        help="print an access token",
        description="Print a signed access token for one participant of one room.",
    )
    token.add_argument("--room", required=True, help="room the token grants")
    token.add_argument("--identity", required=True, help="participant identity (sub claim)")
    token.add_argument("--name", default="", help="display name")
    token.add_argument("--metadata", default="", help="free text given to the other peers")
    token.add_argument("--admin", action="store_true", help="grant roomAdmin")
    token.add_argument(
        "--ttl",
        default=str(DEFAULT_TTL_SECONDS),
        metavar="SECONDS",
        help=f"validity in seconds (default {DEFAULT_TTL_SECONDS})",
    )
    _add_key_flags(token)
    return parser


def _load(args: argparse.Namespace, env: Mapping[str, str], names: list[str]) -> Settings:
    flags = {name: getattr(args, name, None) for name in names}
    return load_settings(flags, env, args.config)


def _serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from signaling.app import serve
    from signaling.logs import configure_logging

    settings = _load(args, env, [spec.name for spec in SETTINGS] + ["api_key", "api_secret"])
    configure_logging(settings.log_level, settings.log_format)

    def print_line(text: str) -> None:
        print(text, flush=True)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(serve(settings, print_line=print_line))


def _token(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    names = ["api_key", "api_secret"]
    selected_key: str | None = None
    if args.api_key is not None and args.api_secret is None and "PYSFU_API_SECRET" not in env:
        # --api-key alone picks one of the keys of the config file.
        selected_key, args.api_key = args.api_key, None
    settings = _load(args, env, names)
    api_key = _pick_key(settings, selected_key if selected_key else args.api_key)
    problem = check_room_name(args.room)
    if problem is not None:
        raise ConfigError(f"invalid --room: {problem}")
    _check_text("--identity", args.identity, MAX_IDENTITY_LENGTH, required=True)
    _check_text("--name", args.name, MAX_NAME_LENGTH, required=False)
    _check_text("--metadata", args.metadata, MAX_METADATA_LENGTH, required=False)
    ttl = args.ttl
    if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL_SECONDS:
        raise ConfigError(f"invalid --ttl {ttl!r}: must be an integer 1..{MAX_TTL_SECONDS}")
    token = create_token(
        api_key=api_key,
        api_secret=settings.keys[api_key],
        identity=args.identity,
        grant=VideoGrant(room=args.room, room_admin=args.admin),
        now=time.time(),
        ttl=int(ttl),
        name=args.name,
        metadata=args.metadata,
    )
    print(token)
    return 0


def _pick_key(settings: Settings, api_key: str | None) -> str:
    keys = settings.keys
    if not keys:
        raise ConfigError(
            "pysfu token needs an API key and secret: give --api-key and --api-secret, "
            "set PYSFU_API_KEY and PYSFU_API_SECRET, or add a [keys] table to the --config file"
        )
    if api_key is not None:
        if api_key not in keys:
            raise ConfigError(f"invalid --api-key {api_key!r}: not in the configured keys")
        return api_key
    if len(keys) > 1:
        raise ConfigError(
            f"several API keys are configured ({', '.join(sorted(keys))}): "
            "choose one with --api-key"
        )
    return next(iter(keys))


def _check_text(flag: str, value: str, max_length: int, *, required: bool) -> None:
    if (required and not value) or len(value) > max_length or not value.isprintable():
        low = 1 if required else 0
        raise ConfigError(
            f"invalid {flag} {value!r}: must be {low}..{max_length} printable characters"
        )


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    environment = os.environ if env is None else env
    try:
        if args.command == "info":
            return asyncio.run(_info())
        if args.command == "serve":
            return _serve(args, environment)
        if args.command == "token":
            return _token(args, environment)
    except ConfigError as error:
        print(f"pysfu: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    parser.error(f"unknown command {args.command!r}")
    return EXIT_CONFIG_ERROR


if __name__ == "__main__":
    sys.exit(main())
