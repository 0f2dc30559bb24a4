"""The NumPy engine, shaped like the course's cs231n package: layers (affine), rnn_layers, rnn
(CaptioningRNN), optim, captioning_solver and gradient_check, plus activations and argument checks."""
