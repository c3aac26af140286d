"""The `pysfu` command: token output, config errors, and a served process stopped by SIGTERM."""

import asyncio
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import jwt
import pytest

from signaling.cli import main
from signaling.tokens import VideoGrant, create_token, verify_token
from tests.signaling.client import RoomClient
from tests.signaling.conftest import RECV_CAPABILITIES

SECRET = "cli-secret-" + "q" * 32
KEY_ENV = {"PYSFU_API_KEY": "cli-key", "PYSFU_API_SECRET": SECRET}


def test_token_claims(capsys: pytest.CaptureFixture[str]) -> None:
    before = time.time()
    code = main(
        ["token", "--room", "demo", "--identity", "ann", "--name", "Ann", "--admin", "--ttl", "60"],
        env=KEY_ENV,
    )
    assert code == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iss"] == "cli-key"
    assert claims["sub"] == "ann"
    assert claims["name"] == "Ann"
    assert claims["video"] == {
        "room": "demo",
        "roomJoin": True,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "roomAdmin": True,
        "hidden": False,
    }
    assert int(before) <= claims["nbf"] <= time.time()
    assert claims["exp"] == claims["nbf"] + 60
    assert verify_token(token, {"cli-key": SECRET}, time.time()).video.room == "demo"


def test_token_key_from_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "pysfu.toml"
    config.write_text(f'[keys]\none = "{SECRET}"\ntwo = "{SECRET}2"\n')
    argv = ["token", "--room", "r", "--identity", "i", "--config", str(config)]
    assert main(argv, env={}) == 2
    assert capsys.readouterr().err == (
        "pysfu: several API keys are configured (one, two): choose one with --api-key\n"
    )
    assert main([*argv, "--api-key", "two"], env={}) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, SECRET + "2", algorithms=["HS256"])["iss"] == "two"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["token", "--room", "r", "--identity", "i"],
            {},
            "pysfu token needs an API key and secret: give --api-key and --api-secret, "
            "set PYSFU_API_KEY and PYSFU_API_SECRET, or add a [keys] table to the --config file",
        ),
        (
            ["token", "--room", "r", "--identity", "i", "--ttl", "-5"],
            KEY_ENV,
            "invalid --ttl '-5': must be an integer 1..31622400",
        ),
        (
            ["token", "--room", "", "--identity", "i"],
            KEY_ENV,
            "invalid --room: room must be a non-empty string, got ''",
        ),
        (
            ["serve", "--port", "70000"],
            {},
            "invalid port '70000' (from --port): must be an integer 0..65535",
        ),
        (
            ["serve"],
            {"PYSFU_WORKERS": "many"},
            "invalid workers 'many' (from PYSFU_WORKERS): must be an integer 1..1024",
        ),
    ],
)
def test_config_error_exit(
    argv: list[str], env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, env=env) == 2
    captured = capsys.readouterr()
    assert captured.err == f"pysfu: {message}\n"
    assert captured.out == ""


def test_unknown_toml_key_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("listen = 1\n")
    assert main(["serve", "--config", str(config)], env={}) == 2
    assert capsys.readouterr().err.startswith(
        f"pysfu: unknown setting 'listen' in {config} (known settings: "
    )


async def read_url(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(20):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, "the server exited before it printed its URL"
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match:
                return match.group(1)


async def test_sigterm_stops_server(tmp_path: Path) -> None:
    env = {**os.environ, **KEY_ENV}
    log = (tmp_path / "stderr.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling.cli",
        "serve",
        "--port",
        "0",
        "--workers",
        "2",
        "--web-dir",
        str(tmp_path / "dist"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    client = RoomClient("")
    try:
        url = await read_url(process)
        assert process.stdout is not None
        join_line = (await process.stdout.readline()).decode()
        assert join_line == f"Join a room: {url}/?room=demo\n"
        async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as reply:
            metrics = await reply.text()
        pids = [int(pid) for pid in re.findall(r'pysfu_worker_routers\{worker="(\d+)"\}', metrics)]
        assert len(pids) == 2
        token = create_token(
            api_key="cli-key",
            api_secret=SECRET,
            identity="watcher",
            grant=VideoGrant(room="demo"),
            now=time.time(),
        )
        client = RoomClient(url)
        await client.connect(token)
        await client.ok("join", {"rtpCapabilities": RECV_CAPABILITIES})

        process.send_signal(signal.SIGTERM)
        assert await client.wait_for("serverShutdown", timeout=10) == {}
        await asyncio.wait_for(client.disconnected.wait(), 10)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        await client.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
