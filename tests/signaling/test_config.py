"""Settings from flags, environment and TOML, their precedence, and the exact errors."""

import os
from pathlib import Path

import pytest

from signaling.config import ConfigError, Settings, default_web_dir, load_settings

SECRET = "s" * 32


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "pysfu.toml"
    path.write_text(text)
    return str(path)


def error_of(flags: dict[str, str | None], env: dict[str, str], path: str | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(flags, env, path)
    return str(info.value)


def test_defaults() -> None:
    settings = load_settings({}, {})
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.workers == (os.cpu_count() or 1)
    assert settings.rtc_ip == "127.0.0.1"
    assert settings.announced_address is None
    assert (settings.rtc_min_port, settings.rtc_max_port) == (10000, 59999)
    assert settings.web_dir == default_web_dir()
    assert settings.keys == {}
    assert settings.development_mode is True


def test_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, 'port = 7000\nworkers = 3\nrtc_ip = "10.0.0.1"\n')
    env = {"PYSFU_PORT": "7100", "PYSFU_WORKERS": "5"}
    settings = load_settings({"port": "7200"}, env, path)
    assert settings.port == 7200  # flag over environment and file
    assert settings.workers == 5  # environment over file
    assert settings.rtc_ip == "10.0.0.1"  # file over default


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "workers = 2\n")
    assert load_settings({}, {"PYSFU_CONFIG": path}).workers == 2


def test_keys_from_all_sources(tmp_path: Path) -> None:
    path = write(tmp_path, f'[keys]\nfile-key = "{SECRET}"\n')
    settings = load_settings(
        {"api_key": "flag-key", "api_secret": SECRET + "f"},
        {"PYSFU_API_KEY": "env-key", "PYSFU_API_SECRET": SECRET + "e"},
        path,
    )
    assert dict(settings.keys) == {"file-key": SECRET, "flag-key": SECRET + "f"}
    assert settings.development_mode is False
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        (
            {"port": "70000"},
            {},
            "invalid port '70000' (from --port): must be an integer 0..65535",
        ),
        (
            {},
            {"PYSFU_WORKERS": "two"},
            "invalid workers 'two' (from PYSFU_WORKERS): must be an integer 1..1024",
        ),
        (
            {"workers": "0"},
            {},
            "invalid workers '0' (from --workers): must be an integer 1..1024",
        ),
        (
            {"rtc_ip": "localhost"},
            {},
            "invalid rtc_ip 'localhost' (from --rtc-ip): must be an IPv4 or IPv6 address",
        ),
        (
            {"log_level": "loud"},
            {},
            "invalid log_level 'loud' (from --log-level): "
            "must be one of debug, info, warning, error",
        ),
        (
            {"rtc_min_port": "20000", "rtc_max_port": "10000"},
            {},
            "invalid rtc_min_port 20000: greater than rtc_max_port 10000",
        ),
        (
            {"consumer_ack_timeout": "never"},
            {},
            "invalid consumer_ack_timeout 'never' (from --consumer-ack-timeout): "
            "must be a number of seconds 0.1..300.0",
        ),
        (
            {"cors_origins": "example.com"},
            {},
            "invalid cors_origins 'example.com' (from --cors-origins): "
            "must be a list of origins that start with http:// or https://, or *",
        ),
        (
            {"api_key": "k"},
            {},
            "api_key is set (from --api-key) but api_secret is not: "
            "give both, with --api-secret or PYSFU_API_SECRET",
        ),
        (
            {},
            {"PYSFU_API_SECRET": SECRET},
            "api_secret is set (from PYSFU_API_SECRET) but api_key is not: "
            "give both, with --api-key or PYSFU_API_KEY",
        ),
        (
            {"api_key": "k", "api_secret": "short"},
            {},
            "invalid api_secret (from --api-secret): must be at least 32 characters, got 5",
        ),
        (
            {"api_key": "a key", "api_secret": SECRET},
            {},
            "invalid api_key 'a key' (from --api-key): "
            "must be 1..128 printable characters, no spaces",
        ),
    ],
)
def test_invalid_value(flags: dict[str, str | None], env: dict[str, str], message: str) -> None:
    assert error_of(flags, env) == message


def test_toml_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "prot = 8080\n")
    assert error_of({}, {}, path).startswith(
        f"unknown setting 'prot' in {path} (known settings: announced_address, "
    )
    path = write(tmp_path, 'port = "eighty"\n')
    assert error_of({}, {}, path) == (
        f"invalid port 'eighty' (from port in {path}): must be an integer 0..65535"
    )
    path = write(tmp_path, "workers = true\n")
    assert error_of({}, {}, path) == (
        f"invalid workers True (from workers in {path}): must be an integer 1..1024"
    )
    path = write(tmp_path, '[keys]\nk = "short"\n')
    assert error_of({}, {}, path) == (
        f"invalid keys.k (from {path}): must be at least 32 characters, got 5"
    )
    path = write(tmp_path, "port = \n")
    assert error_of({}, {}, path).startswith(f"cannot parse config file {path}: ")
    missing = str(tmp_path / "missing.toml")
    assert error_of({}, {}, missing) == (
        f"cannot read config file {missing}: No such file or directory"
    )


def test_toml_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'host = "0.0.0.0"\nport = 9000\nconsumer_ack_timeout = 3\n'
        'cors_origins = ["http://localhost:5173"]\nannounced_address = "203.0.113.7"\n',
    )
    settings = load_settings({}, {}, path)
    assert settings == Settings(
        host="0.0.0.0",
        port=9000,
        consumer_ack_timeout=3.0,
        cors_origins=("http://localhost:5173",),
        announced_address="203.0.113.7",
    )
