import tomllib

import pytest

from capture3d.config import AppConfig, config_from_dict, config_to_toml, load_config
from capture3d.errors import ConfigError


def test_defaults_roundtrip_through_toml():
    cfg = AppConfig()
    assert config_from_dict(tomllib.loads(config_to_toml(cfg))) == cfg


def test_unknown_key_lists_allowed(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[triangulation]\nthreshold = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'threshold'; allowed keys: robust, threshold_px"):
        load_config(p)
    p.write_text("[triangulaton]\n")
    with pytest.raises(ConfigError, match="allowed keys: synthetic, triangulation"):
        load_config(p)


@pytest.mark.parametrize("text,needle", [
    ("[triangulation]\nthreshold_px = -1\n", "threshold_px must be > 0"),
    ("[triangulation]\nmin_views = 1.5\n", "expected an integer"),
    ("[synthetic]\ncameras = 40\n", "2..16"),
    ("[synthetic]\nwhole_body = 1\n", "true or false"),
    ("[synthetic\n", "not valid TOML"),
])
def test_invalid_values(tmp_path, text, needle):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(p)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/config.toml")


def test_shipped_demo_config_loads_with_defaults():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.toml")
    assert cfg.synthetic == AppConfig().synthetic and cfg.triangulation == AppConfig().triangulation


def test_shipped_defaults_file_lists_every_setting():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "configs" / "defaults.toml"
    body = path.read_text().split("\n\n", 1)[1]  # after the header comment
    assert body.strip() == config_to_toml(AppConfig()).strip(), "regenerate configs/defaults.toml"
    assert load_config(path) == AppConfig()
