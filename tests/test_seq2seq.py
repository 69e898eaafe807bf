"""An encoder-decoder through the functional API, as in Keras' lstm_seq2seq example, on a toy
task: write a sequence of symbols backwards.

Training uses teacher forcing: ``Model([encoder_inputs, decoder_inputs], decoder_outputs)``, the
decoder LSTM starting from the encoder's final states. Inference builds two more models from the
SAME trained layers, an encoder ``Model(encoder_inputs, encoder_states)`` and a one-step decoder
``Model([decoder_inputs] + state_inputs, [decoder_outputs] + decoder_states)``, and decodes
greedily, one symbol at a time, on sequences never seen in training.
"""

import numpy as np
import pytest

import rnnkit
from rnnkit.layers import GRU, LSTM, Dense, Embedding, Input
from rnnkit.models import Model

SYMBOLS = 6                          # symbols 0..5 (one-hot) or ids 1..6 (Embedding, 0 = padding)
MIN_LENGTH, MAX_LENGTH = 3, 6
DECODER_STEPS = MAX_LENGTH + 1       # the reversed sequence, then the end token


def sequences(train_size, test_size, seed):
    """``train_size`` random sequences of lengths 3..6, and ``test_size`` distinct others, none
    of them in the training set."""
    rng = np.random.default_rng(seed)

    def draw():
        return tuple(rng.integers(0, SYMBOLS, size=rng.integers(MIN_LENGTH, MAX_LENGTH + 1)).tolist())

    train = [draw() for _ in range(train_size)]
    seen, test = set(train), []
    while len(test) < test_size:
        sequence = draw()
        if sequence not in seen:
            seen.add(sequence)
            test.append(sequence)
    return train, test


def exact_accuracy(decoded, targets):
    """The fraction of sequences decoded exactly: every symbol, then the end token."""
    return float(np.mean([list(d) == list(t) for d, t in zip(decoded, targets)]))


# One-hot, as in the Keras example: tokens 0..5 symbols, 6 start, 7 end (also the padding).
START, END, TOKENS = SYMBOLS, SYMBOLS + 1, SYMBOLS + 2


def one_hot_data(seqs):
    n = len(seqs)
    encoder_x = np.zeros((n, MAX_LENGTH, TOKENS), "float32")
    decoder_x = np.zeros((n, DECODER_STEPS, TOKENS), "float32")
    decoder_y = np.zeros((n, DECODER_STEPS, TOKENS), "float32")
    for i, seq in enumerate(seqs):
        target = list(seq[::-1]) + [END] * (DECODER_STEPS - len(seq))
        encoder_x[i, np.arange(MAX_LENGTH), list(seq) + [END] * (MAX_LENGTH - len(seq))] = 1
        decoder_x[i, np.arange(DECODER_STEPS), [START] + target[:-1]] = 1   # shifted by one step
        decoder_y[i, np.arange(DECODER_STEPS), target] = 1
    return encoder_x, decoder_x, decoder_y


UNITS = 64


@pytest.fixture(scope="module")
def lstm_seq2seq():
    rnnkit.utils.set_random_seed(0)
    train, test = sequences(2000, 300, seed=0)
    encoder_x, decoder_x, decoder_y = one_hot_data(train)

    # Training model: the decoder starts from the encoder's final states (teacher forcing).
    encoder_inputs = Input(shape=(None, TOKENS))
    encoder = LSTM(UNITS, return_state=True)
    _, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = Input(shape=(None, TOKENS))
    decoder_lstm = LSTM(UNITS, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = Dense(TOKENS, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit([encoder_x, decoder_x], decoder_y, batch_size=64, epochs=15, verbose=0)

    # Inference models, from the same layers (so the same trained weights).
    encoder_model = Model(encoder_inputs, encoder_states)
    decoder_state_inputs = [Input(shape=(UNITS,)), Input(shape=(UNITS,))]
    decoder_outputs, state_h, state_c = decoder_lstm(decoder_inputs, initial_state=decoder_state_inputs)
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = Model([decoder_inputs] + decoder_state_inputs, [decoder_outputs, state_h, state_c])
    return dict(model=model, history=history, encoder_model=encoder_model, decoder_model=decoder_model,
                layers=(encoder, decoder_lstm, decoder_dense), train=train, test=test)


def greedy_decode_one_hot(encoder_model, decoder_model, seqs):
    """Decode a batch one token at a time, feeding back the most probable token."""
    encoder_x, _, _ = one_hot_data(seqs)
    states = encoder_model.predict(encoder_x, verbose=0)
    token = np.zeros((len(seqs), 1, TOKENS), "float32")
    token[:, 0, START] = 1
    decoded = np.zeros((len(seqs), DECODER_STEPS), int)
    for step in range(DECODER_STEPS):
        probabilities, *states = decoder_model.predict([token] + states, verbose=0)
        assert probabilities.shape == (len(seqs), 1, TOKENS)
        decoded[:, step] = probabilities[:, 0].argmax(axis=-1)
        token = np.zeros_like(token)
        token[np.arange(len(seqs)), 0, decoded[:, step]] = 1
    # Each decoded sequence up to and including its first end token.
    return [list(row[:list(row).index(END) + 1]) if END in row else list(row) for row in decoded]


def test_lstm_encoder_decoder_reverses_held_out_sequences(lstm_seq2seq):
    s = lstm_seq2seq
    loss = s["history"].history["loss"]
    assert set(s["history"].history) == {"loss", "accuracy"} and loss[-1] < 0.1 * loss[0]
    decoded = greedy_decode_one_hot(s["encoder_model"], s["decoder_model"], s["test"])
    targets = [list(seq[::-1]) + [END] for seq in s["test"]]
    assert exact_accuracy(decoded, targets) > 0.9


def test_inference_models_share_the_trained_layers(lstm_seq2seq):
    s = lstm_seq2seq
    encoder, decoder_lstm, decoder_dense = s["layers"]
    assert encoder in s["encoder_model"].layers
    assert decoder_lstm in s["decoder_model"].layers and decoder_dense in s["decoder_model"].layers
    assert encoder not in s["decoder_model"].layers
    # The three models hold the same variables, not copies: 2 LSTMs x 3 + Dense x 2 weights.
    def variables(model):
        return {id(w) for w in model.weights}

    assert len(variables(s["model"])) == 8
    assert variables(s["encoder_model"]) | variables(s["decoder_model"]) == variables(s["model"])
    assert not variables(s["encoder_model"]) & variables(s["decoder_model"])
    assert s["encoder_model"].count_params() + s["decoder_model"].count_params() == s["model"].count_params()


def test_step_by_step_decoder_matches_the_teacher_forced_model(lstm_seq2seq):
    """Fed the true previous tokens one step at a time, carrying its states, the inference
    decoder computes exactly what the training model computes over the whole sequence."""
    s = lstm_seq2seq
    encoder_x, decoder_x, _ = one_hot_data(s["test"][:50])
    whole = s["model"].predict([encoder_x, decoder_x], verbose=0)
    states = s["encoder_model"].predict(encoder_x, verbose=0)
    assert [st.shape for st in states] == [(50, UNITS), (50, UNITS)]
    steps = []
    for t in range(DECODER_STEPS):
        probabilities, *states = s["decoder_model"].predict([decoder_x[:, t:t + 1]] + states, verbose=0)
        steps.append(probabilities[:, 0])
    np.testing.assert_allclose(np.stack(steps, axis=1), whole, rtol=1e-4, atol=1e-6)


def test_gru_encoder_decoder_with_embeddings_and_padding_masks():
    """The same with a GRU (one state) on token ids: Embedding(mask_zero=True) on zero-padded
    sequences, so the encoder's state is the one after each sequence's own last symbol, and the
    padded decoder steps weigh nothing in the loss. Ids: 0 padding, 1..6 symbols, 7 start, 8 end."""
    start, end, vocabulary, units = SYMBOLS + 1, SYMBOLS + 2, SYMBOLS + 3, 64

    def id_data(seqs):
        n = len(seqs)
        encoder_x = np.zeros((n, MAX_LENGTH), "int32")
        decoder_x = np.zeros((n, DECODER_STEPS), "int32")
        decoder_y = np.zeros((n, DECODER_STEPS), "int32")
        for i, seq in enumerate(seqs):
            target = [s + 1 for s in seq[::-1]] + [end]
            encoder_x[i, :len(seq)] = [s + 1 for s in seq]
            decoder_x[i, :len(target)] = [start] + target[:-1]
            decoder_y[i, :len(target)] = target
        return encoder_x, decoder_x, decoder_y

    rnnkit.utils.set_random_seed(1)
    train, test = sequences(2000, 300, seed=1)
    encoder_x, decoder_x, decoder_y = id_data(train)

    encoder_inputs = Input(shape=(None,), dtype="int32")
    _, encoder_state = GRU(units, return_state=True)(Embedding(vocabulary, 16, mask_zero=True)(encoder_inputs))
    decoder_inputs = Input(shape=(None,), dtype="int32")
    decoder_embedding = Embedding(vocabulary, 16, mask_zero=True)
    decoder_gru = GRU(units, return_sequences=True, return_state=True)
    decoder_dense = Dense(vocabulary, activation="softmax")
    decoder_sequence, _ = decoder_gru(decoder_embedding(decoder_inputs), initial_state=[encoder_state])
    model = Model([encoder_inputs, decoder_inputs], decoder_dense(decoder_sequence))
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    history = model.fit([encoder_x, decoder_x], decoder_y, batch_size=64, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]

    encoder_model = Model(encoder_inputs, encoder_state)
    state_input = Input(shape=(units,))
    step_sequence, step_state = decoder_gru(decoder_embedding(decoder_inputs), initial_state=[state_input])
    decoder_model = Model([decoder_inputs, state_input], [decoder_dense(step_sequence), step_state])

    test_encoder_x, _, test_decoder_y = id_data(test)
    state = encoder_model.predict(test_encoder_x, verbose=0)
    assert state.shape == (len(test), units)
    token = np.full((len(test), 1), start, "int32")
    decoded = np.zeros((len(test), DECODER_STEPS), "int32")
    for step in range(DECODER_STEPS):
        probabilities, state = decoder_model.predict([token, state], verbose=0)
        decoded[:, step] = probabilities[:, 0].argmax(axis=-1)
        token = decoded[:, step:step + 1]
    decoded_seqs = [list(row[:list(row).index(end) + 1]) if end in row else list(row) for row in decoded]
    targets = [list(row[row > 0]) for row in test_decoder_y]
    assert exact_accuracy(decoded_seqs, targets) > 0.9
