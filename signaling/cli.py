"""The `pysfu` command line."""

import argparse
import asyncio
import json
import sys
from importlib.metadata import PackageNotFoundError, version

from sfu import SfuError, create_worker


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pysfu", description="pysfu WebRTC SFU")
    parser.add_argument("--version", action="version", version=f"pysfu {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="start one media worker, print what it reports, and exit")
    args = parser.parse_args(argv)
    if args.command == "info":
        return asyncio.run(_info())
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
