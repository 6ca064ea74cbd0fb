"""Settings from config/hotline.yaml, overridden by environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hotline.records import Limits

PROJECT_DIR = Path(__file__).resolve().parent.parent
SAMPLES_DIR = PROJECT_DIR / "samples"


class ConfigError(ValueError):
    """A configuration file is missing or wrong; the message names the file."""


def read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def yaml_line(path: Path, where: tuple) -> int | None:
    """The 1-based line where the entry at `where` (keys and list indexes) starts in a YAML file."""
    try:
        with open(path, encoding="utf-8") as handle:
            node = yaml.compose(handle)
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for step in where:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == step), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


@dataclass
class Settings:
    home: Path
    config_dir: Path
    bootstrap: str
    topics: dict[str, int]
    batch_size: int
    batch_within: float
    limits: Limits
    max_record_bytes: int
    db_path: Path
    es_url: str  # Elasticsearch instead of the SQLite file when set
    model_path: Path
    type_model_path: Path | None
    web_host: str
    web_port: int
    env: dict = field(default_factory=dict)

    @property
    def routing_file(self) -> Path:
        return self.config_dir / "routing.yaml"

    @property
    def calendar_file(self) -> Path:
        return self.config_dir / "calendar.yaml"

    @property
    def users_file(self) -> Path:
        return self.config_dir / "users.yaml"

    @property
    def userdict(self) -> Path:
        return self.config_dir / "userdict.txt"

    @property
    def default_model_path(self) -> Path:
        return self.home / "models" / "sample-domain.joblib"

    @property
    def run_file(self) -> Path:
        return self.home / "run.json"


def load_settings(environ: dict | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    home = Path(env.get("HOTLINE_HOME") or Path.home() / ".hotline").expanduser()
    config_dir = Path(env.get("HOTLINE_CONFIG_DIR") or PROJECT_DIR / "config")
    data = read_yaml(config_dir / "hotline.yaml")
    try:
        kafka, worker, limits = data["kafka"], data["worker"], data["limits"]
        store, model, web = data["store"], data["model"], data["web"]
        default_model = home / "models" / "sample-domain.joblib"
        return Settings(
            home=home,
            config_dir=config_dir,
            bootstrap=env.get("HOTLINE_KAFKA_BOOTSTRAP") or kafka.get("bootstrap") or "",
            topics={str(k): int(v) for k, v in kafka["topics"].items()},
            batch_size=int(worker["batch_size"]),
            batch_within=float(worker["batch_within_seconds"]),
            limits=Limits(max_text_chars=int(limits["max_text_chars"]), max_title_chars=int(limits["max_title_chars"])),
            max_record_bytes=int(limits["max_record_bytes"]),
            db_path=Path(env.get("HOTLINE_DB") or store.get("sqlite") or home / "hotline.db"),
            es_url=env.get("HOTLINE_ES_URL") or store.get("elasticsearch") or "",
            model_path=Path(env.get("HOTLINE_MODEL") or model.get("path") or default_model),
            type_model_path=Path(p) if (p := env.get("HOTLINE_TYPE_MODEL") or model.get("type_path")) else None,
            web_host=str(web["host"]),
            web_port=int(env.get("HOTLINE_WEB_PORT") or web["port"]),
            env=env,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{config_dir / 'hotline.yaml'}: missing or malformed setting ({exc})") from None
