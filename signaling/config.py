"""Server settings from command-line flags, `PYSFU_*` environment variables and a TOML file.

Precedence, highest first: flags, environment, file, built-in defaults. Every setting has
one name used in all three places: `rtc_min_port` is the flag `--rtc-min-port`, the
variable `PYSFU_RTC_MIN_PORT` and the TOML key `rtc_min_port`. API keys come from the
`[keys]` table of the file (`key = "secret"`) plus the pair given by `--api-key` and
`--api-secret` (or `PYSFU_API_KEY` and `PYSFU_API_SECRET`).
"""

import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "PYSFU_"
# RFC 7518 §3.2 requires HS256 keys at least as long as the hash output (256 bits).
MIN_SECRET_LENGTH = 32
MAX_API_KEY_LENGTH = 128
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")


class ConfigError(ValueError):
    """A setting has an invalid value or the config file cannot be used; the message names it."""


def default_web_dir() -> Path:
    """Return `web/dist` of the source tree that this package was loaded from."""
    return Path(__file__).resolve().parent.parent / "web" / "dist"


@dataclass(frozen=True)
class Settings:
    """Validated settings of `pysfu serve` and `pysfu token`."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    rtc_ip: str = "127.0.0.1"
    announced_address: str | None = None
    rtc_min_port: int = 10000
    rtc_max_port: int = 59999
    web_dir: Path = field(default_factory=default_web_dir)
    log_level: str = "info"
    log_format: str = "auto"
    max_message_size: int = 65536
    consumer_ack_timeout: float = 10.0
    max_peers_per_room: int = 100
    cors_origins: tuple[str, ...] = ()
    # API key -> secret. Empty means development mode: the server makes a random pair.
    keys: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def development_mode(self) -> bool:
        return not self.keys


# Parsers take the raw value (a string from a flag or the environment, or a TOML value)
# and return the typed value or raise ValueError with the text after "must be".


def _parse_int(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = value
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value.strip())
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            raise ValueError(f"an integer {low}..{high}")
        return number

    return parse


def _parse_float(low: float, high: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        number = value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        if isinstance(number, int) and not isinstance(number, bool):
            number = float(number)
        if not isinstance(number, float) or not low <= number <= high:
            raise ValueError(f"a number of seconds {low}..{high}")
        return number

    return parse


def _parse_ip(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("an IPv4 or IPv6 address")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address") from None


def _parse_host(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError("a host name or IP address without spaces")
    return value.strip()


def _parse_optional_address(value: Any) -> str | None:
    if not isinstance(value, str) or any(c.isspace() for c in value.strip()):
        raise ValueError("an IP address or host name without spaces")
    return value.strip() or None


def _parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return value.strip().lower()

    return parse


def _parse_path(value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a folder path")
    return Path(value.strip()).expanduser()


def _parse_origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[Any] = [item.strip() for item in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("a comma-separated list of origins such as http://localhost:5173, or *")
    origins = []
    for item in items:
        if not isinstance(item, str) or not item or any(c.isspace() for c in item):
            raise ValueError("a list of origins such as http://localhost:5173, or *")
        if item != "*" and not item.startswith(("http://", "https://")):
            raise ValueError("a list of origins that start with http:// or https://, or *")
        origins.append(item)
    return tuple(origins)


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its name, parser and help text for the command line."""

    name: str
    parse: Callable[[Any], Any]
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("host", _parse_host, "address the HTTP server listens on (default 127.0.0.1)"),
    SettingSpec("port", _parse_int(0, 65535), "HTTP port; 0 picks a free one (default 8080)"),
    SettingSpec(
        "workers", _parse_int(1, 1024), "number of media worker processes (default: CPU count)"
    ),
    SettingSpec("rtc_ip", _parse_ip, "IP address WebRTC transports listen on (default 127.0.0.1)"),
    SettingSpec(
        "announced_address",
        _parse_optional_address,
        "address put in ICE candidates instead of rtc_ip, for NAT or a public IP",
    ),
    SettingSpec(
        "rtc_min_port", _parse_int(1, 65535), "lowest UDP/TCP port for media (default 10000)"
    ),
    SettingSpec(
        "rtc_max_port", _parse_int(1, 65535), "highest UDP/TCP port for media (default 59999)"
    ),
    SettingSpec("web_dir", _parse_path, "folder of the built web app (default: web/dist)"),
    SettingSpec("log_level", _parse_choice(LOG_LEVELS), "debug, info, warning or error"),
    SettingSpec(
        "log_format",
        _parse_choice(LOG_FORMATS),
        "json, console, or auto (console on a terminal, else json)",
    ),
    SettingSpec(
        "max_message_size",
        _parse_int(4096, 16 * 1024 * 1024),
        "largest socket.io message accepted, in bytes (default 65536)",
    ),
    SettingSpec(
        "consumer_ack_timeout",
        _parse_float(0.1, 300.0),
        "seconds a client has to acknowledge newConsumer before it is closed (default 10)",
    ),
    SettingSpec(
        "max_peers_per_room",
        _parse_int(1, 10000),
        "connections allowed per room (default 100)",
    ),
    SettingSpec(
        "cors_origins",
        _parse_origins,
        "origins allowed to open socket.io connections from other sites, comma-separated",
    ),
)
_SPECS = {spec.name: spec for spec in SETTINGS}
KEY_SETTINGS = ("api_key", "api_secret")
# The TOML file may contain every setting and the [keys] table; the key pair has no TOML key.
_TOML_KEYS = {*_SPECS, "keys"}


def _invalid(name: str, value: Any, source: str, expected: str) -> ConfigError:
    return ConfigError(f"invalid {name} {value!r} (from {source}): must be {expected}")


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and check the keys of a TOML config file; raise ConfigError naming the problem."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"cannot parse config file {path}: {error}") from None
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        known = ", ".join(sorted(_TOML_KEYS))
        raise ConfigError(f"unknown setting {unknown[0]!r} in {path} (known settings: {known})")
    return data


def _parse_key_table(value: Any, source: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f'invalid keys (from {source}): must be a table of key = "secret"')
    keys = {}
    for api_key, secret in value.items():
        keys[_check_api_key(api_key, source)] = _check_secret(secret, f"keys.{api_key}", source)
    return keys


def _check_api_key(api_key: Any, source: str) -> str:
    if (
        not isinstance(api_key, str)
        or not 1 <= len(api_key) <= MAX_API_KEY_LENGTH
        or not api_key.isprintable()
        or any(c.isspace() for c in api_key)
    ):
        raise _invalid(
            "api_key", api_key, source, f"1..{MAX_API_KEY_LENGTH} printable characters, no spaces"
        )
    return api_key


def _check_secret(secret: Any, name: str, source: str) -> str:
    # The error gives the length only: a secret must never reach a log or a terminal.
    if not isinstance(secret, str):
        raise ConfigError(f"invalid {name} (from {source}): must be a string")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"invalid {name} (from {source}): must be at least {MIN_SECRET_LENGTH} characters, "
            f"got {len(secret)}"
        )
    return secret


def load_settings(
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    config_path: str | None = None,
) -> Settings:
    """Build Settings from flag values, environment variables and an optional TOML file.

    `flags` maps setting names (and `api_key`, `api_secret`) to the string given on the
    command line or None. `config_path` defaults to `PYSFU_CONFIG`. Raises ConfigError
    naming the setting, the value and where it came from.
    """
    path_text = config_path if config_path is not None else env.get(ENV_PREFIX + "CONFIG")
    file_values: dict[str, Any] = {}
    file_source = ""
    if path_text:
        path = Path(path_text).expanduser()
        file_values = read_config_file(path)
        file_source = str(path)

    values: dict[str, Any] = {}
    for spec in SETTINGS:
        raw, source = _pick(spec.name, spec.flag, spec.env, flags, env, file_values, file_source)
        if source is None:
            continue
        try:
            values[spec.name] = spec.parse(raw)
        except ValueError as error:
            raise _invalid(spec.name, raw, source, str(error)) from None

    settings = Settings(**values, keys=_load_keys(flags, env, file_values, file_source))
    if settings.rtc_min_port > settings.rtc_max_port:
        raise ConfigError(
            f"invalid rtc_min_port {settings.rtc_min_port}: "
            f"greater than rtc_max_port {settings.rtc_max_port}"
        )
    return settings


def _pick(
    name: str,
    flag: str,
    env_name: str,
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    file_values: Mapping[str, Any],
    file_source: str,
) -> tuple[Any, str | None]:
    """Return the raw value of a setting and where it came from, by precedence."""
    if flags.get(name) is not None:
        return flags[name], flag
    if env_name in env:
        return env[env_name], env_name
    if name in file_values:
        return file_values[name], f"{name} in {file_source}"
    return None, None


def _load_keys(
    flags: Mapping[str, str | None],
    env: Mapping[str, str],
    file_values: Mapping[str, Any],
    file_source: str,
) -> dict[str, str]:
    keys: dict[str, str] = {}
    if "keys" in file_values:
        keys = _parse_key_table(file_values["keys"], file_source)
    api_key, key_source = _pick("api_key", "--api-key", "PYSFU_API_KEY", flags, env, {}, "")
    secret, secret_source = _pick(
        "api_secret", "--api-secret", "PYSFU_API_SECRET", flags, env, {}, ""
    )
    if key_source is None and secret_source is None:
        return keys
    if key_source is None:
        raise ConfigError(
            f"api_secret is set (from {secret_source}) but api_key is not: "
            "give both, with --api-key or PYSFU_API_KEY"
        )
    if secret_source is None:
        raise ConfigError(
            f"api_key is set (from {key_source}) but api_secret is not: "
            "give both, with --api-secret or PYSFU_API_SECRET"
        )
    keys[_check_api_key(api_key, key_source)] = _check_secret(secret, "api_secret", secret_source)
    return keys
