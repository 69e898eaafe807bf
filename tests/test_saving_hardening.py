"""Model files under stress: every file `save` writes loads (any optimizer, before or after
compile and training, after pop/add, float64, Sequential and functional); zip bombs, huge
declared shapes and damaged members are refused with one error type, ModelFileError (a
ValueError naming the file), before anything large is inflated or allocated; complex, string
and NaN arrays; and temporary files left by killed saves."""

import io
import json
import os
import struct
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest

from rnnkit import saving
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, concatenate
from rnnkit.models import Model, Sequential, load_model
from rnnkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from rnnkit.saving import ModelFileError

from tracing import traced

MiB = 2**20


def data(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8, 5, 3)).astype(dtype)
    return x, rng.standard_normal((8, 2)).astype(dtype)


def sequential(dtype=None):
    return Sequential([LSTM(4, input_shape=(5, 3), dtype=dtype), Dense(2, dtype=dtype)])


def functional(dtype=None):
    inputs = Input(shape=(5, 3), dtype=dtype)
    a = LSTM(4, dtype=dtype)(inputs)
    b = Bidirectional(GRU(2, dtype=dtype), dtype=dtype)(inputs)
    return Model(inputs, Dense(2, dtype=dtype)(concatenate([a, b])))


OPTIMIZERS = {
    "sgd": lambda: SGD(0.01), "sgd_momentum": lambda: SGD(0.01, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(), "adam_amsgrad": lambda: Adam(amsgrad=True), "adamw": lambda: AdamW(),
    "rmsprop": lambda: RMSprop(), "rmsprop_centered": lambda: RMSprop(momentum=0.5, centered=True),
    "adagrad": lambda: Adagrad(),
}
STAGES = ["built", "compiled", "trained", "popped_and_added", "added_after_training", "replaced_same_name"]


def staged_model(kind, stage, optimizer, dtype):
    model = (sequential if kind == "sequential" else functional)(dtype)
    x, y = data(dtype=np.dtype(dtype or "float32"))
    if stage == "built":
        return model
    model.compile(OPTIMIZERS[optimizer](), "mse")
    if stage == "compiled":
        return model
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    if stage == "popped_and_added":
        model.pop()
        model.add(Dense(2, dtype=dtype))
    elif stage == "added_after_training":
        model.add(Dense(2, dtype=dtype))
    elif stage == "replaced_same_name":  # the optimizer keeps a slot of another shape for 'dense/kernel'
        name = model.pop().name
        model.add(Dense(2, dtype=dtype))
        model.add(Dense(2, name=name, dtype=dtype))
    return model


def case_list():
    cases = []
    for optimizer in OPTIMIZERS:
        for stage in STAGES:
            cases.append(("sequential", stage, optimizer, None))
        cases.append(("sequential", "trained", optimizer, "float64"))
        for stage in ("built", "compiled", "trained"):
            cases.append(("functional", stage, optimizer, None))
        cases.append(("functional", "compiled", optimizer, "float64"))
    return sorted(set(cases), key=str)


@pytest.mark.parametrize("kind,stage,optimizer,dtype", case_list(), ids=lambda v: str(v))
def test_every_file_save_writes_loads_and_resumes(tmp_path, kind, stage, optimizer, dtype):
    model = staged_model(kind, stage, optimizer, dtype)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    x, y = data(1, np.dtype(dtype or "float32"))
    assert [w.dtype for w in loaded.weights] == [w.dtype for w in model.weights]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    if stage == "built":
        assert not loaded.compiled
        return
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.iterations == model.optimizer.iterations
    if stage == "replaced_same_name":
        # The original's optimizer holds a stale slot that no longer fits 'dense/kernel' (so it
        # cannot train); the file leaves it out, and the loaded model trains.
        loaded.train_on_batch(x, y)
        assert loaded.optimizer.iterations == model.optimizer.iterations + 1
        return
    saved_state, loaded_state = model.optimizer.get_state(), loaded.optimizer.get_state()
    paths = {w.path for w in model.weights}
    for key, value in saved_state.items():
        if key in ("iterations", "learning_rate") or key.partition("/")[2] in paths:
            np.testing.assert_array_equal(loaded_state[key], value)
    # One more step on both is the same step: the loaded optimizer resumes where the saved one was.
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_compiled_untrained_adam_model_loads_as_in_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = Sequential([LSTM(4, input_shape=(5, 3)), Dense(2)])
    m.compile("adam", "mse")
    m.save("u.keras")
    loaded = load_model("u.keras")
    assert loaded.optimizer.iterations == 0 and not loaded.optimizer.built
    assert set(loaded.optimizer.get_state()) == {"iterations", "learning_rate"}


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained model's file (Adam state included)."""
    model = Sequential([LSTM(4, input_shape=(5, 3), name="lstm"), Dense(2, name="dense")])
    model.compile("adam", "mse")
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(path)
    return path


def npy(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_header(shape, descr="<f4"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def rewrite(source, target, **replacements):
    """Copies the archive, replacing members (``weights/0000.npy`` as ``weights__0000_npy``);
    a callable gets the old bytes."""
    replacements = {k.replace("__", "/").replace("_npy", ".npy").replace("_json", ".json"): v
                    for k, v in replacements.items()}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            content = old.read(name)
            if name in replacements:
                replacement = replacements[name]
                content = replacement(content) if callable(replacement) else replacement
                if isinstance(content, str):
                    content = content.encode()
            new.writestr(name, content)
    return target


def edit_config(source, target, edit):
    def change(content):
        config = json.loads(content)
        edit(config)
        return json.dumps(config)
    return rewrite(source, target, config_json=change)


def central_entry(raw, name):
    """Offset of the central-directory header of ``name``."""
    position = 0
    while True:
        position = raw.find(b"PK\x01\x02", position)
        assert position >= 0, name
        length = struct.unpack_from("<H", raw, position + 28)[0]
        if raw[position + 46:position + 46 + length] == name.encode():
            return position
        position += 4


def patch_declared_size(source, target, name, size):
    raw = bytearray(source.read_bytes())
    struct.pack_into("<I", raw, central_entry(raw, name) + 24, size)
    target.write_bytes(bytes(raw))
    return target


def corrupt_deflate(source, target, name):
    raw = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        offset = archive.getinfo(name).header_offset
    name_length, extra_length = struct.unpack_from("<HH", raw, offset + 26)
    raw[offset + 30 + name_length + extra_length] = 0xFF  # a deflate block of the reserved type 3
    target.write_bytes(bytes(raw))
    return target


def refused(path, *fragments, loader=load_model):
    with pytest.raises(ModelFileError) as info:
        loader(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert f"'{path}'" in message and info.value.filepath == str(path)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_the_error_type_is_exported_and_documented():
    assert "ModelFileError" in saving.__all__ and issubclass(ModelFileError, ValueError)
    assert "ModelFileError" in saving.__doc__ and "RuntimeWarning" in saving.__doc__


# ----------------------------------------------------------------------------- zip bombs
def bomb(path, member, size, saved=None):
    """An archive whose ``member`` inflates to ``size`` bytes of JSON (written in 1 MiB pieces)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if saved is not None:
            with zipfile.ZipFile(saved) as source:
                for name in source.namelist():
                    if name != member:
                        archive.writestr(name, source.read(name))
        with archive.open(member, "w") as stream:
            stream.write(b"[")
            piece = b" " * MiB
            for _ in range(size // MiB):
                stream.write(piece)
            stream.write(b"]")
    return path


@pytest.mark.parametrize("member", ["metadata.json", "config.json", "weights/index.json"])
def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path, saved, member):
    path = bomb(tmp_path / "bomb.keras", member, 64 * MiB, saved)
    assert path.stat().st_size < MiB
    with traced() as trace:
        message = refused(path, f"'{member}' declares {64 * MiB + 2} bytes, more than the {16 * MiB} allowed")
    assert trace.peak < 4 * MiB, trace.peak
    assert "hostile" in message


def test_a_bomb_whose_declared_size_lies_is_read_only_up_to_the_declared_size(tmp_path, saved):
    path = bomb(tmp_path / "bomb.keras", "config.json", 64 * MiB, saved)
    lying = patch_declared_size(path, tmp_path / "lying.keras", "config.json", 1000)
    with traced() as trace:
        refused(lying, "is damaged: cannot read 'config.json'", "BadZipFile")
    assert trace.peak < 4 * MiB, trace.peak


# ----------------------------------------------------------------------------- allocation before validation
def test_a_header_declaring_8_tib_is_refused_before_anything_is_allocated(tmp_path, saved, monkeypatch):
    huge = npy_header((2**20, 2**21)) + b"\0" * 64  # 8 TiB of float32 declared
    path = rewrite(saved, tmp_path / "huge.keras", weights__0000_npy=huge)
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load must not be used"))
    with traced() as trace:
        refused(path, "cannot read array 0 of 'weights' ('weights/0000.npy'",
                "its header declares shape (1048576, 2097152); expected (3, 16)")
    assert trace.peak < 4 * MiB, trace.peak


def test_an_index_declaring_8_tib_is_refused_before_the_model_is_built(tmp_path, saved):
    def grow(content):
        index = json.loads(content)
        index[0]["shape"] = [2**20, 2**21]
        return json.dumps(index)

    path = rewrite(saved, tmp_path / "huge.keras", weights__index_json=grow)
    refused(path, "'weights/index.json' declares", f"more than the {2**33} rnnkit reads")


def test_a_config_far_larger_than_its_weights_is_refused_before_it_is_built(tmp_path, saved):
    path = edit_config(saved, tmp_path / "units.keras",
                       lambda c: c["config"]["layers"][0]["config"].update(units=10**6))
    with traced() as trace:
        refused(path, "config.json describes a model of at least 4000012000002 parameters",
                "'weights/index.json' lists 138")
    assert trace.peak < 16 * MiB, trace.peak


def test_a_member_larger_than_its_header_implies_is_refused(tmp_path, saved):
    path = rewrite(saved, tmp_path / "long.keras", weights__0004_npy=lambda content: content + b"\0" * 4096)
    refused(path, "cannot read array 4 of 'weights'", "its header implies")


@pytest.mark.parametrize("mutate,fragment", [
    (lambda index: index[1].update(shape=[4, 17]), "weight 1 ('lstm/lstm_cell/recurrent_kernel') has shape (4, 17)"),
    (lambda index: index[1].update(shape=[4, -16]), "has the invalid shape [4, -16]"),
    (lambda index: index[1].update(dtype="complex64"), "has the dtype 'complex64'; expected a real number type"),
    (lambda index: index.pop(), "holds 4 weight arrays; the model has 5"),
])
def test_an_index_that_does_not_fit_the_model_is_refused(tmp_path, saved, mutate, fragment):
    def change(content):
        index = json.loads(content)
        mutate(index)
        return json.dumps(index)

    refused(rewrite(saved, tmp_path / "index.keras", weights__index_json=change), fragment)


# ----------------------------------------------------------------------------- raw exceptions
def test_the_reported_raw_exceptions_all_become_model_file_errors(tmp_path, saved):
    # EOFError: config.json, stored last, declares more bytes than the file holds.
    stored = tmp_path / "stored.keras"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(stored, "w") as target:
        for name in sorted(source.namelist(), key=lambda n: n == "config.json"):
            target.writestr(name, source.read(name))
    raw = bytearray(stored.read_bytes())
    struct.pack_into("<II", raw, central_entry(raw, "config.json") + 20, 10**6, 10**6)
    (tmp_path / "eof.keras").write_bytes(bytes(raw))
    refused(tmp_path / "eof.keras", "is damaged: cannot read 'config.json'", "EOFError")
    # Declared sizes that disagree with the deflated contents, larger or smaller.
    size = zipfile.ZipFile(saved).getinfo("config.json").file_size
    refused(patch_declared_size(saved, tmp_path / "larger.keras", "config.json", size + 100),
            f"'config.json' holds {size} bytes; the archive says {size + 100}")
    refused(patch_declared_size(saved, tmp_path / "smaller.keras", "config.json", size - 100),
            "cannot read 'config.json' (BadZipFile: Bad CRC-32")
    refused(patch_declared_size(saved, tmp_path / "npy.keras", "weights/0001.npy", 1000),
            "cannot read array 1 of 'weights'", "it declares 1000 bytes; its header implies 384")
    # zlib.error: a corrupt deflate stream.
    refused(corrupt_deflate(saved, tmp_path / "zlib.keras", "config.json"),
            "is damaged: cannot read 'config.json'", "error")
    # RecursionError: JSON nested 10**5 deep.
    deep = rewrite(saved, tmp_path / "deep.keras", config_json="[" * 10**5 + "]" * 10**5)
    refused(deep, "is damaged: 'config.json' is nested too deeply")
    # AttributeError in three disguises.
    refused(rewrite(saved, tmp_path / "list.keras", config_json="[1, 2]"), "config.json holds no model config")
    refused(edit_config(saved, tmp_path / "layers.keras", lambda c: c["config"].update(layers="lstm")),
            "cannot load it")
    refused(rewrite(saved, tmp_path / "dict.keras", weights__index_json='{"a": 1}'),
            "'weights/index.json' holds a dict, not a list")
    # KeyError: a layer entry without its config, a compile_config without its optimizer.
    refused(edit_config(saved, tmp_path / "noconfig.keras", lambda c: c["config"]["layers"][0].pop("config")),
            "cannot load it")
    refused(edit_config(saved, tmp_path / "nooptimizer.keras", lambda c: c["compile_config"].pop("optimizer")),
            "cannot load it (KeyError: 'optimizer')")


@pytest.mark.parametrize("name,content,fragment", [
    ("metadata.json", "[]", "is not an rnnkit model file (format None)"),
    ("metadata.json", b"\xff\xfe", "cannot read 'metadata.json'"),
    ("config.json", '{"class_name": 3, "config": {}}', "config.json holds no model config"),
    ("config.json", '{"class_name": "Dense", "config": {"units": 2}}', "holds a 'Dense', which is not a model"),
    ("optimizer/index.json", "[]", "'optimizer/index.json' has no 'iterations' entry"),
    ("optimizer/index.json", "[[]]", "entry 0 of 'optimizer/index.json' is a list, not a dict"),
    ("optimizer/0000.npy", npy(np.array(1.5)), "'iterations'): it holds values of dtype float64; expected integers"),
    ("optimizer/0001.npy", npy(np.array(7)), "'learning_rate'): it holds values of dtype int64; expected real"),
    ("optimizer/0002.npy", npy(np.zeros(3, np.float32)), "its header declares shape (3,); expected (2,)"),
    ("weights/0000.npy", b"garbage", "cannot read 'weights/0000.npy'"),
    ("weights/0000.npy", npy(np.zeros((3, 16), ">f8")), "it holds >f8 values; its index says float32"),
])
def test_damaged_members_are_refused_with_the_member_named(tmp_path, saved, name, content, fragment):
    key = name.replace("/", "__").replace(".npy", "_npy").replace(".json", "_json")
    refused(rewrite(saved, tmp_path / "damaged.keras", **{key: content}), fragment)


def test_foreign_optimizer_entries_are_refused_before_they_are_read(tmp_path, saved):
    def change(content):
        index = json.loads(content)
        index[2]["name"] = "gradient_of_doom/dense/bias"
        return json.dumps(index)

    refused(rewrite(saved, tmp_path / "slot.keras", optimizer__index_json=change),
            "optimizer entry 'gradient_of_doom/dense/bias' is not a slot of Adam")


def test_a_missing_file_is_still_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.keras")
    with pytest.raises(FileNotFoundError):
        sequential().load_weights(tmp_path / "absent.weights.npz")


def test_load_weights_refuses_damaged_files_with_the_same_error(tmp_path, saved):
    model = sequential()
    before = model.get_weights()
    path = corrupt_deflate(saved, tmp_path / "zlib.keras", "weights/0003.npy")
    refused(path, "cannot read 'weights/0003.npy'", loader=model.load_weights)
    for a, b in zip(model.get_weights(), before):  # nothing was assigned
        np.testing.assert_array_equal(a, b)
    model.load_weights(saved)  # a model file's weights load too


# ----------------------------------------------------------------------------- silent acceptance
def test_complex_weights_are_refused_not_truncated(tmp_path, saved):
    path = rewrite(saved, tmp_path / "complex.keras", weights__0002_npy=npy(np.ones(16, np.complex64) * 1j))
    refused(path, "cannot read array 2 of 'weights' ('weights/0002.npy', 'lstm/lstm_cell/bias')",
            "it holds values of dtype complex64; expected real floating-point numbers")


def test_string_weights_are_refused_naming_file_and_member(tmp_path, saved):
    path = rewrite(saved, tmp_path / "strings.keras", weights__0003_npy=npy(np.array([["a"] * 2] * 4)))
    refused(path, "('weights/0003.npy', 'dense/kernel')", "it holds values of dtype <U1; expected real")


def test_object_weights_are_refused_never_unpickled(tmp_path, saved):
    path = rewrite(saved, tmp_path / "pickle.keras", weights__0000_npy=npy(np.array([None] * 48, dtype=object)
                                                                           .reshape(3, 16), allow_pickle=True))
    refused(path, "it holds values of dtype object")


def test_nan_weights_load_with_a_warning_naming_file_and_weight(tmp_path, saved):
    def poison(content):
        array = np.load(io.BytesIO(content))
        array[0, 1] = np.nan
        array[1, 1] = np.inf
        return npy(array)

    path = rewrite(saved, tmp_path / "nan.keras", weights__0003_npy=poison)
    with pytest.warns(RuntimeWarning) as caught:
        model = load_model(path)
    messages = [str(w.message) for w in caught]
    assert any(f"'{path}'" in m and "'dense/kernel'" in m and "2 NaN or infinite" in m for m in messages), messages
    assert np.isnan(model.layers[-1].kernel.value[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(saved)  # a clean file loads without warnings


def test_loading_never_calls_np_load(saved, monkeypatch):
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load must not be used"))
    assert load_model(saved).optimizer.iterations == 2


# ----------------------------------------------------------------------------- temporary files
def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.skipif(os.name == "nt", reason="process ids are not checked on Windows")
def test_temporary_files_of_killed_saves_are_removed_and_running_ones_kept(tmp_path):
    host = saving._HOST
    old = time.time() - 2 * 3600
    files = {
        f".rnnkit-{host}-{dead_pid()}-abcd_123.tmp": ("fresh", False),        # its writer was killed
        f".rnnkit-{host}-{os.getpid()}-live0000.tmp": ("fresh", True),         # a save running now
        f".rnnkit-{host}-{os.getpid()}-oldlive0.tmp": ("old", False),          # an hour untouched
        f".rnnkit-0badc0de-{dead_pid()}-otherhst.tmp": ("fresh", True),       # another host's save
        f".rnnkit-0badc0de-{dead_pid()}-otherold.tmp": ("old", False),
        ".rnnkit-q1w2e3r4.tmp": ("fresh", True),                               # an older rnnkit's, recent
        ".rnnkit-z9x8c7v6.tmp": ("old", False),                                # an older rnnkit's, stale
        ".rnnkit-notours.tmp.keep": ("old", True),                             # other patterns are kept
        "model.tmp": ("old", True),
        ".rnnkit-toolongname1.tmp": ("old", True),
    }
    for name, (age, _) in files.items():
        (tmp_path / name).write_bytes(b"partial")
        if age == "old":
            os.utime(tmp_path / name, (old, old))
    sequential().save(tmp_path / "model.keras")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"model.keras"} | {name for name, (_, kept) in files.items() if kept}
    load_model(tmp_path / "model.keras")


def test_the_temporary_file_names_its_host_and_process(tmp_path, monkeypatch):
    seen = []
    replace = os.replace
    monkeypatch.setattr(saving.os, "replace", lambda a, b: (seen.append(os.path.basename(a)), replace(a, b)))
    sequential().save(tmp_path / "model.keras")
    match = saving._TEMPORARY.fullmatch(seen[0])
    assert match and match["pid"] == str(os.getpid()) and match["host"] == saving._HOST


# ----------------------------------------------------------------------------- older and unusual files
def test_fortran_ordered_arrays_load_in_their_order(tmp_path, saved):
    def to_fortran(content):
        return npy(np.asfortranarray(np.load(io.BytesIO(content))))

    path = rewrite(saved, tmp_path / "fortran.keras", weights__0000_npy=to_fortran)
    with zipfile.ZipFile(path) as archive:
        stream = io.BytesIO(archive.read("weights/0000.npy"))
    np.lib.format.read_magic(stream)
    assert np.lib.format.read_array_header_1_0(stream)[1]  # fortran_order
    np.testing.assert_array_equal(load_model(path).get_weights()[0], load_model(saved).get_weights()[0])


def test_optimizer_slots_of_layers_no_longer_in_the_model_are_skipped(tmp_path, saved):
    # Files written before slots of removed layers were left out still load.
    with zipfile.ZipFile(saved) as archive:
        index = json.loads(archive.read("optimizer/index.json"))
    index.append({"name": "momentum/gone/kernel", "shape": [9, 9], "dtype": "float32"})
    member = f"optimizer/{len(index) - 1:04d}.npy"
    path = rewrite(saved, tmp_path / "stale.keras", optimizer__index_json=json.dumps(index))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(member, npy(np.ones((9, 9), np.float32)))
    loaded = load_model(path)
    assert loaded.optimizer.iterations == 2 and "momentum/gone/kernel" not in loaded.optimizer.get_state()


def test_loading_takes_about_the_size_of_the_weights_once(tmp_path):
    """Each array is read into its variable (none is drawn by an initializer first, and none
    is held twice), so a load peaks near the weights' size (it used to take more than twice
    it): here 16 MiB of Embedding rows,
    and an LSTM whose orthogonal recurrent kernel would need a QR decomposition to draw."""
    model = Sequential([Input((5,), dtype="int32"), Embedding(2**18, 16), LSTM(64), Dense(2)])
    path = tmp_path / "large.keras"
    model.save(path)
    weight_bytes = sum(w.nbytes for w in model.get_weights())
    assert weight_bytes > 16 * MiB
    with traced() as trace:
        loaded = load_model(path, compile=False)
    assert trace.peak < weight_bytes + 8 * MiB, (trace.peak, weight_bytes)  # plus a few read chunks
    for saved_weight, loaded_weight in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(saved_weight, loaded_weight)
