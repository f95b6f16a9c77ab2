"""The training script runs end to end, resumes exactly, and writes a folder our session loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nni_jupyter.demo import train

SMALL = ["--batch-size", "1", "--pool", "2", "--validation-examples", "1", "--log-every", "1"]


def _weights(folder):
    checkpoint = torch.load(
        folder / "fold_0" / "checkpoint_final.pth", map_location="cpu", weights_only=True
    )
    return checkpoint["network_weights"]


def test_two_iterations_write_a_loadable_model(tmp_path):
    out = tmp_path / "model"
    train.main(["--out", str(out), "--iterations", "2", *SMALL])
    notes = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert notes["iterations"] == 2 and notes["seed"] == 1234
    assert set(notes["phases"][0]["log"][-1]["validation_dice"]) == set(train.VALIDATION_GROUPS)
    from nni_jupyter.inference import nnInteractiveInferenceSession

    # two iterations leave the weights near random: without AutoZoom one window is predicted
    session = nnInteractiveInferenceSession(
        device=torch.device("cpu"), torch_n_threads=2, do_autozoom=False
    )
    session.initialize_from_trained_model_folder(str(out))
    image = np.random.default_rng(0).normal(0, 100, (48, 48, 48)).astype(np.float32)
    buffer = np.zeros(image.shape, np.uint8)
    session.set_image(image[None])
    session.set_target_buffer(buffer)
    session.add_point_interaction((24, 24, 24), include_interaction=True)
    assert buffer.max() <= 1


def test_resuming_a_phase_gives_the_weights_of_one_uninterrupted_run(tmp_path):
    plan = [
        "--planned-iterations",
        "4",
        "--precision",
        "fp32",
        *SMALL,
        "--validation-examples",
        "0",
    ]
    straight, phased = tmp_path / "straight", tmp_path / "phased"
    train.main(["--out", str(straight), "--iterations", "4", *plan])
    train.main(["--out", str(phased), "--iterations", "2", *plan])
    state = torch.load(phased.with_name("phased.resume.pt"), map_location="cpu", weights_only=True)
    assert state["iteration"] == 2
    train.main(["--out", str(phased), "--resume", "--iterations", "4", "--log-every", "1"])
    notes = json.loads((phased / "training.json").read_text(encoding="utf-8"))
    assert [(p["first_iteration"], p["last_iteration"]) for p in notes["phases"]] == [
        (0, 2),
        (2, 4),
    ]
    assert "--resume" in notes["phases"][1]["command"]
    a, b = _weights(straight), _weights(phased)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_a_later_phase_restarts_the_schedule_and_changes_shares(tmp_path, capsys):
    out = tmp_path / "m"
    common = ["--precision", "fp32", *SMALL, "--validation-examples", "0"]
    train.main(["--out", str(out), "--iterations", "2", "--planned-iterations", "2", *common])
    with pytest.raises(SystemExit):
        train.parse_args(["--out", str(out), "--restart-lr", "1e-4", "--restart-iterations", "2"])
    assert "needs --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.parse_args(["--out", str(out), "--resume", "--point-share", "1.5"])
    train.main(
        ["--out", str(out), "--resume", "--restart-lr", "1e-4", "--restart-iterations", "3"]
        + ["--point-share", "0.8", "--log-every", "1"]
    )
    notes = json.loads((out / "training.json").read_text(encoding="utf-8"))
    phase = notes["phases"][1]
    assert (phase["first_iteration"], phase["last_iteration"]) == (2, 5)
    assert phase["settings_changed"]["point_share"] == [0.35, 0.8]
    assert notes["settings"]["point_share"] == 0.8
    assert notes["lr_restarts"] == [{"from_iteration": 2, "iterations": 3, "lr": 1e-4}]
    # the new schedule warms up from its own start; the first one is kept for earlier iterations
    assert train._scheduled_lr(2e-3, notes, 2) == pytest.approx(1e-4 / 50)
    assert train._scheduled_lr(2e-3, notes, 1) == pytest.approx(2e-3 * 2 / 50)
    with pytest.raises(SystemExit, match="still has"):
        fresh = tmp_path / "n"
        train.main(["--out", str(fresh), "--iterations", "1", "--planned-iterations", "3", *common])
        train.main(
            ["--out", str(fresh), "--resume", "--restart-lr", "1e-4"]
            + ["--restart-iterations", "2"]
        )


def test_default_shares_draw_the_first_prompts_of_earlier_phases():
    from nni_jupyter.demo.simulate import UserSimulator

    simulator = UserSimulator(np.random.default_rng(0), 64)
    assert simulator.first_prompt_odds == [0.35, 0.25, 0.2, 0.2]
    assert simulator.initial_share == 0.5


def test_phases_are_limited(tmp_path):
    with pytest.raises(SystemExit):
        train.parse_args(["--out", str(tmp_path / "m"), "--minutes", "90"])
    with pytest.raises(SystemExit, match="resume file"):
        train.main(["--out", str(tmp_path / "m"), "--resume"])


def test_loss_is_low_for_a_confident_correct_prediction():
    target = torch.zeros(1, 8, 8, 8)
    target[:, 2:6, 2:6, 2:6] = 1
    logits = torch.stack([1 - target, target], 1) * 20 - 10
    good = train.segmentation_loss([logits], target)
    bad = train.segmentation_loss([-logits], target)
    assert good < 0.05 < bad


def test_a_gpu_style_phase_takes_examples_from_workers_and_starts_from_a_model(tmp_path):
    """The phase ``bash bench/gpu.sh train`` runs, on the CPU: from the bundled weights (a new
    record keeping the earlier ones), examples from worker processes, the learning rate over the
    phase's wall time."""
    init = tmp_path / "init"
    train.main(["--out", str(init), "--iterations", "1", *SMALL, "--validation-examples", "0"])
    out = tmp_path / "gpu"
    train.main(
        ["--out", str(out), "--init", str(init), "--state", str(tmp_path / "s" / "r.pt")]
        + ["--workers", "2", "--time-schedule", "--planned-iterations", "1000000"]
        + ["--iterations", "2", "--own-prediction-from", "0", "--device", "cpu", *SMALL]
    )
    notes = json.loads((out / "training.json").read_text(encoding="utf-8"))
    phase = notes["phases"][-1]
    assert (phase["first_iteration"], phase["last_iteration"]) == (0, 2)
    assert phase["example_workers"] == 2 and phase["lr_schedule"] == "phase wall time"
    assert len(set(phase["worker_volume_seeds_from"])) == 2
    assert phase["device"] == "cpu"
    assert notes["init"] == str(init) and notes["previous_training"][-1]["iterations"] == 1
    assert (tmp_path / "s" / "r.pt.workers.pt").is_file()  # the weights the workers predicted with
    assert not any(p.name.endswith(".pt") for p in out.iterdir())  # resume file kept apart
    with pytest.raises(SystemExit):
        train.parse_args(["--out", str(out), "--resume", "--time-schedule"])
