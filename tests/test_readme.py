"""README.md stays true: its test command is the one CI runs, and its example runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    def joined(text):  # a command continued over lines with backslashes, as one line
        return text.replace("\\\n", "")

    readme = (ROOT / "README.md").read_text()
    command = re.search(r"## Install and test\s+```bash\n(.+?)\n```", readme, flags=re.S).group(1)
    assert joined(command) in joined((ROOT / ".ci" / "run").read_text()).splitlines()


def test_readme_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the example saves a model file
    readme = (ROOT / "README.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", readme, flags=re.S))
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["report"].passed
    assert namespace["torch_kwargs"]["num_layers"] == 2 and "weight_hh_l1_reverse" in namespace["torch_state"]
    assert namespace["twin"].count_params() == 2 * 16 * (3 + 4 + 1) + 2 * 16 * (8 + 4 + 1)
    lstm_inside, gru_inside = namespace["inside"]["LSTM"], namespace["inside"]["GRU"]
    assert lstm_inside.gates["f"].shape == lstm_inside.cell_state.shape == (64, 30, 32)
    assert gru_inside.grad_hidden.shape == (64, 30, 32) and gru_inside.cell_state is None
    assert namespace["r"].output.shape == (32, 50, 64)
    assert 0 <= namespace["accuracy"] <= 1 and (tmp_path / "model.keras").exists()
    assert set(namespace["history"].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    text_loss = namespace["text_history"].history["loss"]
    assert text_loss[-1] < text_loss[0]
    assert set(namespace["tagger_history"].history) == {"loss", "mae"}
    seq2seq_loss = namespace["seq2seq_history"].history["loss"]
    assert len(seq2seq_loss) == 5 and seq2seq_loss[-1] < 0.1 * seq2seq_loss[0]
    assert namespace["reversed_ids"] == [1, 6, 4, 2, 8]  # [2, 4, 6, 1] reversed, then the end token
    seq2seq, encoder_model, decoder_model = (namespace[k] for k in ("seq2seq", "encoder_model", "decoder_model"))
    assert namespace["decoder_lstm"] in seq2seq.layers and namespace["decoder_lstm"] in decoder_model.layers
    assert encoder_model.count_params() + decoder_model.count_params() == seq2seq.count_params()
