"""Run config comes from the settings dataclasses: every field exposed or deliberately fixed, one default each."""

import dataclasses

import dagster as dg
import pytest

from sector_pipeline.defs.ingest_assets import ValidationConfig
from sector_pipeline.defs.run_config import run_config_class
from sector_pipeline.defs.signal_assets import AlertThresholds, RankingWeights
from sector_pipeline.defs.strategy_assets import AllocationSettings, BacktestSettings, PredictionSettings

CONFIGS = [ValidationConfig, RankingWeights, AlertThresholds, PredictionSettings, AllocationSettings,
           BacktestSettings]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_every_setting_is_exposed_or_listed_as_fixed_and_defaults_are_the_dataclass_ones(config):
    settings = config.settings_class
    exposed = set(config.model_fields)
    for field in dataclasses.fields(settings):
        flattened = {name for name in exposed if name.startswith(field.name.rstrip("s"))}
        assert field.name in exposed or field.name in config.fixed_fields or flattened, \
            f"{settings.__name__}.{field.name} is neither run config nor fixed"
    # the defaults of the run config are the dataclass's: building from an empty config gives the defaults
    built = config().to_config(**({"calendar": "XNYS"} if "calendar" in config.fixed_fields else {}))
    assert built == settings()


def test_a_changed_setting_reaches_the_dataclass_and_its_checks():
    assert AlertThresholds(extreme=0.7).to_config().extreme == 0.7
    assert RankingWeights(weight_5d=0.5).to_config().weights == {5: 0.5, 20: 0.35, 60: 0.40}
    assert AllocationSettings(cap_high=0.4, risk_tolerance="high").to_config(calendar="XNYS").cap == 0.4
    from sector_pipeline.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="risk_tolerance"):
        AllocationSettings(risk_tolerance="reckless").to_config(calendar="XNYS")


def test_a_field_that_cannot_be_run_config_must_be_listed():
    @dataclasses.dataclass(frozen=True)
    class Odd:
        mapping_of_lists: tuple[int, ...] = (1, 2)

    with pytest.raises(TypeError, match="Odd.mapping_of_lists"):
        run_config_class(Odd, name="OddConfig", description="odd")
    assert issubclass(run_config_class(Odd, name="OddConfig", description="odd", fixed=("mapping_of_lists",)),
                      dg.Config)
