"""Training settings declared once: validation, what a run records and the command line's
options all come from `harness.settings.SETTINGS`."""
import pytest

from harness import HarnessError
from harness.cli import main
from harness.settings import SETTINGS
from tests.conftest import TinyClassification


def test_every_declared_setting_is_recorded_checked_and_offered():
    exp = TinyClassification()
    recorded = exp.settings()
    for setting in SETTINGS:
        assert hasattr(exp, setting.name), setting.name
        assert (setting.name in recorded) == setting.recorded, setting.name
    offered = [s.name for s in SETTINGS if s.parse is not None]
    assert {"epochs", "folds", "seed", "batch_size", "learning_rate", "patience"} <= set(offered)


@pytest.mark.parametrize("attribute, value, message", [
    ("learning_rate", 0.0, "learning_rate must be a finite number > 0"),
    ("learning_rate", float("nan"), "learning_rate must be a finite number > 0"),
    ("batch_size", 0, "batch_size must be an integer >= 1"),
    ("epochs", 2.5, "epochs must be an integer >= 1"),
    ("patience", -1, "patience must be an integer >= 0 or None"),
    ("protocol", "holdout", "protocol must be one of"),
    ("validation_fraction", 1.0, "validation_fraction must be a number in"),
    ("hidden_units", (), "hidden_units must be a list of integers >= 1"),
    ("paired_seeds", "yes", "paired_seeds must be True or False"),
])
def test_check_names_the_setting_and_its_rule(attribute, value, message):
    exp = TinyClassification()
    setattr(exp, attribute, value)
    with pytest.raises(HarnessError, match=message):
        exp.check()


def test_overrides_are_checked_applied_and_remembered():
    exp = TinyClassification().configured(batch_size=8, patience=None, learning_rate=0.01)
    assert (exp.batch_size, exp.patience, exp.learning_rate) == (8, None, 0.01)
    assert exp.overrides == {"batch_size": 8, "patience": None, "learning_rate": 0.01}
    assert TinyClassification().overrides == {} and TinyClassification().patience is not None  # the copy only
    with pytest.raises(HarnessError, match="--batch-size must be an integer >= 1, got 0"):
        TinyClassification().configured(batch_size=0)
    with pytest.raises(HarnessError, match="unknown setting"):
        TinyClassification().configured(bogus=1)
    quick = TinyClassification().configured(quick=True)
    assert quick.quick and quick.folds == 3 and quick.settings()["epochs"] == min(TinyClassification.epochs, TinyClassification.quick_epochs)


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
    (["--learning-rate", "nan"], "--learning-rate must be a finite number > 0"),
    (["--protocol", "holdout"], "--protocol must be one of"),
])
def test_command_line_options_come_from_the_declarations(argv, message, capsys, tmp_path):
    code = main(["run", "wine", "--db", str(tmp_path / "r.sqlite"), "--reports-dir", str(tmp_path), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_an_unreadable_option_value_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "wine", "--patience", "soon"])
    assert stop.value.code == 2
    assert "cannot read 'soon' as an integer >= 0 or None" in capsys.readouterr().err
